//! Cairn's browser runtime without UI. The page (through its hooks) and the service worker
//! both use it, so they share one schema and one storage engine. It knows nothing of Yew.
//!
//! # Layout
//! - [`store`]: the IndexedDB database (through rexie): open, get and put [`Record`]s,
//!   the device id and the device's clock.
//!
//! Everything here runs only in a browser (window or worker); the crate compiles natively
//! so the workspace builds and lints as one, but its tests run in headless Chromium.
//!
//! [`Record`]: cairn_protocol::Record

pub mod store;

pub use store::{Store, StoreError};
