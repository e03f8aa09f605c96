//! The backup file: what an export writes and an import reads, and the pure half of
//! importing: validation, migration of older versions, and the dry-run plan.
//!
//! # The format (`cairn-backup`, version 3)
//!
//! A JSON or YAML document (the same fields in both):
//!
//! | field | meaning |
//! |---|---|
//! | `format` | always `"cairn-backup"`: anything else is not a Cairn backup |
//! | `version` | the format version, [`VERSION`]; older versions are migrated on import |
//! | `app_version` | the version of the app that wrote it |
//! | `exported_at_ms` | when, in ms since the Unix epoch |
//! | `device_id` | the device that wrote it |
//! | `collections` | the collections exported: "Replace all" replaces exactly these |
//! | `record_count` | how many records follow (a cut-off file is noticed) |
//! | `secrets` | optional: the secrets, encrypted with a passphrase ([`EncryptedSecrets`]) |
//! | `records` | every [`Record`](crate::Record), tombstones included, in key order |
//! | `blobs` | optional: the images the live records name ([`crate::blobs::referenced`]), each once ([`BackupBlob`]: `{hash, name, type, size, data}`, `data` the bytes in standard base64) |
//! | `end_of_backup` | `true`, the last field: a file cut off anywhere before it is refused |
//!
//! Version 1 grouped records by collection (`data: {collection: [{id, value, hlc,
//! deleted}]}`), named the time `exported_at` and had no count, end marker or secrets.
//! Version 2 had no `blobs`: a note's images stayed on the device that took them.
//! [`parse()`] migrates it (and every later version) step by step to the current one.
//!
//! # Importing
//!
//! [`parse()`] refuses a file that is not a complete, well-formed backup of a version this
//! build knows ([`BackupError`]), and checks every record with
//! [`limits::check_record`](crate::limits::check_record); invalid records are listed in
//! [`Validated::rejected`]. Every image is checked too (a well-formed hash, base64 that
//! decodes, `size` bytes whose SHA-256 is the hash, at most
//! [`MAX_BLOB_BYTES`](crate::blobs::MAX_BLOB_BYTES)); a damaged one is listed in
//! [`Validated::rejected_blobs`] with the reason and left out, while the records are
//! kept. [`plan()`] then says, for each record, what an import would do by the merge rule
//! ([`crate::merge`](mod@crate::merge)), and how many images the file brings — nothing
//! is written by this module. A file with any rejected record must not be applied at all
//! ([`Plan::can_apply`]); a rejected image does not stop it.
//!
//! # Layout
//! - `format`: the file's types ([`Backup`], [`EncryptedSecrets`], [`BackupBlob`],
//!   [`FileFormat`], [`BackupError`]), its constants and how a backup is written
//!   ([`Backup::to_text`]).
//! - `parse`: reading a file ([`parse()`]): size, truncation, format and version checks,
//!   then every record's and every image's ([`Validated`], [`Rejected`],
//!   [`RejectedBlob`]).
//! - `migrate`: the steps from each older version to the current one (1 → 2 → 3), and a
//!   writer of version 1 documents for tests ([`to_v1`]).
//! - `plan`: the dry run of an import ([`plan()`], [`Plan`]) and the writes it makes
//!   ([`merge_writes`], [`replace_changes`]).
//!
//! - `yaml` (feature `yaml`): YAML as JSON text and back ([`yaml_to_json`],
//!   [`json_to_yaml`]), for a build that reads and writes YAML in a module of its own.
//!
//! Behind the crate's `backup` feature (it brings the base64 and SHA-256 dependencies):
//! the server does not need it. YAML is the `yaml` feature on top: without it, [`parse()`]
//! reads JSON only and [`Backup::to_text`] writes JSON only, and the caller converts YAML
//! with [`yaml_to_json`] and [`json_to_yaml`] in a build that has them (the app's
//! on-demand YAML module, `crates/yaml-module`).

mod format;
mod migrate;
mod parse;
mod plan;
#[cfg(any(feature = "yaml", test))]
mod yaml;

pub use format::{
    from_base64, sha256_hex, to_base64, Backup, BackupBlob, BackupError, EncryptedSecrets,
    FileFormat, SecretEntry, CIPHER, FORMAT, IV_BYTES, KDF, KDF_ITERATIONS, MAX_BACKUP_BYTES,
    MAX_BACKUP_RECORDS, MAX_BLOB_NAME_CHARS, MAX_BLOB_TYPE_CHARS, MAX_KDF_ITERATIONS,
    MIN_KDF_ITERATIONS, SALT_BYTES, VERSION,
};
pub use migrate::to_v1;
pub use parse::{parse, Rejected, RejectedBlob, Validated};
pub use plan::{
    merge_writes, plan, replace_changes, Action, ImportMode, LocalChange, Plan, PlanCounts,
    PlanItem,
};
#[cfg(any(feature = "yaml", test))]
pub use yaml::{json_to_yaml, yaml_to_json};

/// What the tests of every part share: a clock, records and a sample backup.
#[cfg(test)]
mod test_support {
    use serde_json::{json, Value};

    use super::Backup;
    use crate::hlc::{DeviceId, Hlc};
    use crate::record::{Record, RecordKey};

    pub const NOW: u64 = 1_700_000_000_000;

    pub fn hlc(wall: u64, device: &str) -> Hlc {
        Hlc::new(wall, 0, DeviceId::new(device).unwrap()).unwrap()
    }

    pub fn rec(collection: &str, id: &str, value: Value, wall: u64) -> Record {
        Record::new(RecordKey::new(collection, id), value, hlc(wall, "a"))
    }

    pub fn sample() -> Backup {
        Backup::new(
            "0.1.0",
            NOW,
            "dev1",
            ["notes".to_owned(), "prefs".to_owned(), "empty".to_owned()],
            vec![
                rec(
                    "notes",
                    "n2",
                    json!({"title": "two", "tags": ["x", "y"]}),
                    NOW - 5,
                ),
                rec("notes", "n1", json!("yes"), NOW - 9),
                rec(
                    "prefs",
                    "theme",
                    json!({"dark": true, "size": 1.5, "n": -3}),
                    NOW - 1,
                ),
                Record::tombstone(RecordKey::new("notes", "gone"), hlc(NOW - 2, "b")),
            ],
        )
    }
}
