"""Snapshots through hvac (2.4.0), unchanged: client.sys.take_raft_snapshot / restore_raft_snapshot /
force_restore_raft_snapshot against an uninitialized server at HVAC_TEST_ADDR. Prints a JSON object of what the
test checks.
"""

import json
import os

import hvac

ADDR = os.environ["HVAC_TEST_ADDR"]
out = {}

client = hvac.Client(url=ADDR)
init = client.sys.initialize(secret_shares=1, secret_threshold=1)
client.token = init["root_token"]
client.sys.submit_unseal_key(init["keys"][0])
client.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
client.secrets.kv.v2.create_or_update_secret(path="app", secret={"v": "1"}, mount_point="kv")

snapshot = client.sys.take_raft_snapshot()
out["save_status"] = snapshot.status_code
out["save_is_gzip"] = snapshot.content[:2] == b"\x1f\x8b"

client.secrets.kv.v2.create_or_update_secret(path="app", secret={"v": "2"}, mount_point="kv")
restored = client.sys.restore_raft_snapshot(snapshot.content)
out["restore_status"] = restored.status_code
out["after_restore"] = client.secrets.kv.v2.read_secret_version(path="app", mount_point="kv")["data"]["data"]

client.secrets.kv.v2.create_or_update_secret(path="app", secret={"v": "3"}, mount_point="kv")
forced = client.sys.force_restore_raft_snapshot(snapshot.content)
out["force_status"] = forced.status_code
out["after_force"] = client.secrets.kv.v2.read_secret_version(path="app", mount_point="kv")["data"]["data"]

try:
    client.sys.restore_raft_snapshot(snapshot.content[: len(snapshot.content) // 2])
    out["truncated"] = "accepted"
except hvac.exceptions.VaultError as e:
    out["truncated"] = {"raised": type(e).__name__, "errors": e.errors}

print(json.dumps(out))
