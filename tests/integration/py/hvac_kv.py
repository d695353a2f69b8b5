"""hvac (2.4.0) secrets-engine calls against one server: mounts (enable, list, read, tune, move, disable), K/V
version 2 (secrets.kv.v2: write, read, patch, versions, metadata, config, delete/undelete/destroy, lists; subkeys
through the generic read),
K/V version 1 (secrets.kv.v1) and errors.

The server's address comes from HVAC_TEST_ADDR. The script initializes and unseals the server itself. Prints one
JSON document on stdout: a list of steps, each {"step": name, "result": ...} or {"step": name, "raised": exception
class, "message": ..., "errors": [...], "method": ..., "path": ...}. Responses that hvac hands back as
`requests.Response` become {"http_status": code, "json": body or null}.
"""

import json
import os
import sys
import time

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


def settled(call, transient):
    """OpenBao finishes a K/V upgrade and a mount move in the background: retry `call` (10 s at most) while it fails
    with an error containing `transient`, so what is compared is the settled answer (ours settles at once)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return call()
        except exceptions.VaultError as e:
            if transient not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def step(name, call):
    try:
        result = plain(call())
        steps.append({"step": name, "result": result})
        return result
    except exceptions.VaultError as e:
        message = e.args[0] if e.args else None
        try:
            # A 404 with a body (a deleted version) carries the whole response as its message.
            message = json.loads(message)
        except (TypeError, ValueError):
            pass
        steps.append(
            {
                "step": name,
                "raised": type(e).__name__,
                "message": message,
                "errors": e.errors,
                "method": (e.method or "").upper(),
                "path": (e.url or "").replace(ADDR, ""),
            }
        )
        return None


anonymous = hvac.Client(url=ADDR, token=None)
anonymous.token = None
init = anonymous.sys.initialize(secret_shares=1, secret_threshold=1)
anonymous.sys.submit_unseal_keys(init["keys"])
client = hvac.Client(url=ADDR, token=init["root_token"])
sys_ = client.sys
v2 = client.secrets.kv.v2
v1 = client.secrets.kv.v1

# Mounts.
step("enable kv-v2", lambda: sys_.enable_secrets_engine("kv", path="secret", options={"version": "2"}))
step("enable kv-v1", lambda: sys_.enable_secrets_engine("kv", path="kv1", description="first", options={"version": "1"}))
step("enable again", lambda: sys_.enable_secrets_engine("kv", path="secret"))
step("enable unknown", lambda: sys_.enable_secrets_engine("nope", path="x"))
step("list mounts", sys_.list_mounted_secrets_engines)
step("read mount", lambda: sys_.read_mount_configuration("kv1"))
step("tune", lambda: sys_.tune_mount_configuration("kv1", default_lease_ttl="1h", description="tuned"))
step("read tuned", lambda: sys_.read_mount_configuration("kv1"))
step("tune bad ttl", lambda: sys_.tune_mount_configuration("kv1", default_lease_ttl="soon"))

# K/V version 2.
step("v2 configure", lambda: v2.configure(max_versions=5, cas_required=False))
step("v2 read configuration", v2.read_configuration)
step("v2 read missing", lambda: v2.read_secret_version("app", raise_on_deleted_version=True))
step("v2 create", lambda: v2.create_or_update_secret("app", secret={"user": "a", "n": 1}))
step("v2 update", lambda: v2.create_or_update_secret("app", secret={"user": "b"}))
step("v2 cas mismatch", lambda: v2.create_or_update_secret("app", secret={"x": 1}, cas=1))
step("v2 cas match", lambda: v2.create_or_update_secret("app", secret={"user": "c"}, cas=2))
step("v2 read latest", lambda: v2.read_secret_version("app", raise_on_deleted_version=True))
step("v2 read version 1", lambda: v2.read_secret_version("app", version=1, raise_on_deleted_version=True))
step("v2 read", lambda: v2.read_secret("app"))
step("v2 patch", lambda: v2.patch("app", secret={"extra": True}))
step("v2 read after patch", lambda: v2.read_secret_version("app", raise_on_deleted_version=True))
step("v2 subkeys (generic read)", lambda: client.read("secret/subkeys/app"))
step("v2 read metadata", lambda: v2.read_secret_metadata("app"))
step(
    "v2 update metadata",
    lambda: v2.update_metadata("app", max_versions=3, custom_metadata={"owner": "ops"}),
)
step("v2 update metadata again", lambda: v2.update_metadata("app", custom_metadata={"team": "x"}, cas_required=False))
step("v2 read metadata after", lambda: v2.read_secret_metadata("app"))
step("v2 delete latest", lambda: v2.delete_latest_version_of_secret("app"))
step("v2 read deleted", lambda: v2.read_secret_version("app", raise_on_deleted_version=True))
step("v2 read deleted quietly", lambda: v2.read_secret_version("app", raise_on_deleted_version=False))
step("v2 undelete", lambda: v2.undelete_secret_versions("app", versions=[4]))
step("v2 delete versions", lambda: v2.delete_secret_versions("app", versions=[1, 2]))
step("v2 destroy", lambda: v2.destroy_secret_versions("app", versions=[1]))
step("v2 read destroyed", lambda: v2.read_secret_version("app", version=1, raise_on_deleted_version=True))
step("v2 create in a folder", lambda: v2.create_or_update_secret("dir/inner", secret={"a": 1}))
step("v2 list", lambda: v2.list_secrets(""))
step("v2 list folder", lambda: v2.list_secrets("dir"))
step("v2 list missing", lambda: v2.list_secrets("nope"))
step("v2 delete metadata", lambda: v2.delete_metadata_and_all_versions("app"))
step("v2 read after metadata delete", lambda: v2.read_secret_version("app", raise_on_deleted_version=True))
step("v2 empty secret", lambda: v2.create_or_update_secret("app", secret="x"))

# K/V version 1.
step("v1 create", lambda: v1.create_or_update_secret("foo", secret={"a": "b", "ttl": "30m"}, mount_point="kv1"))
step("v1 read", lambda: v1.read_secret("foo", mount_point="kv1"))
step("v1 read missing", lambda: v1.read_secret("nope", mount_point="kv1"))
step("v1 create in a folder", lambda: v1.create_or_update_secret("dir/x", secret={"y": 1}, mount_point="kv1"))
step("v1 list", lambda: v1.list_secrets("", mount_point="kv1"))
step("v1 empty", lambda: v1.create_or_update_secret("foo", secret={}, mount_point="kv1"))
step("v1 delete", lambda: v1.delete_secret("foo", mount_point="kv1"))
step("v1 read deleted", lambda: v1.read_secret("foo", mount_point="kv1"))

# Upgrade, move, disable.
step("upgrade kv1", lambda: sys_.tune_mount_configuration("kv1", options={"version": "2"}))
step("read upgraded", lambda: settled(
    lambda: v2.read_secret_version("dir/x", mount_point="kv1", raise_on_deleted_version=True),
    "Upgrading from non-versioned to versioned data"))
step("move kv1", lambda: sys_.move_backend("kv1", "kv1b"))
step("read moved", lambda: settled(
    lambda: v2.read_secret_version("dir/x", mount_point="kv1b", raise_on_deleted_version=True),
    "no handler for route"))
step("disable", lambda: sys_.disable_secrets_engine("kv1b"))
step("read disabled", lambda: v2.read_secret_version("dir/x", mount_point="kv1b", raise_on_deleted_version=True))
step("disable sys", lambda: sys_.disable_secrets_engine("sys"))

print(json.dumps(steps))
