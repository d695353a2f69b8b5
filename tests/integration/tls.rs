//! The listener serves HTTPS with a certificate generated in the test.

use serde_json::json;

use crate::common::{temp_dir, write_config, TestServer};

#[test]
fn tls_listener_serves_https() {
    let dir = temp_dir();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let listener = format!(
        "  tls_disable = false\n  tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"\n  tls_min_version = \"tls12\"",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    let config = write_config(dir.path(), &dir.path().join("data"), "", &listener);
    let server = TestServer::start_with_config(dir.path(), &config, "https", Some(cert_pem.as_bytes()));
    assert_eq!(
        server.client.get("sys/init", None),
        (200, json!({"initialized": false}))
    );

    // Plain HTTP to the TLS port does not get an answer.
    let plain = crate::common::Client::new(&format!("http://{}", server.addr));
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    assert!(agent.get(format!("{}/v1/sys/init", plain.base)).call().is_err());
    // A client without our CA refuses the certificate.
    assert!(agent
        .get(format!("https://{}/v1/sys/init", server.addr))
        .call()
        .is_err());
}

/// The `Strict-Transport-Security` header of a GET of `sys/health` at `base`.
fn hsts(base: &str, ca_pem: Option<&[u8]>) -> Option<String> {
    let mut config = ureq::Agent::config_builder().http_status_as_error(false);
    if let Some(pem) = ca_pem {
        let cert = ureq::tls::Certificate::from_pem(pem).unwrap().to_owned();
        let roots = ureq::tls::RootCerts::new_with_certs(&[cert]);
        config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
    }
    let resp = config
        .build()
        .new_agent()
        .get(format!("{base}/v1/sys/health"))
        .call()
        .unwrap();
    resp.headers()
        .get("strict-transport-security")
        .map(|v| v.to_str().unwrap().to_string())
}

/// OpenBao sends `Strict-Transport-Security` on every listener (its default custom response header); browsers heed
/// it over TLS. Ours says the same, on a TLS listener and on a plain one.
#[test]
fn listeners_send_strict_transport_security_as_openbao_does() {
    let reference = crate::tools::ReferenceServer::start();
    let expected = hsts(&reference.addr, None);
    assert_eq!(expected.as_deref(), Some("max-age=31536000; includeSubDomains"));

    let dir = temp_dir();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let listener = format!(
        "  tls_disable = false\n  tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    let config = write_config(dir.path(), &dir.path().join("data"), "", &listener);
    let server = TestServer::start_with_config(dir.path(), &config, "https", Some(cert_pem.as_bytes()));
    assert_eq!(
        hsts(&server.client.base, Some(cert_pem.as_bytes())),
        expected,
        "TLS listener"
    );

    let plain = temp_dir();
    let server = TestServer::start(plain.path());
    assert_eq!(hsts(&server.client.base, None), expected, "plain listener");
}
