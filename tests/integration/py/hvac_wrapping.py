"""Response wrapping through hvac (2.4.0), unchanged: client.sys.wrap / unwrap, wrapped reads and token creation,
lookup and rewrap through client.adapter. The server's address comes from HVAC_TEST_ADDR; the server must be
uninitialized. Prints the JSON list of steps `hvac_steps` records.
"""

import json
import os

import hvac

from hvac_steps import step, steps, unsealed_client

ADDR = os.environ["HVAC_TEST_ADDR"]
client = unsealed_client(ADDR)

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
