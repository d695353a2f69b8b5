//! The OpenAPI 3 document a backend describes its paths in (OpenBao's `framework.OASDocument`): the framework
//! builds one from a backend's path table, the core merges those of every mounted backend into
//! `sys/internal/specs/openapi`. Maps are ordered, so the JSON has OpenBao's (Go's sorted-key) order.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// OpenBao's OpenAPI version.
pub const OAS_VERSION: &str = "3.0.2";

#[derive(Debug, Clone, Default, Serialize)]
pub struct Document {
    pub openapi: String,
    pub info: Info,
    pub paths: BTreeMap<String, PathItem>,
    pub components: Components,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Components {
    pub schemas: BTreeMap<String, Schema>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Info {
    pub title: String,
    pub description: String,
    pub version: String,
    pub license: License,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct License {
    pub name: String,
    pub url: String,
}

impl Document {
    /// An empty document for a server of `version`, as OpenBao's `NewOASDocument`.
    pub fn new(version: &str) -> Document {
        Document {
            openapi: OAS_VERSION.into(),
            info: Info {
                title: "OpenBao API".into(),
                description: "HTTP API that gives you full access to OpenBao. All API routes are prefixed with `/v1/`."
                    .into(),
                version: version.into(),
                license: License {
                    name: "Mozilla Public License 2.0".into(),
                    url: "https://www.mozilla.org/en-US/MPL/2.0".into(),
                },
            },
            paths: BTreeMap::new(),
            components: Components::default(),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PathItem {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(rename = "x-vault-sudo", skip_serializing_if = "is_false")]
    pub sudo: bool,
    #[serde(rename = "x-vault-unauthenticated", skip_serializing_if = "is_false")]
    pub unauthenticated: bool,
    #[serde(rename = "x-vault-createSupported", skip_serializing_if = "is_false")]
    pub create_supported: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub get: Option<OasOperation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post: Option<OasOperation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<OasOperation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete: Option<OasOperation>,
}

impl PathItem {
    /// The operations the item has, to tag them.
    pub fn operations_mut(&mut self) -> impl Iterator<Item = &mut OasOperation> {
        [&mut self.get, &mut self.post, &mut self.patch, &mut self.delete]
            .into_iter()
            .filter_map(Option::as_mut)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OasOperation {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub summary: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(rename = "operationId", skip_serializing_if = "String::is_empty")]
    pub operation_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(rename = "requestBody", skip_serializing_if = "Option::is_none")]
    pub request_body: Option<RequestBody>,
    /// By status code ("200", "204").
    pub responses: BTreeMap<String, OasResponse>,
    #[serde(skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Parameter {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// "path" or "query".
    #[serde(rename = "in")]
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
    #[serde(skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestBody {
    #[serde(skip_serializing_if = "is_false")]
    pub required: bool,
    pub content: BTreeMap<String, MediaType>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MediaType {
    pub schema: Schema,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OasResponse {
    pub description: String,
}

/// A JSON schema as OpenAPI 3.0 has it (the subset OpenBao writes).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Schema {
    #[serde(rename = "$ref", skip_serializing_if = "String::is_empty")]
    pub reference: String,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, Schema>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Schema>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub format: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pattern: String,
    #[serde(rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(skip_serializing_if = "is_false")]
    pub deprecated: bool,
}
