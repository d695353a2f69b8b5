"""AppRole through hvac (2.4.0), unchanged: client.auth.approle.* (roles, role IDs, secret IDs generated, custom,
wrapped, looked up and destroyed, by value and by accessor, login). The server's address comes from HVAC_TEST_ADDR;
the server must be uninitialized. Prints the JSON list of steps `hvac_steps` records.
"""

import json
import os

import hvac

from hvac_steps import step, steps, unsealed_client

ADDR = os.environ["HVAC_TEST_ADDR"]
client = unsealed_client(ADDR)
approle = client.auth.approle

client.sys.enable_auth_method(method_type="approle")
step("create_or_update_approle", lambda: approle.create_or_update_approle(
    "app", token_policies=["app"], token_ttl="1h", secret_id_num_uses=5, secret_id_ttl="10m"))
step("read_role", lambda: approle.read_role("app"),
     lambda b: {k: b["data"][k] for k in ("token_policies", "token_ttl", "secret_id_num_uses", "secret_id_ttl")})
step("list_roles", lambda: approle.list_roles(), lambda b: b["data"]["keys"])
step("update_role_id", lambda: approle.update_role_id("app", "app-role-id"))
step("read_role_id", lambda: approle.read_role_id("app"), lambda b: b["data"]["role_id"])
generated = step("generate_secret_id", lambda: approle.generate_secret_id("app", metadata={"team": "a"}),
                 lambda b: {"num_uses": b["data"]["secret_id_num_uses"], "ttl": b["data"]["secret_id_ttl"]})
secret_id = generated["data"]["secret_id"]
accessor = generated["data"]["secret_id_accessor"]
step("read_secret_id", lambda: approle.read_secret_id("app", secret_id), lambda b: b["data"]["metadata"])
step("read_secret_id_accessor", lambda: approle.read_secret_id_accessor("app", accessor),
     lambda b: b["data"]["secret_id_num_uses"])
step("list_secret_id_accessors", lambda: approle.list_secret_id_accessors("app"),
     lambda b: b["data"]["keys"] == [accessor])
step("login", lambda: approle.login("app-role-id", secret_id, use_token=False),
     lambda b: {"policies": b["auth"]["policies"], "ttl": b["auth"]["lease_duration"],
                "metadata": b["auth"]["metadata"]})
step("uses left", lambda: approle.read_secret_id("app", secret_id), lambda b: b["data"]["secret_id_num_uses"])
step("login with a wrong secret id", lambda: approle.login("app-role-id", "nope", use_token=False))
step("create_custom_secret_id", lambda: approle.create_custom_secret_id("app", "custom-secret"),
     lambda b: b["data"]["secret_id"])
step("login with the custom one", lambda: approle.login("app-role-id", "custom-secret", use_token=False),
     lambda b: b["auth"]["metadata"])
wrapped = step("generate_secret_id wrapped", lambda: approle.generate_secret_id("app", wrap_ttl="60s"),
               lambda b: b["wrap_info"]["creation_path"])
holder = hvac.Client(url=ADDR, token=wrapped["wrap_info"]["token"])
unwrapped = step("unwrap it", lambda: holder.sys.unwrap(),
                 lambda b: b["data"]["secret_id_accessor"] == wrapped["wrap_info"]["wrapped_accessor"])
step("login with the unwrapped one", lambda: approle.login("app-role-id", unwrapped["data"]["secret_id"],
                                                           use_token=False),
     lambda b: b["auth"]["token_policies"])
step("destroy_secret_id", lambda: approle.destroy_secret_id("app", secret_id))
step("destroy_secret_id_accessor", lambda: approle.destroy_secret_id_accessor(
    "app", unwrapped["data"]["secret_id_accessor"]))
step("login with a destroyed one", lambda: approle.login("app-role-id", secret_id, use_token=False))
step("read_role of a missing role", lambda: approle.read_role("missing"))
step("generate for a missing role", lambda: approle.generate_secret_id("missing"))
step("delete_role", lambda: approle.delete_role("app"))
step("list_roles when empty", lambda: approle.list_roles())
print(json.dumps(steps))
