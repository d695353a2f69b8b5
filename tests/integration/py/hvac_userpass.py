"""userpass through hvac (2.4.0), unchanged: client.auth.userpass.* (users created, read, listed, password changed,
deleted; logins right and wrong, and a user locked out). The server's address comes from HVAC_TEST_ADDR;
the server must be uninitialized. Prints a JSON list of steps: {"step", "shape": sorted keys (with wrap_info/data/auth
members)} or {"step", "raised": exception class, "errors": [...]}, plus "value" where the test checks content.
"""

import json
import os

import hvac
from hvac import exceptions

ADDR = os.environ["HVAC_TEST_ADDR"]
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



client = hvac.Client(url=ADDR)
init = client.sys.initialize(secret_shares=1, secret_threshold=1)
client.sys.submit_unseal_key(init["keys"][0])
client.token = init["root_token"]
userpass = client.auth.userpass

client.sys.enable_auth_method(method_type="userpass")
step("create_or_update_user", lambda: userpass.create_or_update_user(
    "Alice", password="s3cret", policies=["reader"], token_ttl="1h"))
step("read_user", lambda: userpass.read_user("alice"),
     lambda b: {k: b["data"][k] for k in ("token_policies", "token_ttl", "policies")})
step("list_user", lambda: userpass.list_user(), lambda b: b["data"]["keys"])
step("login", lambda: userpass.login("alice", "s3cret", use_token=False),
     lambda b: {"policies": b["auth"]["policies"], "ttl": b["auth"]["lease_duration"],
                "metadata": b["auth"]["metadata"], "type": b["auth"]["token_type"]})
step("login with a wrong password", lambda: userpass.login("alice", "nope", use_token=False))
step("login as nobody", lambda: userpass.login("nobody", "s3cret", use_token=False))
step("update_password_on_user", lambda: userpass.update_password_on_user("alice", "n3w"))
step("the old password", lambda: userpass.login("alice", "s3cret", use_token=False))
step("the new password", lambda: userpass.login("alice", "n3w", use_token=False), lambda b: b["auth"]["policies"])
for attempt in range(5):
    step(f"wrong password {attempt + 1}", lambda: userpass.login("alice", "nope", use_token=False))
step("locked out", lambda: userpass.login("alice", "n3w", use_token=False))
step("delete_user", lambda: userpass.delete_user("alice"))
step("read_user after delete", lambda: userpass.read_user("alice"))
step("list_user when empty", lambda: userpass.list_user())
print(json.dumps(steps))
