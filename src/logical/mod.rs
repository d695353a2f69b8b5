//! What every backend may see, and nothing more: requests and responses, their errors, the backend contract, the
//! backend's storage view and the system view. The core depends on this layer; backends depend on it (and on
//! `framework`) and never on the core.

pub mod audit;
pub mod auth;
pub mod backend;
pub mod error;
pub mod openapi;
pub mod request;
pub mod response;
pub mod secret;
pub mod storage;
pub mod testing;

pub use audit::{AuditDeviceConfig, AuditFactory, AuditSink};
pub use auth::Auth;
pub use backend::{
    AliasFuture, Backend, BackendFuture, Context, ExistenceFuture, PeriodicFuture, SpecialPaths, StorageScope,
    SystemView,
};
pub use error::{Error, RateLimited};
pub use request::{ClientToken, Operation, Request};
pub use response::Response;
pub use secret::Secret;
pub use storage::{BarrierView, MemoryView, StorageView, TxFail, ViewTxn};
