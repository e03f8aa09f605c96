//! Cairn's browser runtime without UI. The page (through its hooks) and the service worker
//! both use it, so they share one schema and one storage engine. It knows nothing of Yew.
//!
//! # Layout
//! - [`store`]: the [`Store`]: records, the transactional outbox, the device clock,
//!   quarantine of unreadable data, and the in-memory fallback.
//! - [`schema`]: object stores, versions and data migrations.
//! - [`error`]: [`StoreError`], every storage failure as a value.
//! - `broadcast`: cross-tab change notices ([`Subscription`]).
//! - `writer`: local writes on a plain IndexedDB connection beside rexie's (one
//!   transaction per write, its abort reason kept, e.g. a full disk), and the probe that
//!   notices an upgrade blocked by another tab.
//! - `codec`: JS ⇄ Rust values, Web Crypto randomness.
//!
//! Everything here runs only in a browser (window or worker); the crate compiles natively
//! so the workspace builds and lints as one, but its tests run in headless Chromium.

mod broadcast;
mod codec;
pub mod error;
pub mod schema;
pub mod store;
mod writer;

pub use broadcast::Subscription;
pub use error::StoreError;
pub use store::{Durability, Loaded, OutboxEntry, Quarantined, Store};
