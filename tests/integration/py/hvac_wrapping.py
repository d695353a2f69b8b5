"""Response wrapping through hvac (2.4.0), unchanged: client.sys.wrap / unwrap, wrapped reads and token creation,
lookup and rewrap through client.adapter. The server's address comes from HVAC_TEST_ADDR; the server must be
uninitialized. Prints a JSON list of steps: {"step", "shape": sorted keys (with wrap_info/data/auth members)}
or {"step", "raised": exception class, "errors": [...]}, plus "value" where the test checks content.
"""

import json
import os

import hvac
from hvac import exceptions

ADDR = os.environ["HVAC_TEST_ADDR"]
steps = []


def shape(body):
    keys = sorted(body.keys())
    for member in ("wrap_info", "data", "auth"):
        if isinstance(body.get(member), dict):
            keys += sorted(f"{member}.{k}" for k in body[member])
    return keys


def step(name, call, value=None):
    try:
        body = call()
        if hasattr(body, "json"):
            body = body.json()
        record = {"step": name, "shape": shape(body)}
        if value:
            record["value"] = value(body)
        steps.append(record)
        return body
    except exceptions.VaultError as e:
        steps.append({"step": name, "raised": type(e).__name__, "errors": e.errors})
        return None


client = hvac.Client(url=ADDR)
init = client.sys.initialize(secret_shares=1, secret_threshold=1)
client.sys.submit_unseal_key(init["keys"][0])
client.token = init["root_token"]

wrapped = step("sys.wrap", lambda: client.sys.wrap(payload={"a": "b"}, ttl=300),
               lambda b: {"ttl": b["wrap_info"]["ttl"], "path": b["wrap_info"]["creation_path"]})
first = wrapped["wrap_info"]["token"]
step("lookup through the adapter", lambda: client.adapter.post("/v1/sys/wrapping/lookup", json={"token": first}),
     lambda b: b["data"]["creation_ttl"])
rewrapped = step("rewrap through the adapter", lambda: client.adapter.post("/v1/sys/wrapping/rewrap", json={"token": first}),
                 lambda b: b["wrap_info"]["ttl"])
second = rewrapped["wrap_info"]["token"]
step("unwrap the rewrapped-away token", lambda: client.sys.unwrap(token=first))
step("sys.unwrap", lambda: client.sys.unwrap(token=second), lambda b: b["data"])
step("sys.unwrap again", lambda: client.sys.unwrap(token=second))
read = step("wrapped read through the adapter",
            lambda: client.adapter.get("/v1/sys/policy/default", headers={"X-Vault-Wrap-TTL": "60"}),
            lambda b: b["wrap_info"]["creation_path"])
step("unwrap the wrapped read", lambda: client.sys.unwrap(token=read["wrap_info"]["token"]),
     lambda b: b["data"]["name"])
created = step("auth.token.create wrapped", lambda: client.auth.token.create(policies=["default"], wrap_ttl="60s"),
               lambda b: b["wrap_info"]["creation_path"])
holder = hvac.Client(url=ADDR, token=created["wrap_info"]["token"])
step("unwrap with the wrapping token as client token", lambda: holder.sys.unwrap(),
     lambda b: b["auth"]["accessor"] == created["wrap_info"]["wrapped_accessor"])
print(json.dumps(steps))
