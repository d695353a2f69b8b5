//! Root token generation (`sys/generate-root-token/*`, and the legacy unauthenticated `sys/generate-root/*`): a
//! threshold of unseal key shares, entered one at a time against a nonce, yields a new root token, returned only
//! XORed with a one-time pad the initiator chose (or was given), base64 without padding, as OpenBao encodes it, so
//! whoever enters the last share does not learn the token. The progress lives in memory only; a restart cancels it.

use base64::Engine;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::token_store::token::{self, TokenEntry};
use super::{Core, CoreError};
use crate::seal::{self, Share};

/// Length of a root token and so of its one-time pad: `s.` and 24 characters.
pub const OTP_LENGTH: usize = 26;

/// A root token generation in progress.
pub struct RootGeneration {
    nonce: String,
    otp: Zeroizing<String>,
    progress: Vec<Share>,
}

pub struct GenerateRootStatus {
    pub started: bool,
    pub nonce: String,
    pub progress: usize,
    pub required: u32,
    pub complete: bool,
    pub encoded_token: String,
}

fn bad(message: impl Into<String>) -> CoreError {
    CoreError::InvalidRequest(message.into())
}

/// A random base62 one-time pad of [`OTP_LENGTH`].
pub fn generate_otp() -> Zeroizing<String> {
    Zeroizing::new(token::random_chars(OTP_LENGTH))
}

/// XOR two equally long byte strings (OpenBao's `xor.XORBytes`).
fn xor(a: &[u8], b: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    if a.len() != b.len() {
        return Err(format!(
            "length of byte slices is not equivalent: {} != {}",
            a.len(),
            b.len()
        ));
    }
    Ok(Zeroizing::new(a.iter().zip(b).map(|(x, y)| x ^ y).collect()))
}

/// The token XORed with the pad, base64 without padding.
pub fn encode_token(token: &str, otp: &str) -> Result<String, CoreError> {
    let mixed = xor(otp.as_bytes(), token.as_bytes()).map_err(|e| bad(format!("xor of root token failed: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&mixed[..]))
}

/// `sys/decode-token`: undo [`encode_token`].
pub fn decode_token(encoded: &str, otp: &str) -> Result<Zeroizing<String>, CoreError> {
    if encoded.is_empty() || otp.is_empty() {
        return Err(bad("provided 'encoded_token' or 'otp' is empty"));
    }
    let mixed = Zeroizing::new(
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .map_err(|e| bad(format!("error decoding base64'd token: {e}")))?,
    );
    let plain = xor(&mixed, otp.as_bytes()).map_err(|e| bad(format!("error xoring token: {e}")))?;
    String::from_utf8(plain.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| bad("error xoring token: the result is not a token"))
}

impl Core {
    /// The threshold of the shares operators hold (unseal shares, or recovery shares with an auto-unseal seal).
    fn generate_root_threshold(&self) -> Result<u32, CoreError> {
        Ok(self
            .key_holders_config(&self.seal_mode()?)?
            .ok_or(CoreError::NotInitialized)?
            .secret_threshold)
    }

    pub fn generate_root_status(&self) -> Result<GenerateRootStatus, CoreError> {
        let required = self.generate_root_threshold()?;
        let guard = self.root_generation.lock().map_err(|_| CoreError::Sealed)?;
        Ok(GenerateRootStatus {
            started: guard.is_some(),
            nonce: guard.as_ref().map(|g| g.nonce.clone()).unwrap_or_default(),
            progress: guard.as_ref().map(|g| g.progress.len()).unwrap_or(0),
            required,
            complete: false,
            encoded_token: String::new(),
        })
    }

    /// Start a generation. Without an `otp` one is generated and returned (shown once, in this answer only).
    pub fn generate_root_init(
        &self,
        otp: Option<&str>,
        pgp_key: Option<&str>,
    ) -> Result<Option<Zeroizing<String>>, CoreError> {
        self.unsealed()?;
        let (otp, generated) = match (otp.filter(|o| !o.is_empty()), pgp_key.filter(|k| !k.is_empty())) {
            (Some(otp), _) => {
                if otp.len() != OTP_LENGTH {
                    return Err(bad("OTP string has incorrect length"));
                }
                (Zeroizing::new(otp.to_string()), false)
            }
            (None, Some(_)) => {
                return Err(bad(
                    "PGP-encrypted root tokens are not supported by this server: use an otp",
                ))
            }
            (None, None) => (generate_otp(), true),
        };
        let mut guard = self.root_generation.lock().map_err(|_| CoreError::Sealed)?;
        if guard.is_some() {
            return Err(bad("root generation already in progress for this namespace"));
        }
        let nonce = uuid::Uuid::new_v4().to_string();
        log::info!("core: root generation initialized (nonce {nonce})");
        let shown = generated.then(|| otp.clone());
        *guard = Some(RootGeneration {
            nonce,
            otp,
            progress: Vec::new(),
        });
        Ok(shown)
    }

    pub fn generate_root_cancel(&self) -> Result<(), CoreError> {
        self.unsealed()?;
        if let Ok(mut guard) = self.root_generation.lock() {
            *guard = None;
        }
        Ok(())
    }

    /// Enter one unseal key share; at the threshold, create a root token and return it encoded with the pad.
    pub async fn generate_root_update(&self, key: &str, nonce: &str) -> Result<GenerateRootStatus, CoreError> {
        let unsealed = self.unsealed()?;
        let share = super::rekey::parse_share(key)?;
        let required = self.generate_root_threshold()?;
        let (entered, nonce, otp) = {
            let mut guard = self.root_generation.lock().map_err(|_| CoreError::Sealed)?;
            let generation = guard.as_mut().ok_or_else(|| bad("no root generation in progress"))?;
            if !bool::from(nonce.as_bytes().ct_eq(generation.nonce.as_bytes())) {
                return Err(bad(format!(
                    "incorrect nonce supplied; nonce for this root generation operation is \"{}\"",
                    generation.nonce
                )));
            }
            if seal::contains_share(&generation.progress, &share) {
                return Err(bad(
                    "given key has already been provided during this generation operation",
                ));
            }
            generation.progress.push(share);
            let progress = generation.progress.len();
            if progress < required as usize {
                return Ok(GenerateRootStatus {
                    started: true,
                    nonce: generation.nonce.clone(),
                    progress,
                    required,
                    complete: false,
                    encoded_token: String::new(),
                });
            }
            (
                std::mem::take(&mut generation.progress),
                generation.nonce.clone(),
                generation.otp.clone(),
            )
        };
        let progress = entered.len();
        if let Err(e) = self.authenticate_key_shares(&entered).await {
            log::warn!("core: root generation aborted: the key shares did not open the barrier");
            return Err(bad(format!("root generation aborted: unable to authenticate: {e}")));
        }

        let token_id = token::generate_token_id();
        let token_hash = unsealed.token_salt.hash(&token_id);
        let entry = TokenEntry::root(token::generate_accessor(), token::INIT_ROOT_PATH);
        self.storage
            .write::<_, CoreError>(move |tx| token::insert(tx, &token_hash, &entry))
            .await??;
        crate::telemetry::count("vault.token.create_root", 1);
        let encoded_token = encode_token(&token_id, &otp)?;
        if let Ok(mut guard) = self.root_generation.lock() {
            *guard = None;
        }
        log::info!("core: root generation finished (nonce {nonce})");
        Ok(GenerateRootStatus {
            started: true,
            nonce,
            progress,
            required,
            complete: true,
            encoded_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_openbao() {
        // From OpenBao 2.7.2: `sys/generate-root-token/update` with this pad gave this encoded token, and
        // `sys/decode-token` gave this token.
        let otp = "abcdefghijklmnopqrstuvwxyz";
        let token = "s.jR4XNHGi0uDgDElXDKrsBjA6";
        assert_eq!(encode_token(token, otp).unwrap(), "EkwJNlE+KSAuA1sZKQkrNR0qNz8HBTUSOEw");
        assert_eq!(
            &*decode_token("EkwJNlE+KSAuA1sZKQkrNR0qNz8HBTUSOEw", otp).unwrap(),
            token
        );
        assert_eq!(
            decode_token("EkwJNlE+KSAuA1sZKQkrNR0qNz8HBTUSOEw", "short")
                .unwrap_err()
                .to_string(),
            "error xoring token: length of byte slices is not equivalent: 26 != 5"
        );
        assert_eq!(generate_otp().len(), OTP_LENGTH);
    }
}
