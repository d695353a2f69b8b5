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

fn required_string(req: &Request, key: &str) -> Result<String, CoreError> {
    match fields::string(&req.data, key)? {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(CoreError::InvalidRequest(format!("missing required field '{key}'"))),
    }
}

/// The answer of one of these paths, or `None` when `path` is not one of them.
pub async fn route(core: &Core, path: &str, req: &Request) -> Option<Result<Response, CoreError>> {
    let op = req.operation;
    let write = matches!(op, Operation::Update | Operation::Create);
    let answer = match path {
        "key-status" => match op {
            Operation::Read => key_status(core),
            _ => Err(CoreError::UnsupportedOperation),
        },
        "rotate" | "rotate/keyring" => match write {
            true => core.rotate_keyring().await.map(|_| Response::no_content()),
            false => Err(CoreError::UnsupportedOperation),
        },
        "rotate/root" => match write {
            true => core.rotate_root_key().await.map(|()| Response::no_content()),
            false => Err(CoreError::UnsupportedOperation),
        },
        "rotate/config" | "rotate/keyring/config" => match op {
            Operation::Read => rotation_config(core),
            _ if write => set_rotation_config(core, req).await,
            _ => Err(CoreError::UnsupportedOperation),
        },
        "rotate/root/init" | "rotate/recovery/init" => match op {
            Operation::Read => core.rekey_status().map(|s| Response::with_data(rekey_status(&s))),
            Operation::Delete => core.rekey_cancel().map(|()| Response::no_content()),
            _ if write => rekey_init(core, req).map(|s| Response::with_data(rekey_status(&s))),
            _ => Err(CoreError::UnsupportedOperation),
        },
        "rotate/root/update" | "rotate/recovery/update" => match write {
            true => rekey_update(core, req).await,
            false => Err(CoreError::UnsupportedOperation),
        },
        "rotate/root/verify" | "rotate/recovery/verify" => match op {
            Operation::Read => core
                .rekey_verify_status()
                .map(|s| Response::with_data(verify_status(&s))),
            Operation::Delete => core
                .rekey_verify_restart()
                .map(|s| Response::with_data(verify_status(&s))),
            _ if write => rekey_verify(core, req).await,
            _ => Err(CoreError::UnsupportedOperation),
        },
        // This server never stores PGP-encrypted key shares (it refuses `pgp_keys`), so there is never a backup;
        // the answers are OpenBao's when it has none.
        "rotate/root/backup" | "rotate/recovery/backup" | "rekey/backup" | "rekey/recovery-key-backup" => match op {
            Operation::Read => Err(CoreError::InvalidRequest("no backed-up keys found".into())),
            Operation::Delete => Ok(Response::no_content()),
            _ => Err(CoreError::UnsupportedOperation),
        },
        "generate-root-token/attempt" => match op {
            Operation::Read => core
                .generate_root_status()
                .map(|s| Response::with_data(generate_root_status(&s, ""))),
            Operation::Delete => core.generate_root_cancel().map(|()| Response::no_content()),
            _ if write => generate_root_init(core, req),
            _ => Err(CoreError::UnsupportedOperation),
        },
        "generate-root-token/update" => match write {
            true => generate_root_update(core, req).await,
            false => Err(CoreError::UnsupportedOperation),
        },
        "decode-token" => match write {
            true => decode_token(req),
            false => Err(CoreError::UnsupportedOperation),
        },
        _ => return None,
    };
    Some(answer)
}

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
