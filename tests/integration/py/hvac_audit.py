"""Audit devices through hvac (2.4.0), unchanged: client.sys.enable_audit_device / list_enabled_audit_devices /
calculate_hash / disable_audit_device. The server's address comes from HVAC_TEST_ADDR; the server must be
uninitialized and allow API-created devices (unsafe_allow_api_audit_creation). Prints a JSON list of steps:
{"step", "shape": sorted keys (with data members)} or {"step", "raised": exception class, "errors": [...]}, plus
"value" where the test checks content.
"""

import json
import os
import tempfile

import hvac
from hvac import exceptions

ADDR = os.environ["HVAC_TEST_ADDR"]
steps = []


def shape(body):
    if not isinstance(body, dict):
        return [type(body).__name__]
    keys = sorted(body.keys())
    if isinstance(body.get("data"), dict):
        keys += sorted(f"data.{k}" for k in body["data"])
    return keys


def step(name, call, value=None):
    try:
        body = call()
        if hasattr(body, "status_code"):
            record = {"step": name, "status": body.status_code}
            steps.append(record)
            return body
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

log_dir = tempfile.mkdtemp()
log = os.path.join(log_dir, "hvac-audit.log")

step("nothing enabled", client.sys.list_enabled_audit_devices, lambda b: b["data"])
step("enable a file device", lambda: client.sys.enable_audit_device(
    device_type="file", description="from hvac", options={"file_path": log}, path="hv"))
step("enable at the same path", lambda: client.sys.enable_audit_device(
    device_type="file", options={"file_path": log}, path="hv"))
step("enable an unknown type", lambda: client.sys.enable_audit_device(device_type="carrier-pigeon", path="cp"))
step("enable a file device without its path", lambda: client.sys.enable_audit_device(device_type="file", path="np"))
step("list", client.sys.list_enabled_audit_devices,
     lambda b: {k: {"type": v["type"], "description": v["description"], "path": v["path"],
                    "local": v["local"], "options": sorted(v["options"])} for k, v in b["data"].items()})
step("hash", lambda: client.sys.calculate_hash(path="hv", input_to_hash="hello"),
     lambda b: b["data"]["hash"].startswith("hmac-sha256:"))
step("hash on no device", lambda: client.sys.calculate_hash(path="nope", input_to_hash="hello"))
step("disable", lambda: client.sys.disable_audit_device(path="hv"))
step("disable again", lambda: client.sys.disable_audit_device(path="hv"))
step("nothing enabled again", client.sys.list_enabled_audit_devices, lambda b: b["data"])
with open(log) as f:
    entries = [json.loads(line) for line in f]
steps.append({"step": "the log", "value": {
    "first": entries[0]["request"]["path"],
    "list audited": any(e["request"]["path"] == "sys/audit" for e in entries),
    "hmac": entries[-1]["auth"]["client_token"].startswith("hmac-sha256:"),
}})

print(json.dumps(steps))
