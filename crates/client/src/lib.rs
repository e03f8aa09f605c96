//! Cairn's browser runtime without UI. The page (through its hooks) and the service worker
//! both use it, so they share one schema and one storage engine. It knows nothing of Yew.
//!
//! # Layout
//! - [`store`]: the [`Store`]: records, the transactional outbox, the device clock, the
//!   `meta` values, quarantine of unreadable data. Its storage is one interface
//!   (`store/backend`) over two backends with the same operations: `store/idb`
//!   (IndexedDB through rexie, local writes through `writer`) and `store/memory` (the
//!   in-memory fallback). Every other module reads and writes through that interface;
//!   none tells the backends apart (secrets and snapshots, which need IndexedDB, ask the
//!   store for it and get the reason when there is none).
//! - [`schema`]: object stores, versions and data migrations.
//! - [`ordered`]: ordered, paged reads of a collection by its values' `order_key`
//!   ([`Store::ordered_page`]), on an index of `records`.
//! - [`blobs`]: binary attachments (note images) as Blobs, named by their SHA-256, with
//!   upload marks until the server has them; [`blobs::plan`] decides what waits and what
//!   may be freed. Their sync (upload phase, fetching, usage) is `sync/blobs.rs`.
//! - [`error`]: [`StoreError`], every storage failure as a value.
//! - [`sync`]: the sync engine ([`SyncEngine`]), a file per concern under `sync/`: what it
//!   keeps in `meta`, the account, collections kept off sync, status, the push/pull round
//!   under a Web Lock, retries, HTTP, and notices to other contexts.
//! - `replica`: the store's side of sync: deciding by the merge rule what each remote
//!   record does (applied in one transaction per batch by the backend), the conflict
//!   log, the pull position.
//! - [`global`]: `fetch`, timers, `online` and Web Locks on the page's or worker's global.
//! - `broadcast`: cross-tab change notices ([`Subscription`]).
//! - `writer`: local writes on a plain IndexedDB connection beside rexie's (one
//!   transaction per write, its abort reason kept, e.g. a full disk), and the probe that
//!   notices an upgrade blocked by another tab.
//! - `codec`: JS ⇄ Rust values, Web Crypto randomness.
//! - [`js_record`]: records whose values stay JS values ([`JsRecord`]), the form the
//!   sync path moves records in without decoding them, and the wire shapes it reads.
//! - [`backup`]: export, import (merge or replace, in batches with progress) and clearing
//!   collections; the file format and the dry run are in `cairn_protocol::backup`.
//! - [`live`] (`sync/live.rs`): the server's stream of the account's cursor
//!   ([`live::CursorEvent`]), so a device hears of other devices' pushes as they commit.
//! - [`set_aside`]: local changes the server refused, kept out of sync with the reason
//!   ([`SetAside`]), to retry or dismiss.
//! - [`snapshots`]: local snapshots of all data (list, take, restore, delete).
//! - [`secrets`]: secrets encrypted at rest with a non-extractable device key; never synced.
//! - [`usage`]: records and bytes per collection; `navigator.storage` quota and persistence.
//!
//! Everything here runs only in a browser (window or worker); the crate compiles natively
//! so the workspace builds and lints as one, but its tests run in headless Chromium.

pub mod backup;
pub mod blobs;
mod broadcast;
mod codec;
pub mod error;
pub mod global;
pub mod js_record;
mod key_batch;
pub mod ordered;
mod replica;
pub mod schema;
pub mod secrets;
pub mod set_aside;
pub mod snapshots;
pub mod store;
pub mod sync;
pub use sync::live;
pub mod usage;
mod writer;

pub use backup::{ImportSummary, LocalState, Merged};
pub use blobs::{hash_blob, random_id, Released, StoredBlob};
pub use broadcast::Subscription;
pub use error::StoreError;
pub use js_record::JsRecord;
pub use ordered::{OrderedPage, PageOrder, PagePosition};
pub use replica::Applied;
pub use secrets::SecretError;
pub use set_aside::SetAside;
pub use snapshots::SnapshotInfo;
pub use store::{Durability, Loaded, OutboxEntry, Quarantined, Store};
pub use sync::{
    AccountSwitch, Backoff, PullProgress, StoredConflict, StoredSession, SyncEngine, SyncError,
    SyncNotices, SyncReport, SyncStatus,
};
pub use usage::{CollectionUsage, Estimate, Usage};
