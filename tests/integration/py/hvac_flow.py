"""Everyday hvac (2.4.0) calls against one server, start to finish: init, unseal, health, leader, seal, errors.

The server's address comes from HVAC_TEST_ADDR. Prints one JSON document on stdout: a list of steps, each
{"step": name, "result": ...} or {"step": name, "raised": exception class, "message": ..., "errors": [...]}.
Responses that hvac hands back as `requests.Response` (anything but a 200 with JSON) become
{"http_status": code, "json": body or null}.
"""

import json
import os
import sys

import hvac
import requests
from hvac import exceptions

ADDR = os.environ["HVAC_TEST_ADDR"]
steps = []


def plain(value):
    if isinstance(value, requests.Response):
        try:
            body = value.json() if value.content else None
        except ValueError:
            body = {"<non-JSON body>": value.text}
        return {"http_status": value.status_code, "json": body}
    return value


def step(name, call):
    try:
        result = plain(call())
        steps.append({"step": name, "result": result})
        return result
    except exceptions.VaultError as e:
        steps.append(
            {
                "step": name,
                "raised": type(e).__name__,
                "message": e.args[0] if e.args else None,
                "errors": e.errors,
                "method": (e.method or "").upper(),
                "path": (e.url or "").replace(ADDR, ""),
            }
        )
        return None


anonymous = hvac.Client(url=ADDR, token=None)
anonymous.token = None  # never pick up VAULT_TOKEN or ~/.vault-token

step("is_initialized before init", anonymous.sys.is_initialized)
step("read_init_status before init", anonymous.sys.read_init_status)
step("read_seal_status before init", anonymous.sys.read_seal_status)
step("read_health_status GET before init", lambda: anonymous.sys.read_health_status(method="GET"))
step("submit_unseal_key before init", lambda: anonymous.sys.submit_unseal_key("abcd"))
step(
    "initialize with threshold > shares",
    lambda: anonymous.sys.initialize(secret_shares=3, secret_threshold=4),
)
step("initialize with 0 shares", lambda: anonymous.sys.initialize(secret_shares=0, secret_threshold=1))
init = step("initialize 3/2", lambda: anonymous.sys.initialize(secret_shares=3, secret_threshold=2))
if not isinstance(init, dict) or "keys" not in init:
    print(json.dumps(steps))
    sys.exit(0)
keys, keys_b64, root = init["keys"], init["keys_base64"], init["root_token"]
step("initialize twice", lambda: anonymous.sys.initialize(secret_shares=3, secret_threshold=2))
step("is_initialized after init", anonymous.sys.is_initialized)
step("is_sealed after init", anonymous.sys.is_sealed)
step("read_seal_status sealed", anonymous.sys.read_seal_status)
step("read_health_status GET sealed", lambda: anonymous.sys.read_health_status(method="GET"))
step("read_health_status HEAD sealed", lambda: anonymous.sys.read_health_status())
step(
    "read_health_status GET sealed_code=299",
    lambda: anonymous.sys.read_health_status(method="GET", sealed_code=299),
)
step("read_leader_status sealed", anonymous.sys.read_leader_status)
step("submit_unseal_key bad key", lambda: anonymous.sys.submit_unseal_key("zz"))
step("submit_unseal_key short key", lambda: anonymous.sys.submit_unseal_key("abcd"))
step("submit_unseal_key share 1", lambda: anonymous.sys.submit_unseal_key(keys[0]))
step("submit_unseal_key share 1 again", lambda: anonymous.sys.submit_unseal_key(keys[0]))
step("read_seal_status in progress", anonymous.sys.read_seal_status)
step("submit_unseal_key reset", lambda: anonymous.sys.submit_unseal_key(reset=True))
step("submit_unseal_key without key", lambda: anonymous.sys.submit_unseal_key())
step("submit_unseal_keys base64", lambda: anonymous.sys.submit_unseal_keys(keys_b64))
step("is_sealed after unseal", anonymous.sys.is_sealed)
step("read_seal_status unsealed", anonymous.sys.read_seal_status)
step("read_health_status GET unsealed", lambda: anonymous.sys.read_health_status(method="GET"))
step("read_health_status HEAD unsealed", lambda: anonymous.sys.read_health_status())
step(
    "read_health_status GET active_code=299",
    lambda: anonymous.sys.read_health_status(method="GET", active_code=299),
)
step("read_leader_status unsealed", anonymous.sys.read_leader_status)
step("seal without a token", anonymous.sys.seal)
bogus = hvac.Client(url=ADDR, token="not-a-token")
step("seal with an unknown token", bogus.sys.seal)
step("read unknown path without a token", lambda: anonymous.adapter.get("/v1/nope"))
rooted = hvac.Client(url=ADDR, token=root)
step("read unknown path with root", lambda: rooted.adapter.get("/v1/nope"))
step("client.read unknown path with root", lambda: rooted.read("nope"))
step("is_authenticated with root", rooted.is_authenticated)
step("is_authenticated with an unknown token", bogus.is_authenticated)
created = step(
    "token create",
    lambda: rooted.auth.token.create(policies=["default"], ttl="1h", meta={"team": "a"}),
)
child = hvac.Client(url=ADDR, token=created["auth"]["client_token"] if isinstance(created, dict) else "none")
step("token lookup_self as the child", child.auth.token.lookup_self)
step("token lookup of the child as root", lambda: rooted.auth.token.lookup(child.token))
step("token renew_self as the child", lambda: child.auth.token.renew_self(increment="30m"))
step("child seals", child.sys.seal)
step("token revoke of the child as root", lambda: rooted.auth.token.revoke(child.token))
step("token lookup_self as the revoked child", child.auth.token.lookup_self)


def auth_methods_summary():
    # uuids and accessors are each server's own: keep the paths, types and settings.
    listed = rooted.sys.list_auth_methods()
    return {
        path: {"type": m["type"], "description": m["description"], "config": m["config"], "options": m["options"]}
        for path, m in listed["data"].items()
    }


step("list_auth_methods", auth_methods_summary)
step("enable_auth_method of an unknown type", lambda: rooted.sys.enable_auth_method("nope", path="people"))
step("tune_auth_method token", lambda: rooted.sys.tune_auth_method("token", default_lease_ttl="1h"))
step("read_auth_method_tuning token", lambda: rooted.sys.read_auth_method_tuning("token")["data"])
step("disable_auth_method token", lambda: rooted.sys.disable_auth_method("token"))
step("list_auth_methods after the tune", auth_methods_summary)
step("is_sealed before seal", rooted.sys.is_sealed)
step("seal with root", rooted.sys.seal)
step("is_sealed after seal", rooted.sys.is_sealed)
step("seal with root while sealed", rooted.sys.seal)
step("read unknown path while sealed", lambda: rooted.adapter.get("/v1/nope"))
step("submit_unseal_keys hex", lambda: anonymous.sys.submit_unseal_keys(keys[1:]))
step("is_sealed after second unseal", anonymous.sys.is_sealed)

print(json.dumps(steps))
