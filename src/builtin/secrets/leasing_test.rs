//! A secrets engine that exists only in test builds (`cfg(test)`, and the binary `cargo test` builds with the
//! `test-backends` feature), for the expiration manager's tests: it issues
//! leased credentials and records every revoke call, and can be told to fail, hang or panic on renew and revoke.
//! Like OpenBao's test-only "leased KV" backend, it is never in a release binary.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::logical::{Backend, BackendFuture, Context, Error, Operation, Request, Response, Secret};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Behaviour {
    pub ttl_secs: u64,
    pub max_renew_secs: u64,
    pub fail_revoke: bool,
    pub hang_revoke: bool,
    pub panic_revoke: bool,
    pub fail_renew: bool,
}

/// Instances' lifecycle, for the tests of the SDK's hooks: the ids of instances whose `cleanup` ran.
pub static CLEANED_UP: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

pub struct LeasingTest {
    pub id: u64,
}

impl Default for LeasingTest {
    fn default() -> Self {
        use rand::RngExt;
        LeasingTest {
            id: rand::rng().random(),
        }
    }
}

const CONFIG: &[u8] = b"config";

fn revoked_key(name: &str) -> Vec<u8> {
    format!("revoked/{name}").into_bytes()
}

impl LeasingTest {
    async fn behaviour(ctx: &Context<'_>) -> Result<Behaviour, Error> {
        Ok(ctx.storage.get_as::<Behaviour>(CONFIG)?.unwrap_or_default())
    }

    async fn run(&self, ctx: &Context<'_>, req: &Request) -> Result<Response, Error> {
        let behaviour = Self::behaviour(ctx).await?;
        match (req.operation, ctx.path) {
            (Operation::Update | Operation::Create, "config") => {
                let b: Behaviour = serde_json::from_value(Value::Object(req.data.clone()))
                    .map_err(|e| Error::InvalidRequest(e.to_string()))?;
                ctx.storage.write(move |tx| tx.put_as(CONFIG, &b)).await?;
                Ok(Response::no_content())
            }
            (Operation::Read, path) if path.starts_with("creds/") => {
                let name = &path["creds/".len()..];
                let mut internal = Map::new();
                internal.insert("username".into(), json!(name));
                let mut resp = Response::with_data(json!({"username": name}).as_object().cloned().unwrap_or_default());
                resp.secret = Some(Secret {
                    ttl: Duration::from_secs(behaviour.ttl_secs),
                    renewable: true,
                    internal_data: internal,
                });
                Ok(resp)
            }
            (Operation::Read, "instance") => {
                let initialized: u64 = ctx.storage.get_as(b"initialized")?.unwrap_or(0);
                Ok(Response::with_data(
                    json!({"id": self.id, "initialized": initialized})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                ))
            }
            (Operation::Read, path) if path.starts_with("revoked/") => {
                let count: u64 = ctx.storage.get_as(path.as_bytes())?.unwrap_or(0);
                Ok(Response::with_data(
                    json!({"count": count}).as_object().cloned().unwrap_or_default(),
                ))
            }
            (Operation::Renew, _) => {
                if behaviour.fail_renew {
                    return Err(Error::InvalidRequest("renewal refused by the backend".into()));
                }
                let asked = req.secret.as_ref().map(|s| s.ttl).unwrap_or_default();
                let max = Duration::from_secs(behaviour.max_renew_secs);
                let ttl = if max.is_zero() { asked } else { asked.min(max) };
                Ok(Response {
                    secret: Some(Secret {
                        ttl,
                        renewable: true,
                        internal_data: Map::new(),
                    }),
                    ..Default::default()
                })
            }
            (Operation::Revoke, _) => {
                if behaviour.panic_revoke {
                    panic!("the test backend panics on revoke as told");
                }
                if behaviour.hang_revoke {
                    actix_web::rt::time::sleep(Duration::from_secs(3600)).await;
                }
                if behaviour.fail_revoke {
                    return Err(Error::InvalidRequest("database unreachable".into()));
                }
                let name = req
                    .secret
                    .as_ref()
                    .and_then(|s| s.internal_data.get("username"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let key = revoked_key(&name);
                ctx.storage
                    .write(move |tx| {
                        let n: u64 = tx.get_as(&key)?.unwrap_or(0);
                        tx.put_as(&key, &(n + 1))
                    })
                    .await?;
                Ok(Response::no_content())
            }
            _ => Err(Error::UnsupportedPath),
        }
    }
}

impl Backend for LeasingTest {
    fn handle<'a>(&'a self, ctx: &'a Context<'a>, req: &'a Request) -> BackendFuture<'a> {
        Box::pin(self.run(ctx, req))
    }

    fn initialize<'a>(&'a self, ctx: &'a Context<'a>) -> crate::logical::PeriodicFuture<'a> {
        Box::pin(async move {
            ctx.storage
                .write(|tx| {
                    let n: u64 = tx.get_as(b"initialized")?.unwrap_or(0);
                    tx.put_as(b"initialized", &(n + 1))
                })
                .await
        })
    }

    fn cleanup(&self) {
        CLEANED_UP.lock().unwrap_or_else(|e| e.into_inner()).push(self.id);
    }
}
