//! TLS to PostgreSQL with libpq's connection parameters: `sslmode` (`disable`, `prefer` — libpq's default —,
//! `require`, `verify-ca`, `verify-full`), `sslrootcert`, `sslcert` and `sslkey`, in the URL's query or the
//! `key=value` form, as OpenBao's driver reads them. The `postgres` client parses only `disable`/`prefer`/`require`
//! and no file parameters, so they are taken out of the connection string here and turned into a rustls client
//! configuration (ring provider, the one the listener uses); the client gets the rest.
//!
//! As libpq: `prefer` and `require` encrypt without checking the server's certificate (`require` with an
//! `sslrootcert` checks it as `verify-ca` does); `verify-ca` checks the chain against `sslrootcert`; `verify-full`
//! also checks that the certificate names the host.

use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// The TLS parameters of a connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    pub mode: Mode,
    pub root_cert: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

const TLS_KEYS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// Split `url` into the connection string the `postgres` client parses (without the TLS parameters; `sslmode` as
/// the client knows it) and the TLS parameters.
pub fn split(url: &str) -> Result<(String, TlsParams), String> {
    let mut pairs = Vec::new();
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url, ""),
        };
        let mut kept = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            if TLS_KEYS.contains(&k) {
                pairs.push((k.to_string(), percent_decode(v)?));
            } else {
                kept.push(part);
            }
        }
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept = Vec::new();
        for (k, v, raw) in key_values(url)? {
            if TLS_KEYS.contains(&k.as_str()) {
                pairs.push((k, v));
            } else {
                kept.push(raw);
            }
        }
        kept.join(" ")
    };
    let mut params = TlsParams {
        mode: Mode::Prefer,
        root_cert: None,
        client_cert: None,
        client_key: None,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "sslmode" => {
                params.mode = match v.as_str() {
                    "disable" => Mode::Disable,
                    // libpq's `allow` tries plain first; encrypting when offered is as safe.
                    "allow" | "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => return Err(format!("invalid sslmode value: {other:?}")),
                }
            }
            "sslrootcert" => params.root_cert = Some(v),
            "sslcert" => params.client_cert = Some(v),
            "sslkey" => params.client_key = Some(v),
            _ => {}
        }
    }
    let client_mode = match params.mode {
        Mode::Disable => "disable",
        Mode::Prefer => "prefer",
        _ => "require",
    };
    let sep = if rest.starts_with("postgres") {
        if rest.contains('?') {
            "&"
        } else {
            "?"
        }
    } else {
        " "
    };
    Ok((format!("{rest}{sep}sslmode={client_mode}"), params))
}

fn percent_decode(s: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| "connection_url is not UTF-8".to_string())
}

/// The `key=value` form's pairs (values optionally single-quoted, with `\` escapes), each with its raw text.
fn key_values(s: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(out);
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(format!("missing \"=\" after {key:?} in connection_url"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match chars.next() {
                    Some((_, '\\')) => value.push(chars.next().ok_or("unterminated quoted value")?.1),
                    Some((_, '\'')) => break,
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated quoted value in connection_url".into()),
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next().ok_or("dangling escape in connection_url")?.1);
                } else {
                    value.push(c);
                }
            }
        }
        let end = chars.peek().map_or(s.len(), |&(i, _)| i);
        out.push((key, value, s[start..end].trim_end().to_string()));
    }
}

impl TlsParams {
    /// The client's `sslmode`.
    pub fn client_mode(&self) -> SslMode {
        match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        }
    }

    /// The rustls configuration these parameters ask for; `None` with `sslmode=disable`.
    pub fn client_config(&self) -> Result<Option<ClientConfig>, String> {
        if self.mode == Mode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("PostgreSQL TLS: {e}"))?;
        let verify_chain = matches!(self.mode, Mode::VerifyCa | Mode::VerifyFull)
            || (self.mode == Mode::Require && self.root_cert.is_some());
        let chain = if verify_chain {
            let path = self.root_cert.as_deref().ok_or_else(|| {
                "sslmode verify-ca and verify-full need sslrootcert (the CA certificate file of the server)".to_string()
            })?;
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("reading sslrootcert {path}: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("reading sslrootcert {path}: {e}"))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("sslrootcert {path} holds no certificate"));
            }
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| format!("PostgreSQL TLS: {e}"))?;
            Some((webpki, self.mode == Mode::VerifyFull))
        } else {
            None
        };
        let verifier = Arc::new(ServerCheck { chain, provider });
        let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
        let config = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .map_err(|e| format!("reading sslcert {cert}: {e}"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("reading sslcert {cert}: {e}"))?;
                // The key's contents never reach an error text, only its path.
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("reading sslkey {key}: {e}"))?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| format!("PostgreSQL TLS client certificate: {e}"))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err("sslcert and sslkey go together".into()),
        };
        Ok(Some(config))
    }
}

/// The server's certificate as the mode asks: with `chain`, checked against the roots (the host name too when the
/// flag says so: `verify-full`); without, unchecked (`prefer`, `require`: libpq's behaviour). The handshake's
/// signatures are verified either way.
#[derive(Debug)]
struct ServerCheck {
    chain: Option<(Arc<WebPkiServerVerifier>, bool)>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some((webpki, check_name)) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_come_out_of_urls_and_key_value_strings() {
        let (rest, p) =
            split("postgres://u:p@db:5432/x?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=a")
                .unwrap();
        assert_eq!(rest, "postgres://u:p@db:5432/x?application_name=a&sslmode=require");
        assert_eq!(p.mode, Mode::VerifyFull);
        assert_eq!(p.root_cert.as_deref(), Some("/etc/ca.pem"));
        let (rest, p) = split("postgres://db/x").unwrap();
        assert_eq!(rest, "postgres://db/x?sslmode=prefer");
        assert_eq!(p.mode, Mode::Prefer);
        let (rest, p) = split("host=db  password='a b\\'c' sslmode=verify-ca sslrootcert='/c a.pem'").unwrap();
        assert_eq!(rest, "host=db password='a b\\'c' sslmode=require");
        assert_eq!(p.mode, Mode::VerifyCa);
        assert_eq!(p.root_cert.as_deref(), Some("/c a.pem"));
        assert_eq!(split("host=db sslmode=disable").unwrap().1.mode, Mode::Disable);
        assert!(split("postgres://db/x?sslmode=sometimes").is_err());
        assert!(split("host=db password='open").is_err());
    }

    #[test]
    fn verify_modes_need_a_root_certificate_and_disable_needs_no_tls() {
        let params = |mode| TlsParams {
            mode,
            root_cert: None,
            client_cert: None,
            client_key: None,
        };
        assert!(params(Mode::Disable).client_config().unwrap().is_none());
        assert!(params(Mode::Require).client_config().unwrap().is_some());
        assert!(params(Mode::VerifyFull)
            .client_config()
            .unwrap_err()
            .contains("need sslrootcert"));
    }
}
