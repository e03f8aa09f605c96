//! The Cairn sync protocol: the types that page, service worker and server agree on, and
//! the pure logic over them. The protocol itself is described in `docs/sync-protocol.md`.
//!
//! This crate has no I/O and no web dependencies. It compiles natively and everything in
//! it is tested natively.
//!
//! # Layout
//! - [`hlc`]: the hybrid logical clock that orders every change ([`Hlc`], [`HlcClock`]).
//! - [`record`]: the unit of storage and sync ([`Record`]).
//! - [`merge`](mod@merge): the merge rule ([`merge()`]), how a device reconciles incoming
//!   records with unpushed local changes ([`reconcile`]), the server's check that a change
//!   was made from the version it holds ([`admit`]), and the [`Conflict`] a device logs.
//! - [`three_way`]: how a device combines concurrent versions of a record, by each
//!   collection's [`MergeRule`].
//! - [`limits`]: every input limit and its check, shared by server and client.
//! - [`api`]: the JSON bodies of the HTTP API.
//! - [`blobs`]: the files that travel with records (a note's images): how a record names
//!   them, by the SHA-256 of their bytes.
//! - `backup` (feature `backup`): the backup file (JSON or YAML): its format, validation,
//!   migration of older versions, and the dry-run plan of an import.

pub mod api;
#[cfg(feature = "backup")]
pub mod backup;
pub mod blobs;
pub mod hlc;
pub mod limits;
pub mod merge;
pub mod record;
pub mod three_way;

#[cfg(feature = "backup")]
pub use backup::{Backup, BackupError, FileFormat, ImportMode, Plan, Validated};
pub use hlc::{DeviceId, Hlc, HlcClock, HlcError};
pub use limits::LimitError;
pub use merge::{admit, merge, reconcile, Admit, Conflict, Merge, Pending, Reconcile, Versioned};
pub use record::{Record, RecordKey};
pub use three_way::{ConflictKind, MergeRule, MergeRules};
