//! The database schema: object stores, their versions, and the data migrations.
//!
//! Two kinds of change, each with its own version:
//! - the **IndexedDB version** ([`DB_VERSION`]) changes when object stores or indexes do;
//!   the browser runs the upgrade while opening, and rexie creates missing stores.
//! - the **data version** ([`DATA_VERSION`], kept in `meta`) changes when stored data must
//!   be rewritten. [`MIGRATIONS`] lists each step in order; a step is idempotent and is
//!   recorded in `meta` in the same transaction that applies it, so a crash part-way
//!   re-runs at most that step.
//!
//! A database with a higher version of either kind was written by a newer app and is
//! refused, never rewritten.
//!
//! | version | object stores | data |
//! |---|---|---|
//! | 1 | `records`, `meta` | records and the device clock |
//! | 2 | + `outbox`, `quarantine` | records written under 1 are queued for sync |
//! | 3 | + `conflicts` | (none: the new store starts empty) |
//! | 4 | (declared `snapshots`, `blobs`, `secrets`, `keys`, but created none) | |
//! | 5 | + `snapshots`, `blobs`, `secrets`, `keys` | (none: the new stores start empty) |
//! | 6 | + `set_aside` | (none: the new store starts empty) |
//! | 7 | + index [`BY_ORDER`] on `records` | (none: the browser indexes existing records) |
//! | 8 | + [`UPLOADS`] | (none: blob rows from before keep their random ids, local only, unmarked) |

use rexie::{Index, ObjectStore, RexieBuilder};

pub(crate) const RECORDS: &str = "records";
/// The index of `records` by `[collection, value.order_key]`, which ordered, paged reads
/// walk ([`crate::ordered`]). Records without a key at `value.order_key` (tombstones
/// among them) are not in it.
pub const BY_ORDER: &str = "by_order";
pub(crate) const OUTBOX: &str = "outbox";
pub(crate) const META: &str = "meta";
pub(crate) const QUARANTINE: &str = "quarantine";
/// Local changes that lost to a change from elsewhere, keyed `[collection, id, lost_hlc]`.
pub(crate) const CONFLICTS: &str = "conflicts";
/// Local changes the server refused (or that break a limit), taken out of the outbox
/// with the reason, keyed like `records`: kept until retried, dismissed or edited again.
pub(crate) const SET_ASIDE: &str = "set_aside";
/// Local snapshots of all data, keyed by `id`. Never synced.
pub const SNAPSHOTS: &str = "snapshots";
/// Binary attachments (images of notes) as Blobs, keyed by `id`: the hash of their bytes
/// (rows from before version 8 keep a random id). See [`crate::blobs`].
pub const BLOBS: &str = "blobs";
/// Upload marks: `{hash, marked_at_ms}` keyed by `hash`, one per blob added here that
/// the server may not hold yet; written in the same transaction as the blob row.
pub const UPLOADS: &str = "uploads";
/// Secrets (e.g. an API key), AES-GCM ciphertext keyed by `name`. Never synced.
pub const SECRETS: &str = "secrets";
/// Non-extractable WebCrypto keys (`CryptoKey` objects), out-of-line keys.
pub const KEYS: &str = "keys";

pub(crate) const META_DEVICE_ID: &str = "device_id";
/// The device's clock: the latest timestamp any of its contexts issued or stored. Every
/// write reads it and moves past it in the write's own transaction, so it never moves
/// backwards whichever context (tab, worker) wrote last.
pub(crate) const META_CLOCK: &str = "clock";
/// How far this device's clock is from the sync server's, in ms (server minus local).
pub(crate) const META_CLOCK_OFFSET: &str = "clock_offset";
pub(crate) const META_DATA_VERSION: &str = "data_version";
/// The signed-in session ([`crate::sync::StoredSession`]).
pub(crate) const META_SESSION: &str = "session";
/// Where pulling resumes, and for which account ([`crate::sync::PullPosition`]).
pub(crate) const META_PULL_POSITION: &str = "pull_position";
/// Collections this device does not sync (a list of names).
pub(crate) const META_SYNC_EXCLUDED: &str = "sync_excluded";
/// How the last sync went ([`crate::sync::LastSync`]).
pub(crate) const META_LAST_SYNC: &str = "last_sync";
/// How each collection combines concurrent versions, as the app set it
/// ([`crate::Store::set_merge_rules`]), so the service worker merges as the page does.
pub(crate) const META_MERGE_RULES: &str = "merge_rules";

/// The IndexedDB version this build opens.
pub const DB_VERSION: u32 = 8;
/// The data version this build writes.
pub const DATA_VERSION: u32 = 2;

/// A data migration: brings data from `to - 1` to `to`.
pub struct Migration {
    pub to: u32,
    pub description: &'static str,
}

/// Every data migration, in order. `store::idb::run_migration` holds the code of each.
pub const MIGRATIONS: &[Migration] = &[Migration {
    to: 2,
    description: "queue records written before the outbox existed, so they get synced",
}];

/// The current schema, for rexie to create or upgrade to.
pub(crate) fn builder(name: &str) -> RexieBuilder {
    let by_key = ["collection", "id"];
    rexie::Rexie::builder(name)
        .version(DB_VERSION)
        .add_object_store(
            ObjectStore::new(RECORDS).key_path_array(by_key).add_index(
                // Said explicitly, so that a later upgrade finds it equal and keeps it.
                Index::new_array(BY_ORDER, ["collection", "value.order_key"])
                    .unique(false)
                    .multi_entry(false),
            ),
        )
        .add_object_store(ObjectStore::new(OUTBOX).key_path_array(by_key))
        .add_object_store(ObjectStore::new(QUARANTINE).key_path_array(by_key))
        .add_object_store(ObjectStore::new(SET_ASIDE).key_path_array(by_key))
        .add_object_store(ObjectStore::new(CONFLICTS).key_path_array([
            "collection",
            "id",
            "lost_hlc",
        ]))
        .add_object_store(ObjectStore::new(META))
        .add_object_store(ObjectStore::new(SNAPSHOTS).key_path("id"))
        .add_object_store(ObjectStore::new(BLOBS).key_path("id"))
        .add_object_store(ObjectStore::new(UPLOADS).key_path("hash"))
        .add_object_store(ObjectStore::new(SECRETS).key_path("name"))
        .add_object_store(ObjectStore::new(KEYS))
}
