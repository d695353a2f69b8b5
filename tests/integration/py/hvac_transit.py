"""hvac (2.4.0) `secrets.transit` calls against one server: keys (create, read, list, config, rotate, trim, delete),
encrypt/decrypt (single and batch), rewrap, data keys, random, hash, HMAC, sign/verify, export, backup/restore.

The server's address comes from HVAC_TEST_ADDR. The script initializes and unseals the server itself. Prints one
JSON document on stdout: a list of steps as hvac_kv.py does.
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
transit = client.secrets.transit

HELLO = "aGVsbG8="

step("enable transit", lambda: client.sys.enable_secrets_engine("transit"))
step("create key", lambda: transit.create_key("app"))
step("create ed25519", lambda: transit.create_key("signer", key_type="ed25519", exportable=True, allow_plaintext_backup=True))
step("create bad type", lambda: transit.create_key("bad", key_type="nope"))
step("read key", lambda: transit.read_key("app"))
step("read missing key", lambda: transit.read_key("nope"))
step("list keys", transit.list_keys)
step("update key configuration", lambda: transit.update_key_configuration("app", deletion_allowed=True, min_decryption_version=1))
step("rotate key", lambda: transit.rotate_key("app"))
step("read rotated key", lambda: transit.read_key("app"))
ct = step("encrypt", lambda: transit.encrypt_data("app", plaintext=HELLO))
step("decrypt", lambda: transit.decrypt_data("app", ciphertext=ct["data"]["ciphertext"]))
step("decrypt garbage", lambda: transit.decrypt_data("app", ciphertext="vault:v1:AAAA"))
batch = step("encrypt batch", lambda: transit.encrypt_data("app", batch_input=[{"plaintext": HELLO}, {"plaintext": "YQ=="}]))
step("decrypt batch", lambda: transit.decrypt_data("app", batch_input=[{"ciphertext": r["ciphertext"]} for r in batch["data"]["batch_results"]]))
step("rewrap", lambda: transit.rewrap_data("app", ciphertext=ct["data"]["ciphertext"]))
step("data key", lambda: transit.generate_data_key("app", key_type="wrapped"))
step("random bytes", lambda: transit.generate_random_bytes(n_bytes=16))
step("hash", lambda: transit.hash_data(HELLO, algorithm="sha2-512"))
mac = step("hmac", lambda: transit.generate_hmac("app", hash_input=HELLO))
step("verify hmac", lambda: transit.verify_signed_data("app", HELLO, hmac=mac["data"]["hmac"]))
sig = step("sign", lambda: transit.sign_data("signer", hash_input=HELLO))
step("verify signature", lambda: transit.verify_signed_data("signer", HELLO, signature=sig["data"]["signature"]))
step("verify bad signature", lambda: transit.verify_signed_data("signer", "b3RoZXI=", signature=sig["data"]["signature"]))
step("export key", lambda: transit.export_key("signer", key_type="public-key"))
backup = step("backup key", lambda: transit.backup_key("signer"))
step("restore key", lambda: transit.restore_key(backup["data"]["backup"], name="copy"))
step("verify with restored key", lambda: transit.verify_signed_data("copy", HELLO, signature=sig["data"]["signature"]))
step("trim key", lambda: transit.trim_key("app", min_version=1))
step("read cache configuration", lambda: client.read("transit/cache-config"))
step("delete key", lambda: transit.delete_key("app"))
step("delete signer", lambda: transit.delete_key("signer"))

print(json.dumps(steps))
