"""userpass through hvac (2.4.0), unchanged: client.auth.userpass.* (users created, read, listed, password changed,
deleted; logins right and wrong, and a user locked out). The server's address comes from HVAC_TEST_ADDR;
the server must be uninitialized. Prints the JSON list of steps `hvac_steps` records.
"""

import json
import os


from hvac_steps import step, steps, unsealed_client

ADDR = os.environ["HVAC_TEST_ADDR"]
client = unsealed_client(ADDR)
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
