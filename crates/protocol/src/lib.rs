//! The Cairn sync protocol: the types that page, service worker and server agree on, and
//! the pure logic over them.
//!
//! This crate has no I/O and no web dependencies. It compiles natively and everything in
//! it is tested natively.
//!
//! # Layout
//! - [`hlc`]: the hybrid logical clock that orders every change ([`Hlc`], [`HlcClock`]).
//! - [`record`]: the unit of storage and sync ([`Record`]).

pub mod hlc;
pub mod record;

pub use hlc::{DeviceId, Hlc, HlcClock, HlcError};
pub use record::{Record, RecordKey};
