"""What the hvac scripts share: a client on a freshly initialized and unsealed server, and `step`, which runs one hvac
call and records it: {"step", "shape": sorted keys (with wrap_info/data/auth members)} or {"step", "raised":
exception class, "errors": [...]}, plus "value" where the test checks content. `steps` holds the records; a script
prints them as JSON at its end.
"""

import hvac
from hvac import exceptions

steps = []


def shape(body):
    if body is None or not hasattr(body, "keys"):
        return body if body is None else str(type(body).__name__)
    keys = sorted(body.keys())
    for member in ("wrap_info", "data", "auth"):
        if isinstance(body.get(member), dict):
            keys += sorted(f"{member}.{k}" for k in body[member])
    return keys


def step(name, call, value=None):
    try:
        body = call()
        if hasattr(body, "status_code"):
            body = body.json() if body.status_code != 204 else None
        record = {"step": name, "shape": shape(body)}
        if value:
            record["value"] = value(body)
        steps.append(record)
        return body
    except exceptions.VaultError as e:
        steps.append({"step": name, "raised": type(e).__name__, "errors": e.errors})
        return None


def unsealed_client(addr):
    """Initialize (one share) and unseal the server at `addr`; a client holding the root token."""
    client = hvac.Client(url=addr)
    init = client.sys.initialize(secret_shares=1, secret_threshold=1)
    client.sys.submit_unseal_key(init["keys"][0])
    client.token = init["root_token"]
    return client
