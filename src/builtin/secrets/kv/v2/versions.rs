//! `delete/:path`, `undelete/:path`, `destroy/:path`: mark versions deleted, restore them, or remove their data for
//! good (the metadata keeps them as destroyed).

use super::store::{self, deletion_time};
use super::KvV2;
use crate::framework::{field, now_ns, Fields, Kind, Schema};
use crate::logical::{Error, Operation, Request, Response, StorageView, TxFail};

pub const SCHEMA: Schema = &[field("path", Kind::Str).desc("Location of the secret."), field("versions", Kind::CommaInts).desc("The versions to be archived. The versioned data will not be deleted, but it will no longer be returned in normal get requests.")];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Delete,
    Undelete,
    Destroy,
}

impl KvV2 {
    pub(super) async fn versions(
        &self,
        view: &dyn StorageView,
        key: &str,
        req: &Request,
        action: Action,
    ) -> Result<Response, Error> {
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            return Err(Error::UnsupportedOperation);
        }
        let fields = Fields::new(&req.data, SCHEMA);
        let versions: Vec<u64> = fields
            .ints("versions")
            .unwrap_or_default()
            .into_iter()
            .map(|v| v as u64)
            .collect();
        if versions.is_empty() {
            let message = if action == Action::Destroy {
                "no version number provided"
            } else {
                "No version number provided"
            };
            return Err(Error::InvalidRequest(message.into()));
        }
        let key = key.to_string();
        let now = now_ns();
        view.write(move |tx| {
            let config = store::tx_config(tx)?;
            let Some(mut meta) = store::tx_meta(tx, &key)? else {
                return Ok(());
            };
            let dva = meta.delete_version_after;
            for v in &versions {
                let Some(vm) = meta.versions.get_mut(v).filter(|vm| !vm.destroyed) else {
                    continue;
                };
                match action {
                    Action::Delete => {
                        if vm.deletion.is_none_or(|t| t >= now) {
                            vm.deletion = Some(now);
                        }
                    }
                    Action::Undelete => {
                        vm.deletion = if config.delete_version_after_disabled() {
                            None
                        } else {
                            deletion_time(now, config.delete_version_after, dva)
                        };
                    }
                    Action::Destroy => vm.destroyed = true,
                }
            }
            store::put_meta(tx, &key, &meta)?;
            if action == Action::Destroy {
                for v in &versions {
                    tx.delete(&store::version_key(&key, *v))?;
                }
            }
            Ok::<_, TxFail>(())
        })
        .await?;
        Ok(Response::no_content())
    }
}
