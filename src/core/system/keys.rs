//! Operator key management below `sys/`: `key-status`, `rotate` (and `rotate/keyring`), `rotate/config` (and
//! `rotate/keyring/config`), the authenticated rekey `rotate/root/{init,update,verify}`, the authenticated root
//! token generation `generate-root-token/{attempt,update}`, and `decode-token`. The legacy unauthenticated forms
//! (`sys/rekey/*`, `sys/generate-root/*`) are served by the HTTP layer when the listener enables them, with these
//! same core calls and their own (flat) answer shapes.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::core::generate_root::{self, GenerateRootStatus, OTP_LENGTH};
use crate::core::rekey::{RekeyRequest, RekeyResult, RekeyStatus, VerifyStatus};
use crate::core::{fields, token_store::token::rfc3339_ns, Core, CoreError, Operation, Request, Response};
use crate::seal::Share;

use super::object as data;
use super::{Handler, SystemBackend};
use crate::framework::{field, Display, Kind, PathSpec, PathTable, Schema};

fn required_string(req: &Request, key: &str) -> Result<String, CoreError> {
    match fields::string(&req.data, key)? {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(CoreError::InvalidRequest(format!("missing required field '{key}'"))),
    }
}

const ROTATION_CONFIG: Schema = &[
    field("max_operations", Kind::Int)
        .desc("The number of encryption operations performed before the barrier key is automatically rotated."),
    field("interval", Kind::Duration)
        .desc("How long after installation of an active key term that the key will be automatically rotated."),
    field("enabled", Kind::Bool).desc("Whether automatic rotation is enabled."),
];
const REKEY_INIT: Schema = &[
    field("secret_shares", Kind::Int).desc("Specifies the number of shares to split the root key into."),
    field("secret_threshold", Kind::Int).desc("Specifies the number of shares required to reconstruct the root key."),
    field("pgp_keys", Kind::CommaStrings).desc("Specifies an array of PGP public keys used to encrypt the output unseal keys."),
    field("backup", Kind::Bool).desc("Specifies if using PGP-encrypted keys, whether OpenBao should also store a plaintext backup of the said keys."),
    field("require_verification", Kind::Bool).desc("Enables verification which after successful authorization with the current unseal keys, ensures the new unseal keys are returned but the root key is not actually rotated."),
];
const REKEY_UPDATE: Schema = &[
    field("key", Kind::Str).desc("Specifies a single unseal key share."),
    field("nonce", Kind::Str).desc("Specifies the nonce of the rotation attempt."),
];
const REKEY_VERIFY: Schema = &[
    field("key", Kind::Str).desc("Specifies a single unseal share key from the new set of shares."),
    field("nonce", Kind::Str).desc("Specifies the nonce of the rotation verification operation."),
];
const GENERATE_ROOT_INIT: Schema = &[
    field("otp", Kind::Str).desc("One-time password for encoding the root token."),
    field("pgp_key", Kind::Str).desc("PGP key for encrypting the root token."),
];
const GENERATE_ROOT_UPDATE: Schema = &[
    field("key", Kind::Str).desc("Unseal key share."),
    field("nonce", Kind::Str).desc("Nonce for the generation operation."),
];

const REKEY_INIT_HELP: &str =
    "Initialize, read status or cancel the process of the rotation of the root or recovery key.";
const REKEY_UPDATE_HELP: &str = "Progress the rotation process by providing a single key share.";
const REKEY_VERIFY_HELP: &str = "Read status of, progress or cancel the verification process of the rotation attempt.";
const BACKUP_HELP: &str = "Allows fetching or deleting the backup of the rotated unseal keys.";

/// A read, a write and a delete named `prefix-verb-suffix` each.
const fn read_write_delete(prefix: &'static str, ops: &'static [(Operation, &'static str, &'static str)]) -> Display {
    Display {
        per_op: ops,
        ..Display::new(prefix, "", "")
    }
}

/// The operator key endpoints.
pub(super) const PATHS: PathTable<SystemBackend, Handler> = PathTable {
    paths: &[
        PathSpec {
            pattern: "key-status",
            fields: &[],
            operations: &[(Operation::Read, read_key_status)],
            existence: None,
            help: "Provides information about the backend encryption key.",
            display: Display::new("", "status", "encryption-key"),
        },
        PathSpec {
            pattern: "rotate",
            fields: &[],
            operations: &[(Operation::Update, rotate_keyring)],
            existence: None,
            help: "Rotates the backend encryption key used to persist data.",
            display: Display::new("", "rotate", "encryption-key"),
        },
        PathSpec {
            pattern: "rotate/keyring",
            fields: &[],
            operations: &[(Operation::Update, rotate_keyring)],
            existence: None,
            help: "Rotates the backend encryption key used to persist data.",
            display: Display::new("rotate", "rotate", "keyring"),
        },
        PathSpec {
            pattern: "rotate/root",
            fields: &[],
            operations: &[(Operation::Update, rotate_root)],
            existence: None,
            help: "Rotates the root key.",
            display: Display::new("root-key", "rotate", ""),
        },
        PathSpec {
            pattern: "rotate/config",
            fields: ROTATION_CONFIG,
            operations: &[(Operation::Read, read_rotation_config), (Operation::Update, write_rotation_config)],
            existence: None,
            help: "Configures settings related to the backend encryption key management.",
            display: read_write_delete(
                "",
                &[(Operation::Read, "read", "encryption-key-config"), (Operation::Update, "configure", "encryption-key-config")],
            ),
        },
        PathSpec {
            pattern: "rotate/keyring/config",
            fields: ROTATION_CONFIG,
            operations: &[(Operation::Read, read_rotation_config), (Operation::Update, write_rotation_config)],
            existence: None,
            help: "Configures settings related to the backend encryption key management.",
            display: read_write_delete(
                "",
                &[(Operation::Read, "read", "rotate-keyring-config"), (Operation::Update, "configure", "rotate-keyring-config")],
            ),
        },
        PathSpec {
            pattern: "rotate/root/init",
            fields: REKEY_INIT,
            operations: &[(Operation::Read, rekey_read), (Operation::Update, rekey_start), (Operation::Delete, rekey_cancel)],
            existence: None,
            help: REKEY_INIT_HELP,
            display: read_write_delete(
                "rotate",
                &[(Operation::Read, "attempt", "read-progress"), (Operation::Update, "attempt", "initialize"), (Operation::Delete, "attempt", "cancel")],
            ),
        },
        PathSpec {
            pattern: "rotate/recovery/init",
            fields: REKEY_INIT,
            operations: &[(Operation::Read, rekey_read), (Operation::Update, rekey_start), (Operation::Delete, rekey_cancel)],
            existence: None,
            help: REKEY_INIT_HELP,
            display: read_write_delete(
                "rotate",
                &[
                    (Operation::Read, "attempt", "read-rotate-recovery-init"),
                    (Operation::Update, "attempt", "initialize-rotate-recovery-init"),
                    (Operation::Delete, "attempt", "cancel-rotate-recovery-init"),
                ],
            ),
        },
        PathSpec {
            pattern: "rotate/root/update",
            fields: REKEY_UPDATE,
            operations: &[(Operation::Update, rekey_progress)],
            existence: None,
            help: REKEY_UPDATE_HELP,
            display: Display::new("rotate", "attempt", "update"),
        },
        PathSpec {
            pattern: "rotate/recovery/update",
            fields: REKEY_UPDATE,
            operations: &[(Operation::Update, rekey_progress)],
            existence: None,
            help: REKEY_UPDATE_HELP,
            display: Display::new("rotate", "attempt", "update-rotate-recovery-update"),
        },
        PathSpec {
            pattern: "rotate/root/verify",
            fields: REKEY_VERIFY,
            operations: &[(Operation::Read, verify_read), (Operation::Update, verify_progress), (Operation::Delete, verify_restart)],
            existence: None,
            help: REKEY_VERIFY_HELP,
            display: read_write_delete(
                "rotate",
                &[(Operation::Read, "verification", "read-progress"), (Operation::Update, "verification", "update"), (Operation::Delete, "verification", "cancel")],
            ),
        },
        PathSpec {
            pattern: "rotate/recovery/verify",
            fields: REKEY_VERIFY,
            operations: &[(Operation::Read, verify_read), (Operation::Update, verify_progress), (Operation::Delete, verify_restart)],
            existence: None,
            help: REKEY_VERIFY_HELP,
            display: read_write_delete(
                "rotate",
                &[
                    (Operation::Read, "verification", "read-rotate-recovery-verify"),
                    (Operation::Update, "verification", "update-rotate-recovery-verify"),
                    (Operation::Delete, "verification", "cancel-rotate-recovery-verify"),
                ],
            ),
        },
        // This server never stores PGP-encrypted key shares (it refuses `pgp_keys`), so there is never a backup;
        // the answers are OpenBao's when it has none.
        PathSpec {
            pattern: "rotate/root/backup",
            fields: &[],
            operations: &[(Operation::Read, no_backup), (Operation::Delete, delete_backup)],
            existence: None,
            help: BACKUP_HELP,
            display: read_write_delete("rotate", &[(Operation::Read, "read", "backup-key"), (Operation::Delete, "delete", "backup-key")]),
        },
        PathSpec {
            pattern: "rotate/recovery/backup",
            fields: &[],
            operations: &[(Operation::Read, no_backup), (Operation::Delete, delete_backup)],
            existence: None,
            help: BACKUP_HELP,
            display: read_write_delete(
                "rotate",
                &[(Operation::Read, "read", "rotate-recovery-backup"), (Operation::Delete, "delete", "rotate-recovery-backup")],
            ),
        },
        PathSpec {
            pattern: "rekey/backup",
            fields: &[],
            operations: &[(Operation::Read, no_backup), (Operation::Delete, delete_backup)],
            existence: None,
            help: BACKUP_HELP,
            display: read_write_delete("rekey", &[(Operation::Read, "read", "backup-key"), (Operation::Delete, "delete", "backup-key")]),
        },
        PathSpec {
            pattern: "rekey/recovery-key-backup",
            fields: &[],
            operations: &[(Operation::Read, no_backup), (Operation::Delete, delete_backup)],
            existence: None,
            help: BACKUP_HELP,
            display: read_write_delete(
                "rekey",
                &[(Operation::Read, "read", "backup-recovery-key"), (Operation::Delete, "delete", "backup-recovery-key")],
            ),
        },
        PathSpec {
            pattern: "generate-root-token/attempt",
            fields: GENERATE_ROOT_INIT,
            operations: &[
                (Operation::Read, generate_root_read),
                (Operation::Update, generate_root_start),
                (Operation::Delete, generate_root_cancel),
            ],
            existence: None,
            help: "Reads status, initializes, or cancels a root token generation process.",
            // OpenBao names all three `generate-root-token`, an id a document may only have once: the read keeps
            // it, the others say what they do after it.
            display: Display {
                per_op: &[
                    (Operation::Update, "", "root-token-initialize"),
                    (Operation::Delete, "", "root-token-cancel"),
                ],
                ..Display::new("", "generate", "root-token")
            },
        },
        PathSpec {
            pattern: "generate-root-token/update",
            fields: GENERATE_ROOT_UPDATE,
            operations: &[(Operation::Update, generate_root_progress)],
            existence: None,
            help: "Reads status, initializes, or cancels a root token generation process.",
            display: Display::new("", "update", "generation-attempt-root-token"),
        },
        PathSpec {
            pattern: "decode-token",
            fields: &[
                field("encoded_token", Kind::Str).desc("Specifies the encoded token (result from generate-root-token call)."),
                field("otp", Kind::Str).desc("Specifies the otp code used for decoding."),
            ],
            operations: &[(Operation::Update, decode)],
            existence: None,
            help: "Decodes encoded root token generated through `sys/generate-root-token` or unauthenticated `sys/generate-root` endpoint",
            display: Display::new("", "decode", "root-token"),
        },
    ],
};

handler!(read_key_status, |core, _, _, _| key_status(core));
handler!(rotate_keyring, |core, _, _, _| core
    .rotate_keyring()
    .await
    .map(|_| Response::no_content()));
handler!(rotate_root, |core, _, _, _| core
    .rotate_root_key()
    .await
    .map(|()| Response::no_content()));
handler!(read_rotation_config, |core, _, _, _| rotation_config(core));
handler!(write_rotation_config, |core, _, req, _| set_rotation_config(core, req)
    .await);
handler!(rekey_read, |core, _, _, _| core
    .rekey_status()
    .map(|s| Response::with_data(rekey_status(&s))));
handler!(rekey_start, |core, _, req, _| rekey_init(core, req)
    .map(|s| Response::with_data(rekey_status(&s))));
handler!(rekey_cancel, |core, _, _, _| core
    .rekey_cancel()
    .map(|()| Response::no_content()));
handler!(rekey_progress, |core, _, req, _| rekey_update(core, req).await);
handler!(verify_read, |core, _, _, _| core
    .rekey_verify_status()
    .map(|s| Response::with_data(verify_status(&s))));
handler!(verify_progress, |core, _, req, _| rekey_verify(core, req).await);
handler!(verify_restart, |core, _, _, _| core
    .rekey_verify_restart()
    .map(|s| Response::with_data(verify_status(&s))));
handler!(no_backup, |_, _, _, _| Err(CoreError::InvalidRequest(
    "no backed-up keys found".into()
)));
handler!(delete_backup, |_, _, _, _| Ok(Response::no_content()));
handler!(generate_root_read, |core, _, _, _| core
    .generate_root_status()
    .map(|s| Response::with_data(generate_root_status(&s, ""))));
handler!(generate_root_start, |core, _, req, _| generate_root_init(core, req));
handler!(generate_root_cancel, |core, _, _, _| core
    .generate_root_cancel()
    .map(|()| Response::no_content()));
handler!(generate_root_progress, |core, _, req, _| generate_root_update(
    core, req
)
.await);
handler!(decode, |_, _, req, _| decode_token(req));

fn key_status(core: &Core) -> Result<Response, CoreError> {
    let status = core.key_status()?;
    Ok(Response::legacy(data(json!({
        "term": status.term,
        "install_time": rfc3339_ns(status.install_time_ns),
        "encryptions": status.encryptions,
    }))))
}

fn rotation_config(core: &Core) -> Result<Response, CoreError> {
    let config = core.rotation_config()?;
    let interval = match config.interval_secs {
        0 => json!(0),
        secs => json!(crate::framework::fields::go_duration_string(secs as i64)),
    };
    Ok(Response::with_data(data(json!({
        "max_operations": config.max_operations,
        "enabled": config.enabled,
        "interval": interval,
    }))))
}

async fn set_rotation_config(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let max_operations = fields::integer(&req.data, "max_operations")?;
    let interval = match req.data.get("interval") {
        None | Some(Value::Null) => None,
        Some(_) => Some(Duration::from_secs(fields::duration_secs(&req.data, "interval")?)),
    };
    let enabled = fields::boolean(&req.data, "enabled")?;
    core.set_rotation_config(max_operations, interval, enabled).await?;
    Ok(Response::no_content())
}

/// `data` of a rekey status, as `sys/rotate/root/init` answers it.
pub fn rekey_status(status: &RekeyStatus) -> Map<String, Value> {
    let mut out = data(json!({
        "started": status.started,
        "t": status.t,
        "n": status.n,
        "required": status.required,
    }));
    if status.started {
        out.insert("nonce".into(), json!(status.nonce));
        out.insert("progress".into(), json!(status.progress));
        out.insert("verification_required".into(), json!(status.verification_required));
        out.insert("verification_nonce".into(), json!(status.verification_nonce));
    }
    out
}

/// What a rekey start asks for, from the body (the same fields on both forms).
pub fn rekey_request(req_data: &Map<String, Value>) -> Result<RekeyRequest, CoreError> {
    let count = |key: &str| -> Result<u32, CoreError> {
        Ok(fields::integer(req_data, key)?
            .map(|n| u32::try_from(n.clamp(0, i64::from(u32::MAX))).unwrap_or(0))
            .unwrap_or(0))
    };
    Ok(RekeyRequest {
        secret_shares: count("secret_shares")?,
        secret_threshold: count("secret_threshold")?,
        require_verification: fields::boolean(req_data, "require_verification")?.unwrap_or(false),
        pgp_keys: fields::string_list(req_data, "pgp_keys")?.is_some_and(|keys| !keys.is_empty()),
        backup: fields::boolean(req_data, "backup")?.unwrap_or(false),
    })
}

fn rekey_init(core: &Core, req: &Request) -> Result<RekeyStatus, CoreError> {
    core.rekey_init(rekey_request(&req.data)?)
}

/// The new shares as hex and base64 lists.
pub fn share_lists(shares: &[Share]) -> (Vec<String>, Vec<String>) {
    use base64::Engine;
    shares
        .iter()
        .map(|s| {
            (
                hex::encode(&s[..]),
                base64::engine::general_purpose::STANDARD.encode(&s[..]),
            )
        })
        .unzip()
}

async fn rekey_update(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let key = required_string(req, "key")?;
    let nonce = required_string(req, "nonce")?;
    match core.rekey_update(&key, &nonce).await? {
        None => Ok(Response::with_data(rekey_status(&core.rekey_status()?))),
        Some(result) => Ok(Response::with_data(rekey_result(&result))),
    }
}

fn rekey_result(result: &RekeyResult) -> Map<String, Value> {
    let (keys, keys_base64) = share_lists(&result.shares);
    data(json!({
        "complete": true,
        "nonce": result.nonce,
        "backup": false,
        "pgp_fingerprints": null,
        "verification_required": result.verification_required,
        "verification_nonce": result.verification_nonce,
        "keys": keys,
        "keys_base64": keys_base64,
    }))
}

pub fn verify_status(status: &VerifyStatus) -> Map<String, Value> {
    data(json!({
        "nonce": status.nonce,
        "started": status.started,
        "t": status.t,
        "n": status.n,
        "progress": status.progress,
    }))
}

async fn rekey_verify(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let key = required_string(req, "key")?;
    let nonce = required_string(req, "nonce")?;
    match core.rekey_verify(&key, &nonce).await? {
        None => Ok(Response::with_data(verify_status(&core.rekey_verify_status()?))),
        Some(nonce) => Ok(Response::with_data(data(json!({"complete": true, "nonce": nonce})))),
    }
}

/// `data` of a root generation status; `otp` is the generated pad, shown once.
pub fn generate_root_status(status: &GenerateRootStatus, otp: &str) -> Map<String, Value> {
    let mut out = data(json!({
        "started": status.started,
        "progress": status.progress,
        "required": status.required,
        "complete": status.complete,
    }));
    if status.started {
        out.insert("nonce".into(), json!(status.nonce));
        out.insert("pgp_fingerprint".into(), json!(""));
    }
    out.insert("otp".into(), json!(otp));
    out.insert("otp_length".into(), json!(OTP_LENGTH));
    out
}

/// `data` of an update's answer: the encoded token (empty until complete), no pad.
pub fn generate_root_update_status(status: &GenerateRootStatus) -> Map<String, Value> {
    let mut out = generate_root_status(status, "");
    out.remove("otp");
    out.remove("otp_length");
    out.insert("encoded_token".into(), json!(status.encoded_token));
    out
}

fn generate_root_init(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let otp = fields::string(&req.data, "otp")?;
    let pgp_key = fields::string(&req.data, "pgp_key")?;
    let generated = core.generate_root_init(otp.as_deref(), pgp_key.as_deref())?;
    let status = core.generate_root_status()?;
    let shown = generated.as_ref().map(|o| o.as_str()).unwrap_or("");
    Ok(Response::with_data(generate_root_status(&status, shown)))
}

async fn generate_root_update(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let key = match fields::string(&req.data, "key")? {
        Some(key) if !key.is_empty() => key,
        _ => return Err(CoreError::InvalidRequest("key is required".into())),
    };
    let nonce = fields::string(&req.data, "nonce")?.unwrap_or_default();
    let status = core.generate_root_update(&key, &nonce).await?;
    Ok(Response::with_data(generate_root_update_status(&status)))
}

fn decode_token(req: &Request) -> Result<Response, CoreError> {
    let encoded = fields::string(&req.data, "encoded_token")?.unwrap_or_default();
    let otp = fields::string(&req.data, "otp")?.unwrap_or_default();
    let token = generate_root::decode_token(&encoded, &otp)?;
    Ok(Response::with_data(data(json!({ "token": token.as_str() }))))
}
