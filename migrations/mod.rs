//! Ordered storage migrations, compiled into the server and applied at start-up by `storage::migrate`.
//! Add a file `NNNN_name.rs` exporting `MIGRATION` with the next version, then list it in `ALL`.

use crate::storage::migrate::Migration;

#[path = "0001_initial_layout.rs"]
mod m0001_initial_layout;
#[path = "0002_token_store_and_policies.rs"]
mod m0002_token_store_and_policies;
#[path = "0003_response_wrapping.rs"]
mod m0003_response_wrapping;
#[path = "0004_mounts_and_secrets_engines.rs"]
mod m0004_mounts_and_secrets_engines;
#[path = "0005_token_entries_with_role.rs"]
mod m0005_token_entries_with_role;
#[path = "0006_leases.rs"]
mod m0006_leases;
#[path = "0007_token_bound_cidrs.rs"]
mod m0007_token_bound_cidrs;
#[path = "0008_token_role_bound_cidrs.rs"]
mod m0008_token_role_bound_cidrs;

#[cfg(test)]
mod testing;

/// Every migration, in version order.
pub const ALL: &[Migration] = &[
    m0001_initial_layout::MIGRATION,
    m0002_token_store_and_policies::MIGRATION,
    m0003_response_wrapping::MIGRATION,
    m0004_mounts_and_secrets_engines::MIGRATION,
    m0005_token_entries_with_role::MIGRATION,
    m0006_leases::MIGRATION,
    m0007_token_bound_cidrs::MIGRATION,
    m0008_token_role_bound_cidrs::MIGRATION,
];
