//! Ordered storage migrations, compiled into the server and applied at start-up by `storage::migrate`.
//! Add a file `NNNN_name.rs` exporting `MIGRATION` with the next version, then list it in `ALL`.

use crate::storage::migrate::Migration;

#[path = "0001_initial_layout.rs"]
mod m0001_initial_layout;

pub const ALL: &[Migration] = &[m0001_initial_layout::MIGRATION];
