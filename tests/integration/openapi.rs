//! `sys/internal/specs/openapi`: the OpenAPI 3 document of the mounted backends (the system backend's `sys/` paths
//! included), built from their path tables. It validates with `openapi-spec-validator`, names its operations as
//! OpenBao 2.7.2 names the same paths, shows only the mounts the caller may see, and takes `generic_mount_paths`.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::common::{temp_dir, Client, TestServer};
use crate::tools::ReferenceServer;

/// The validator's verdict on `doc`: `Ok` or its error text.
fn validate(doc: &Value) -> Result<(), String> {
    let mut child = Command::new(crate::tools::python())
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The same backends on both servers: K/V v2 at `kv2/`, K/V v1 at `kv1/`, transit, userpass and AppRole.
fn mount_all(c: &Client, token: &str) {
    for (path, body) in [
        ("sys/mounts/kv2", json!({"type": "kv", "options": {"version": "2"}})),
        ("sys/mounts/kv1", json!({"type": "kv", "options": {"version": "1"}})),
        ("sys/mounts/transit", json!({"type": "transit"})),
        ("sys/auth/userpass", json!({"type": "userpass"})),
        ("sys/auth/approle", json!({"type": "approle"})),
    ] {
        let (status, body) = c.put(path, Some(token), body);
        assert_eq!(status, 204, "{path}: {body}");
    }
}

/// operationId of every (path, method) of a document.
fn operation_ids(doc: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "patch", "delete"] {
            if let Some(id) = item[method]["operationId"].as_str() {
                out.push((path.clone(), method.to_string(), id.to_string()));
            }
        }
    }
    out
}

#[test]
fn openapi_document_validates_and_names_operations_as_openbao() {
    let dir = temp_dir();
    let (ours, root, _) = TestServer::start_unsealed(dir.path());
    let c = &ours.client;
    mount_all(c, &root);

    let (status, doc) = c.get("sys/internal/specs/openapi", Some(&root));
    assert_eq!(status, 200, "{doc}");
    validate(&doc).unwrap_or_else(|e| panic!("our document does not validate: {e}"));
    assert_eq!(doc["openapi"], "3.0.2");
    assert_eq!(doc["info"]["title"], "OpenBao API");

    // K/V v2: captures as path parameters, a write's fields as a request schema, LIST as a GET with `list`.
    let data = &doc["paths"]["/kv2/data/{path}"];
    assert_eq!(
        data["description"],
        "Write, Patch, Read, and Delete data in the Key-Value Store."
    );
    assert_eq!(data["x-vault-createSupported"], true);
    assert_eq!(data["parameters"][0]["name"], "path");
    assert_eq!(data["parameters"][0]["in"], "path");
    assert_eq!(data["parameters"][0]["required"], true);
    assert_eq!(data["get"]["operationId"], "kv-read-data-path");
    assert_eq!(data["get"]["tags"], json!(["secrets"]));
    assert_eq!(data["delete"]["responses"]["204"]["description"], "empty body");
    assert_eq!(
        data["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/KvWriteDataPathRequest"
    );
    let write = &doc["components"]["schemas"]["KvWriteDataPathRequest"];
    assert_eq!(write["type"], "object");
    assert_eq!(write["properties"]["data"]["type"], "object");
    assert_eq!(write["properties"]["options"]["format"], "map");
    assert!(
        write["properties"].get("path").is_none(),
        "a capture is no body field: {write}"
    );
    let list = &doc["paths"]["/kv2/metadata/{path}"]["get"]["parameters"][0];
    assert_eq!(list["name"], "list");
    assert_eq!(list["in"], "query");

    // Auth methods: the login is unauthenticated, fields carry types, formats, descriptions and defaults.
    let login = &doc["paths"]["/auth/userpass/login/{username}"];
    assert_eq!(login["x-vault-unauthenticated"], true);
    assert_eq!(login["post"]["operationId"], "userpass-login");
    assert_eq!(login["post"]["tags"], json!(["auth"]));
    // The token store's path table: its root paths are marked, its fields typed.
    assert_eq!(
        doc["paths"]["/auth/token/create"]["post"]["operationId"],
        "token-create"
    );
    assert_eq!(doc["paths"]["/auth/token/accessors"]["x-vault-sudo"], true);
    assert_eq!(doc["paths"]["/auth/token/revoke-orphan"]["x-vault-sudo"], true);
    assert_eq!(
        doc["components"]["schemas"]["TokenWriteRoleRequest"]["properties"]["token_period"]["format"],
        "seconds"
    );
    let user = &doc["components"]["schemas"]["UserpassWriteUserRequest"]["properties"];
    assert_eq!(user["token_ttl"]["type"], "integer");
    assert_eq!(user["token_ttl"]["format"], "seconds");
    assert_eq!(user["token_policies"]["items"]["type"], "string");
    assert_eq!(user["policies"]["deprecated"], true);
    assert!(!user["password"]["description"].as_str().unwrap().is_empty());
    let keys = &doc["paths"]["/transit/keys"]["get"];
    assert_eq!(keys["operationId"], "transit-list-keys");
    assert_eq!(keys["parameters"][0]["schema"]["enum"], json!(["true"]));
    assert_eq!(
        doc["paths"]["/cubbyhole/{path}"]["get"]["operationId"],
        "cubbyhole-read"
    );
    assert_eq!(
        doc["components"]["schemas"]["AppRoleWriteRoleRequest"]["properties"]["bind_secret_id"]["default"],
        true
    );

    // Every operation we document, OpenBao documents under the same path and id.
    let reference = ReferenceServer::start();
    let rc = Client::new(&reference.addr);
    let (keys, ref_root) = rc.init(1, 1);
    rc.unseal_with(&keys);
    mount_all(&rc, &ref_root);
    let (status, expected) = rc.get("sys/internal/specs/openapi", Some(&ref_root));
    assert_eq!(status, 200);
    let theirs = operation_ids(&expected);
    let mine = operation_ids(&doc);
    assert!(mine.len() > 100, "{} operations", mine.len());
    // The system backend's path table: sys/ paths are documented, tagged `system`, with their sudo paths marked.
    let sys_ops = mine.iter().filter(|op| op.0.starts_with("/sys/")).count();
    assert!(sys_ops > 90, "{sys_ops} sys/ operations");
    let tune = &doc["paths"]["/sys/mounts/{path}/tune"];
    assert_eq!(tune["get"]["operationId"], "mounts-read-tuning-information");
    assert_eq!(tune["post"]["operationId"], "mounts-tune-configuration-parameters");
    assert_eq!(tune["get"]["tags"], json!(["system"]));
    assert_eq!(tune["parameters"][0]["name"], "path");
    let tune_fields = &doc["components"]["schemas"]["MountsTuneConfigurationParametersRequest"]["properties"];
    assert_eq!(tune_fields["audit_non_hmac_request_keys"]["type"], "array");
    assert!(!tune_fields["default_lease_ttl"]["description"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(doc["paths"]["/sys/audit/{path}"]["x-vault-sudo"], true);
    assert_eq!(doc["paths"]["/sys/leases/lookup/{prefix}"]["x-vault-sudo"], true);
    assert_eq!(
        doc["paths"]["/sys/leases/lookup/{prefix}"]["get"]["parameters"][0]["name"],
        "list"
    );
    assert_eq!(
        doc["paths"]["/sys/locked-users/{mount_accessor}/unlock/{alias_identifier}"]["post"]["operationId"],
        "locked-users-unlock"
    );
    assert_eq!(
        doc["paths"]["/sys/policies/acl/{name}"]["delete"]["operationId"],
        "policies-delete-acl-policy"
    );
    // Paths the HTTP layer serves before the core (sealed or not) are not the system backend's.
    assert!(doc["paths"].get("/sys/seal-status").is_none());
    // Catch-alls that only answer unusual spellings stay out of the document.
    assert!(doc["paths"].get("/sys/tools/random/{rest}").is_none());

    // Ours only: OpenBao 2.7.2 has no such path (`sys/audit-chain-key/:path` exports a chaining device's key).
    let ours_only = ["/sys/audit-chain-key/{path}"];
    for path in ours_only {
        assert!(doc["paths"].get(path).is_some(), "we document {path}");
        assert!(expected["paths"].get(path).is_none(), "OpenBao documents {path} now");
    }
    // An id OpenBao gives several operations (as the three of `sys/generate-root-token/attempt`) makes its document
    // invalid (the validator wants ids unique): ours start with its id and say what they do after it.
    let duplicated = |id: &str| theirs.iter().filter(|t| t.2 == id).count() > 1;
    for op in &mine {
        if ours_only.contains(&op.0.as_str()) {
            continue;
        }
        let same = |t: &&(String, String, String)| t.0 == op.0 && t.1 == op.1 && duplicated(&t.2);
        if let Some(their) = theirs.iter().find(same).filter(|_| op.0.starts_with("/sys/")) {
            assert!(op.2.starts_with(&their.2), "{op:?} against OpenBao's {their:?}");
            continue;
        }
        // OpenBao declares both LIST and SCAN on `detailed-metadata/`: which one names its GET depends on Go's map
        // order, so either id is OpenBao's.
        let scan = (
            op.0.clone(),
            op.1.clone(),
            op.2.replace("kv-list-detailed", "kv-scan-detailed"),
        );
        assert!(
            theirs.contains(op) || theirs.contains(&scan),
            "OpenBao documents no {op:?}"
        );
    }
}

#[test]
fn openapi_shows_what_the_caller_may_see_and_generic_mount_paths() {
    let dir = temp_dir();
    let (ours, root, _) = TestServer::start_unsealed(dir.path());
    let c = &ours.client;
    mount_all(c, &root);

    // Without a token: readable, and nothing mounted is visible (as OpenBao answers it).
    let (status, anonymous) = c.get("sys/internal/specs/openapi", None);
    assert_eq!(status, 200, "{anonymous}");
    assert_eq!(anonymous["paths"], json!({}));
    validate(&anonymous).unwrap();

    // A token that may touch kv2/ only sees kv2/ (and no ACL refuses it the document).
    let policy = r#"path "kv2/*" { capabilities = ["read"] }"#;
    assert_eq!(
        c.put("sys/policies/acl/kv2-reader", Some(&root), json!({"policy": policy}))
            .0,
        204
    );
    let (_, created) = c.put(
        "auth/token/create",
        Some(&root),
        json!({"policies": ["kv2-reader"], "no_default_policy": true}),
    );
    let reader = created["auth"]["client_token"].as_str().unwrap().to_string();
    let (status, limited) = c.get("sys/internal/specs/openapi", Some(&reader));
    assert_eq!(status, 200, "{limited}");
    let paths: Vec<&String> = limited["paths"].as_object().unwrap().keys().collect();
    assert!(!paths.is_empty());
    assert!(paths.iter().all(|p| p.starts_with("/kv2/")), "{paths:?}");

    // Generic mount paths: a parameter per mount, defaulting to where it is mounted; singletons keep their path.
    let (status, generic) = c.get("sys/internal/specs/openapi?generic_mount_paths=true", Some(&root));
    assert_eq!(status, 200);
    validate(&generic).unwrap_or_else(|e| panic!("{e}"));
    let item = &generic["paths"]["/{kv2_mount_path}/data/{path}"];
    let parameter = item["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "kv2_mount_path")
        .unwrap_or_else(|| panic!("{item}"));
    assert_eq!(parameter["in"], "path");
    assert_eq!(parameter["required"], true);
    assert_eq!(parameter["schema"]["default"], "kv2");
    assert!(generic["paths"]["/auth/{userpass_mount_path}/users/{username}"].is_object());
    assert!(generic["paths"]["/cubbyhole/{path}"].is_object());
    assert!(generic["paths"]["/auth/token/create"].is_object());
    assert!(generic["paths"].get("/kv2/data/{path}").is_none());

    // The same through a POST body; a field that does not decode is refused as any field is.
    let (status, posted) = c.put(
        "sys/internal/specs/openapi",
        Some(&root),
        json!({"generic_mount_paths": true}),
    );
    assert_eq!(status, 200);
    assert_eq!(posted["paths"], generic["paths"]);
    let (status, bad) = c.put(
        "sys/internal/specs/openapi",
        Some(&root),
        json!({"generic_mount_paths": "maybe"}),
    );
    assert_eq!(status, 400, "{bad}");
}
