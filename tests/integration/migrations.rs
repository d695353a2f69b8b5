//! Storage format versions at start-up: recorded at creation, a newer format refused with a clear error.

use crate::common::{run_vault, temp_dir, write_config, TestServer};

#[test]
fn newer_format_version_is_refused() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path());
    server.client.init(1, 1);
    assert!(server.terminate().success());

    let data = dir.path().join("data");
    {
        let db = sled::open(&data).unwrap();
        let meta = db.open_tree("meta").unwrap();
        let version = meta
            .get(b"format_version")
            .unwrap()
            .expect("format version recorded at creation");
        assert_eq!(
            version.as_ref(),
            &vault::storage::migrate::supported_version().to_be_bytes()
        );
        assert!(
            meta.get(b"migration/0001").unwrap().is_some(),
            "applied migrations are recorded"
        );
        meta.insert(
            b"format_version",
            &(vault::storage::migrate::supported_version() + 1).to_be_bytes(),
        )
        .unwrap();
        db.flush().unwrap();
    }
    let config = write_config(dir.path(), &data, "", "  tls_disable = true");
    let (code, _, stderr) = run_vault(&["server", &format!("-config={}", config.display())]);
    assert_ne!(code, 0);
    assert!(stderr.contains("is newer than this server supports"), "{stderr}");
}
