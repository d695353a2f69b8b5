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
