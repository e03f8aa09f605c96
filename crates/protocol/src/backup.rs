//! The backup file: what an export writes and an import reads, and the pure half of
//! importing: validation, migration of older versions, and the dry-run plan.
//!
//! # The format (`cairn-backup`, version 2)
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
//! | `records` | every [`Record`], tombstones included, in key order |
//! | `end_of_backup` | `true`, the last field: a file cut off anywhere before it is refused |
//!
//! Version 1 grouped records by collection (`data: {collection: [{id, value, hlc,
//! deleted}]}`), named the time `exported_at` and had no count, end marker or secrets.
//! [`parse`] migrates it (and every later version) step by step to the current one.
//!
//! # Importing
//!
//! [`parse`] refuses a file that is not a complete, well-formed backup of a version this
//! build knows ([`BackupError`]), and checks every record with
//! [`limits::check_record`](crate::limits::check_record); invalid records are listed in
//! [`Validated::rejected`]. [`plan`] then says, for each record, what an import would do
//! by the merge rule ([`crate::merge`]) — nothing is written by this module. A file with
//! any rejected record must not be applied at all ([`Plan::can_apply`]).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::limits::{check_collection, check_record};
use crate::merge::{merge, Merge};
use crate::record::{Record, RecordKey};

/// The `format` of every Cairn backup.
pub const FORMAT: &str = "cairn-backup";
/// The format version this build writes.
pub const VERSION: u32 = 2;
/// Largest backup file read, in bytes.
pub const MAX_BACKUP_BYTES: usize = 32 * 1024 * 1024;
/// Most records in one backup.
pub const MAX_BACKUP_RECORDS: usize = 100_000;
/// The key derivation of [`EncryptedSecrets`].
pub const KDF: &str = "PBKDF2-SHA256";
/// The cipher of [`EncryptedSecrets`].
pub const CIPHER: &str = "AES-256-GCM";
/// PBKDF2 iterations of new exports (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const KDF_ITERATIONS: u32 = 600_000;
/// Fewest iterations an imported file may name (weaker files are refused).
pub const MIN_KDF_ITERATIONS: u32 = 200_000;
/// Most iterations an imported file may name (a file must not hang the page).
pub const MAX_KDF_ITERATIONS: u32 = 10_000_000;
/// Bytes of the random PBKDF2 salt.
pub const SALT_BYTES: usize = 16;
/// Bytes of the random AES-GCM IV.
pub const IV_BYTES: usize = 12;

/// The two encodings of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Json,
    Yaml,
}

impl FileFormat {
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Json => "json",
            FileFormat::Yaml => "yaml",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            FileFormat::Json => "application/json",
            FileFormat::Yaml => "application/yaml",
        }
    }

    /// JSON if the text starts (after white space) with `{`, YAML otherwise.
    pub fn detect(text: &str) -> FileFormat {
        match text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .as_bytes()
            .first()
        {
            Some(b'{') => FileFormat::Json,
            _ => FileFormat::Yaml,
        }
    }
}

/// A backup of the current version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub format: String,
    pub version: u32,
    pub app_version: String,
    pub exported_at_ms: u64,
    pub device_id: String,
    pub collections: Vec<String>,
    pub record_count: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<EncryptedSecrets>,
    pub records: Vec<Record>,
    pub end_of_backup: bool,
}

/// Secrets in a backup: a JSON list of [`SecretEntry`], AES-256-GCM encrypted with a key
/// derived from the user's passphrase by PBKDF2-SHA256. Salt, IV and ciphertext are
/// standard base64; the ciphertext ends with GCM's 16-byte tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedSecrets {
    pub kdf: String,
    pub iterations: u32,
    pub salt: String,
    pub cipher: String,
    pub iv: String,
    pub ciphertext: String,
    /// How many secrets are inside (shown before the passphrase is asked for).
    pub count: usize,
}

/// One secret, as it is inside [`EncryptedSecrets`] once decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEntry {
    pub name: String,
    pub value: String,
}

impl Backup {
    /// A backup of `records` (sorted by key here) from `collections`.
    pub fn new(
        app_version: &str,
        exported_at_ms: u64,
        device_id: &str,
        collections: impl IntoIterator<Item = String>,
        mut records: Vec<Record>,
    ) -> Backup {
        records.sort_by(|a, b| (&a.collection, &a.id).cmp(&(&b.collection, &b.id)));
        let mut collections: Vec<String> = collections.into_iter().collect();
        collections.extend(records.iter().map(|r| r.collection.clone()));
        collections.sort();
        collections.dedup();
        Backup {
            format: FORMAT.to_owned(),
            version: VERSION,
            app_version: app_version.to_owned(),
            exported_at_ms,
            device_id: device_id.to_owned(),
            collections,
            record_count: records.len(),
            secrets: None,
            records,
            end_of_backup: true,
        }
    }

    /// The file's text.
    pub fn to_text(&self, format: FileFormat) -> Result<String, BackupError> {
        let encode = |e: String| BackupError::Encode(e);
        match format {
            FileFormat::Json => {
                serde_json::to_string_pretty(self).map_err(|e| encode(e.to_string()))
            }
            FileFormat::Yaml => serde_norway::to_string(self).map_err(|e| encode(e.to_string())),
        }
    }

    /// A file name like `cairn-backup-2026-11-22T0215.json` (`stamp` is the caller's
    /// local time, already formatted).
    pub fn file_name(stamp: &str, format: FileFormat) -> String {
        format!("{FORMAT}-{stamp}.{}", format.extension())
    }
}

/// Why a file cannot be imported at all. Each message is for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {bytes} bytes; backups of up to {max} bytes can be imported")]
    TooLarge { bytes: usize, max: usize },
    #[error("the file is incomplete (it was cut off): {0}")]
    Truncated(String),
    #[error("the file is not valid {format}: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },
    #[error("this is not a Cairn backup ({0})")]
    NotABackup(String),
    #[error("this backup has format version {0}, which this app does not know")]
    UnsupportedVersion(String),
    #[error("this backup was made by a newer version of Cairn (format version {found}; this app reads up to {supported}); update the app to import it")]
    NewerVersion { found: u64, supported: u32 },
    #[error("the backup is damaged: {0}")]
    Malformed(String),
    #[error("the backup holds {count} records; at most {max} can be imported")]
    TooManyRecords { count: usize, max: usize },
    #[error("the encrypted secrets in the backup are damaged: {0}")]
    Secrets(String),
    #[error("the backup could not be written: {0}")]
    Encode(String),
}

/// A record of the file that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its position in the file's records (0-based).
    pub index: usize,
    /// `collection/id`, when the record got that far.
    pub key: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Some(key) => write!(f, "record {} ({key}): {}", self.index + 1, self.reason),
            None => write!(f, "record {}: {}", self.index + 1, self.reason),
        }
    }
}

/// A parsed backup: its valid records, and those rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The backup, of the current version, holding only the valid records.
    pub backup: Backup,
    /// The version the file had, when it was migrated from an older one.
    pub migrated_from: Option<u32>,
    pub rejected: Vec<Rejected>,
}

/// One migration step: turns a backup of version `to - 1` into version `to`.
struct Migration {
    to: u32,
    run: fn(Value) -> Result<Value, String>,
}

/// Every migration, in order.
const MIGRATIONS: &[Migration] = &[Migration {
    to: 2,
    run: v1_to_v2,
}];

/// Version 1 → 2: records flat instead of grouped, collections listed, count and end
/// marker added, `exported_at` renamed `exported_at_ms`, the device unknown.
fn v1_to_v2(v1: Value) -> Result<Value, String> {
    let Value::Object(mut v1) = v1 else {
        return Err("not an object".into());
    };
    let data = match v1.remove("data") {
        Some(Value::Object(data)) => data,
        Some(_) => return Err("`data` is not a map of collections".into()),
        None => return Err("`data` is missing".into()),
    };
    let mut collections = Vec::new();
    let mut records = Vec::new();
    for (collection, entries) in data {
        let Value::Array(entries) = entries else {
            return Err(format!("collection {collection:?} is not a list"));
        };
        for entry in entries {
            let Value::Object(mut entry) = entry else {
                return Err(format!("an entry of {collection:?} is not an object"));
            };
            entry.insert("collection".into(), Value::String(collection.clone()));
            records.push(Value::Object(entry));
        }
        collections.push(Value::String(collection));
    }
    Ok(json!({
        "format": FORMAT,
        "version": 2,
        "app_version": v1.remove("app_version").unwrap_or(json!("unknown")),
        "exported_at_ms": v1.remove("exported_at").unwrap_or(json!(0)),
        "device_id": "",
        "collections": collections,
        "record_count": records.len(),
        "records": records,
        "end_of_backup": true,
    }))
}

/// The header of a current-version backup, records not yet decoded.
#[derive(Deserialize)]
struct RawBackup {
    app_version: String,
    exported_at_ms: u64,
    device_id: String,
    collections: Vec<String>,
    record_count: Option<usize>,
    #[serde(default)]
    secrets: Option<EncryptedSecrets>,
    records: Option<Vec<Value>>,
    #[serde(default)]
    end_of_backup: bool,
}

/// Reads and validates a backup file (JSON or YAML, detected), migrating older versions.
/// `now_ms` is this device's clock, for [`check_record`]'s future-date limit.
pub fn parse(text: &str, now_ms: u64) -> Result<Validated, BackupError> {
    if text.len() > MAX_BACKUP_BYTES {
        return Err(BackupError::TooLarge {
            bytes: text.len(),
            max: MAX_BACKUP_BYTES,
        });
    }
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(BackupError::Empty);
    }
    let document = read_document(text)?;
    let Value::Object(header) = &document else {
        return Err(BackupError::NotABackup(
            "the file holds no fields at its top level".into(),
        ));
    };
    match header.get("format") {
        Some(Value::String(f)) if f == FORMAT => {}
        Some(Value::String(f)) => {
            return Err(BackupError::NotABackup(format!("its format is {f:?}")))
        }
        _ => {
            return Err(BackupError::NotABackup(
                "it has no \"format\": \"cairn-backup\" field".into(),
            ))
        }
    }
    let version = match header.get("version") {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| BackupError::UnsupportedVersion(n.to_string()))?,
        Some(other) => return Err(BackupError::UnsupportedVersion(other.to_string())),
        None => return Err(BackupError::UnsupportedVersion("(none)".into())),
    };
    if version > u64::from(VERSION) {
        return Err(BackupError::NewerVersion {
            found: version,
            supported: VERSION,
        });
    }
    if version == 0 {
        return Err(BackupError::UnsupportedVersion("0".into()));
    }
    let from = version as u32;
    let mut document = document;
    for step in MIGRATIONS.iter().filter(|m| m.to > from) {
        document = (step.run)(document).map_err(|e| {
            BackupError::Malformed(format!(
                "cannot read it as format version {}: {e}",
                step.to - 1
            ))
        })?;
    }
    let raw: RawBackup =
        serde_json::from_value(document).map_err(|e| BackupError::Malformed(e.to_string()))?;
    let Some(raw_records) = raw.records else {
        return Err(BackupError::Truncated("the records are missing".into()));
    };
    let count = raw_records.len();
    if raw.record_count != Some(count) || !raw.end_of_backup {
        return Err(BackupError::Truncated(match raw.record_count {
            Some(expected) if expected != count => {
                format!("it should hold {expected} records but holds {count}")
            }
            _ => "its end is missing".into(),
        }));
    }
    if count > MAX_BACKUP_RECORDS {
        return Err(BackupError::TooManyRecords {
            count,
            max: MAX_BACKUP_RECORDS,
        });
    }
    for collection in &raw.collections {
        check_collection(collection).map_err(|e| BackupError::Malformed(e.to_string()))?;
    }
    if let Some(secrets) = &raw.secrets {
        check_secrets(secrets)?;
    }

    let mut records = Vec::with_capacity(count);
    let mut rejected = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, raw) in raw_records.into_iter().enumerate() {
        let key = record_key_of(&raw);
        let reject = |reason: String| Rejected {
            index,
            key: key.clone(),
            reason,
        };
        let record = match serde_json::from_value::<Record>(raw) {
            Ok(record) => record,
            Err(e) => {
                rejected.push(reject(format!("not a valid record: {e}")));
                continue;
            }
        };
        if let Err(e) = check_record(&record, now_ms) {
            rejected.push(reject(e.to_string()));
            continue;
        }
        if !seen.insert(record.key()) {
            rejected.push(reject("appears more than once in the file".into()));
            continue;
        }
        records.push(record);
    }
    let mut collections = raw.collections;
    collections.extend(records.iter().map(|r| r.collection.clone()));
    collections.sort();
    collections.dedup();
    Ok(Validated {
        backup: Backup {
            format: FORMAT.to_owned(),
            version: VERSION,
            app_version: raw.app_version,
            exported_at_ms: raw.exported_at_ms,
            device_id: raw.device_id,
            collections,
            record_count: records.len(),
            secrets: raw.secrets,
            records,
            end_of_backup: true,
        },
        migrated_from: (from < VERSION).then_some(from),
        rejected,
    })
}

fn read_document(text: &str) -> Result<Value, BackupError> {
    match FileFormat::detect(text) {
        FileFormat::Json => serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                BackupError::Truncated(e.to_string())
            } else {
                BackupError::Syntax {
                    format: "JSON",
                    message: e.to_string(),
                }
            }
        }),
        FileFormat::Yaml => serde_norway::from_str(text).map_err(|e| BackupError::Syntax {
            format: "YAML (or JSON)",
            message: first_line(&e.to_string()),
        }),
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// `collection/id` of a raw record, if it has both as strings.
fn record_key_of(raw: &Value) -> Option<String> {
    let field = |name: &str| raw.get(name).and_then(Value::as_str);
    Some(format!("{}/{}", field("collection")?, field("id")?))
}

fn check_secrets(s: &EncryptedSecrets) -> Result<(), BackupError> {
    let bad = |m: String| Err(BackupError::Secrets(m));
    if s.kdf != KDF {
        return bad(format!("unknown key derivation {:?}", s.kdf));
    }
    if s.cipher != CIPHER {
        return bad(format!("unknown cipher {:?}", s.cipher));
    }
    if !(MIN_KDF_ITERATIONS..=MAX_KDF_ITERATIONS).contains(&s.iterations) {
        return bad(format!(
            "{} key-derivation iterations; {MIN_KDF_ITERATIONS} to {MAX_KDF_ITERATIONS} are accepted",
            s.iterations
        ));
    }
    let salt = from_base64(&s.salt).map_err(BackupError::Secrets)?;
    let iv = from_base64(&s.iv).map_err(BackupError::Secrets)?;
    let ciphertext = from_base64(&s.ciphertext).map_err(BackupError::Secrets)?;
    if salt.len() < SALT_BYTES {
        return bad(format!(
            "the salt is {} bytes, fewer than {SALT_BYTES}",
            salt.len()
        ));
    }
    if iv.len() != IV_BYTES {
        return bad(format!("the IV is {} bytes, not {IV_BYTES}", iv.len()));
    }
    if ciphertext.len() < 16 {
        return bad("the ciphertext is shorter than its authentication tag".into());
    }
    Ok(())
}

/// Standard base64 with padding.
pub fn to_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64.
pub fn from_base64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("invalid base64: {e}"))
}

/// How an import treats what is already on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// By the merge rule: each record of the file is taken only where it is newer (by
    /// clock) than the device's version, keeping its clock; newer local data wins.
    Merge,
    /// The file's collections become exactly what the file holds: its records are
    /// written as new changes (so they win everywhere once synced), and records of those
    /// collections that are not in the file are deleted (tombstones, so deletions sync).
    Replace,
}

/// What an import does with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// A record the device does not have (or has deleted) appears.
    Add,
    /// A record the device has gets the file's value.
    Update,
    /// A record the device has is deleted.
    Delete,
    /// Nothing changes: the device holds the same version (or the same value).
    Unchanged,
    /// The device's version is newer (merge only): it is kept.
    Older,
}

/// One record's fate in an import.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanItem {
    pub key: RecordKey,
    pub action: Action,
    /// The file's version; `None` for a local record that "Replace all" deletes because
    /// the file does not have it.
    pub incoming: Option<Record>,
    /// Merge only: the device's version is an unsynced change that loses to the file's
    /// (it goes to the conflict log).
    pub conflict: bool,
}

/// Counts of a [`Plan`], for the dry-run report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanCounts {
    pub add: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
    pub older: usize,
    pub conflicts: usize,
    pub rejected: usize,
}

/// What an import would do: the dry-run report, and the list of writes to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub mode: ImportMode,
    pub items: Vec<PlanItem>,
    pub counts: PlanCounts,
    pub rejected: Vec<Rejected>,
}

impl Plan {
    /// False when the file has an invalid record: then nothing may be imported.
    pub fn can_apply(&self) -> bool {
        self.rejected.is_empty()
    }

    /// The items that change something, in order.
    pub fn writes(&self) -> impl Iterator<Item = &PlanItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.action, Action::Add | Action::Update | Action::Delete))
    }

    pub fn write_count(&self) -> usize {
        self.counts.add + self.counts.update + self.counts.delete
    }
}

/// Plans importing `validated` into a device holding `local` (every record, tombstones
/// included), of which the keys in `pending` are unsynced local changes. Pure: nothing is
/// written. "Replace" acts on the collections the backup names.
pub fn plan(
    validated: &Validated,
    local: &BTreeMap<RecordKey, Record>,
    pending: &BTreeSet<RecordKey>,
    mode: ImportMode,
) -> Plan {
    let live = |r: Option<&Record>| r.is_some_and(|r| !r.deleted);
    let mut items = Vec::with_capacity(validated.backup.records.len());
    for incoming in &validated.backup.records {
        let key = incoming.key();
        let held = local.get(&key);
        let (action, conflict) = match mode {
            ImportMode::Merge => match merge(held.map(|r| &r.hlc), &incoming.hlc) {
                Merge::Duplicate => (Action::Unchanged, false),
                Merge::Keep => (Action::Older, false),
                Merge::Take => {
                    let action = match (live(held), incoming.deleted) {
                        (false, false) => Action::Add,
                        (true, false) => Action::Update,
                        (true, true) => Action::Delete,
                        // A deletion of something the device does not have: nothing to
                        // show, but storing the tombstone keeps the deletion known.
                        (false, true) => Action::Unchanged,
                    };
                    let conflict = held.is_some() && pending.contains(&key);
                    (action, conflict)
                }
            },
            ImportMode::Replace => {
                let action = match (held.filter(|r| !r.deleted), incoming.deleted) {
                    (None, false) => Action::Add,
                    (Some(h), false) if h.value == incoming.value => Action::Unchanged,
                    (Some(_), false) => Action::Update,
                    (Some(_), true) => Action::Delete,
                    (None, true) => Action::Unchanged,
                };
                (action, false)
            }
        };
        items.push(PlanItem {
            key,
            action,
            incoming: Some(incoming.clone()),
            conflict,
        });
    }
    if mode == ImportMode::Replace {
        let in_file: BTreeSet<RecordKey> =
            validated.backup.records.iter().map(Record::key).collect();
        let scope: BTreeSet<&str> = validated
            .backup
            .collections
            .iter()
            .map(String::as_str)
            .collect();
        for (key, held) in local {
            if !held.deleted && scope.contains(key.collection.as_str()) && !in_file.contains(key) {
                items.push(PlanItem {
                    key: key.clone(),
                    action: Action::Delete,
                    incoming: None,
                    conflict: false,
                });
            }
        }
    }
    let mut counts = PlanCounts {
        rejected: validated.rejected.len(),
        ..PlanCounts::default()
    };
    for item in &items {
        match item.action {
            Action::Add => counts.add += 1,
            Action::Update => counts.update += 1,
            Action::Delete => counts.delete += 1,
            Action::Unchanged => counts.unchanged += 1,
            Action::Older => counts.older += 1,
        }
        counts.conflicts += usize::from(item.conflict);
    }
    Plan {
        mode,
        items,
        counts,
        rejected: validated.rejected.clone(),
    }
}

/// The records a merge import writes: the file's versions that beat the device's,
/// tombstones of records the device never had included (they keep the deletion known).
pub fn merge_writes(plan: &Plan) -> Vec<Record> {
    plan.items
        .iter()
        .filter(|i| {
            matches!(i.action, Action::Add | Action::Update | Action::Delete)
                || (i.action == Action::Unchanged
                    && i.incoming.as_ref().is_some_and(|r| r.deleted)
                    && !i.conflict)
        })
        .filter_map(|i| i.incoming.clone())
        .collect()
}

/// A change "Replace all" makes as a new local change.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalChange {
    Put(RecordKey, Value),
    Delete(RecordKey),
}

impl LocalChange {
    /// The record it changes.
    pub fn key(&self) -> RecordKey {
        match self {
            LocalChange::Put(key, _) | LocalChange::Delete(key) => key.clone(),
        }
    }
}

/// The local changes a replace import makes, in order.
pub fn replace_changes(plan: &Plan) -> Vec<LocalChange> {
    plan.writes()
        .map(|item| match (&item.action, &item.incoming) {
            (Action::Add | Action::Update, Some(r)) => {
                LocalChange::Put(item.key.clone(), r.value.clone())
            }
            _ => LocalChange::Delete(item.key.clone()),
        })
        .collect()
}

/// A v1 document holding `records`, as Cairn's first exports were (for tests and tools).
pub fn to_v1(app_version: &str, exported_at_ms: u64, records: &[Record]) -> Value {
    let mut data: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in records {
        data.entry(r.collection.clone()).or_default().push(json!({
            "id": r.id, "value": r.value, "hlc": r.hlc, "deleted": r.deleted,
        }));
    }
    let mut doc = Map::new();
    doc.insert("format".into(), json!(FORMAT));
    doc.insert("version".into(), json!(1));
    doc.insert("app_version".into(), json!(app_version));
    doc.insert("exported_at".into(), json!(exported_at_ms));
    doc.insert("data".into(), json!(data));
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::{DeviceId, Hlc};
    use crate::limits::MAX_RECORD_BYTES;

    const NOW: u64 = 1_700_000_000_000;

    fn hlc(wall: u64, device: &str) -> Hlc {
        Hlc::new(wall, 0, DeviceId::new(device).unwrap()).unwrap()
    }

    fn rec(collection: &str, id: &str, value: Value, wall: u64) -> Record {
        Record::new(RecordKey::new(collection, id), value, hlc(wall, "a"))
    }

    fn sample() -> Backup {
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

    #[test]
    fn json_and_yaml_round_trip() {
        let backup = sample();
        for format in [FileFormat::Json, FileFormat::Yaml] {
            let text = backup.to_text(format).unwrap();
            assert_eq!(FileFormat::detect(&text), format, "{text}");
            let parsed = parse(&text, NOW).unwrap();
            assert_eq!(parsed.backup, backup, "{format:?}:\n{text}");
            assert!(parsed.rejected.is_empty());
            assert_eq!(parsed.migrated_from, None);
        }
    }

    #[test]
    fn records_are_sorted_and_collections_listed() {
        let b = sample();
        let ids: Vec<_> = b.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["gone", "n1", "n2", "theme"]);
        assert_eq!(b.collections, ["empty", "notes", "prefs"]);
        assert_eq!(b.record_count, 4);
    }

    #[test]
    fn carries_format_version_app_version_and_time() {
        let text = sample().to_text(FileFormat::Json).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format"], "cairn-backup");
        assert_eq!(v["version"], 2);
        assert_eq!(v["app_version"], "0.1.0");
        assert_eq!(v["exported_at_ms"], NOW);
    }

    #[test]
    fn encrypted_secrets_round_trip_and_are_checked() {
        let mut b = sample();
        let secrets = EncryptedSecrets {
            kdf: KDF.into(),
            iterations: KDF_ITERATIONS,
            salt: to_base64(&[1; SALT_BYTES]),
            cipher: CIPHER.into(),
            iv: to_base64(&[2; IV_BYTES]),
            ciphertext: to_base64(&[3; 40]),
            count: 2,
        };
        b.secrets = Some(secrets.clone());
        for format in [FileFormat::Json, FileFormat::Yaml] {
            let parsed = parse(&b.to_text(format).unwrap(), NOW).unwrap();
            assert_eq!(parsed.backup.secrets.as_ref(), Some(&secrets));
        }
        for broken in [
            EncryptedSecrets {
                iterations: 1000,
                ..secrets.clone()
            },
            EncryptedSecrets {
                kdf: "MD5".into(),
                ..secrets.clone()
            },
            EncryptedSecrets {
                iv: to_base64(&[2; 8]),
                ..secrets.clone()
            },
            EncryptedSecrets {
                salt: "!!".into(),
                ..secrets.clone()
            },
        ] {
            b.secrets = Some(broken);
            let err = parse(&b.to_text(FileFormat::Json).unwrap(), NOW).unwrap_err();
            assert!(matches!(err, BackupError::Secrets(_)), "{err}");
        }
    }

    #[test]
    fn a_truncated_file_is_refused() {
        for format in [FileFormat::Json, FileFormat::Yaml] {
            let text = sample().to_text(format).unwrap();
            for cut in [text.len() / 3, text.len() / 2, text.len() - 25] {
                let err = parse(&text[..cut], NOW).unwrap_err();
                assert!(
                    matches!(err, BackupError::Truncated(_) | BackupError::Syntax { .. }),
                    "{format:?} cut at {cut}: {err}"
                );
            }
        }
        let json = sample().to_text(FileFormat::Json).unwrap();
        assert!(matches!(
            parse(&json[..json.len() / 2], NOW),
            Err(BackupError::Truncated(_))
        ));
        // YAML cut exactly after a record is still well-formed YAML: the count and
        // the end marker notice it.
        let yaml = sample().to_text(FileFormat::Yaml).unwrap();
        let last = yaml.rfind("- collection").unwrap();
        assert!(matches!(
            parse(&yaml[..last], NOW),
            Err(BackupError::Truncated(_))
        ));
    }

    #[test]
    fn other_formats_are_refused() {
        let cases = [
            (r#"{"name": "my-app", "version": "1.0.0"}"#, "NotABackup"),
            (r#"{"format": "other-backup", "version": 1}"#, "NotABackup"),
            ("[1, 2, 3]", "NotABackup"),
            ("just some text", "NotABackup"),
            ("PK\u{3}\u{4}\u{0}binary", "Syntax"),
            ("{ not json", "Syntax"),
            ("", "Empty"),
            (
                r#"{"format": "cairn-backup", "version": 9}"#,
                "NewerVersion",
            ),
            (
                r#"{"format": "cairn-backup", "version": "two"}"#,
                "UnsupportedVersion",
            ),
            (
                r#"{"format": "cairn-backup", "version": 0}"#,
                "UnsupportedVersion",
            ),
            (r#"{"format": "cairn-backup", "version": 2}"#, "Malformed"),
        ];
        for (text, expected) in cases {
            let err = parse(text, NOW).unwrap_err();
            let kind = format!("{err:?}");
            assert!(kind.starts_with(expected), "{text:?}: {kind}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn too_large_and_too_many_are_refused() {
        let big = " ".repeat(MAX_BACKUP_BYTES + 1);
        assert!(matches!(
            parse(&big, NOW),
            Err(BackupError::TooLarge { .. })
        ));
        let mut v: Value = serde_json::to_value(sample()).unwrap();
        let many = vec![v["records"][0].clone(); MAX_BACKUP_RECORDS + 1];
        v["record_count"] = json!(many.len());
        v["records"] = json!(many);
        assert!(matches!(
            parse(&v.to_string(), NOW),
            Err(BackupError::TooManyRecords { .. })
        ));
    }

    #[test]
    fn invalid_records_are_rejected_with_reasons() {
        let mut v: Value = serde_json::to_value(sample()).unwrap();
        let records = v["records"].as_array_mut().unwrap();
        records[0]["collection"] = json!("Bad Name");
        records[1]["hlc"] = json!("not-a-clock");
        records[2]["value"] = json!("x".repeat(MAX_RECORD_BYTES + 1));
        let copy = records[3].clone();
        records.push(copy);
        let far = hlc(NOW + 3 * 86_400_000, "a");
        records.push(json!({"collection": "notes", "id": "future", "value": 1, "hlc": far}));
        records.push(json!({"collection": "notes", "id": "zombie", "value": 1, "hlc": hlc(1, "a"), "deleted": true}));
        records.push(json!({"collection": "notes", "value": 1, "hlc": hlc(1, "a")}));
        v["record_count"] = json!(records.len());
        let parsed = parse(&v.to_string(), NOW).unwrap();
        let reasons: Vec<String> = parsed.rejected.iter().map(ToString::to_string).collect();
        assert_eq!(parsed.rejected.len(), 7, "{reasons:#?}");
        let expect = [
            "collection name",
            "not a valid record",
            "more than the",
            "more than once",
            "in the future",
            "still carries a value",
            "not a valid record",
        ];
        for (reason, part) in reasons.iter().zip(expect) {
            assert!(reason.contains(part), "{reason} lacks {part:?}");
        }
        assert_eq!(parsed.backup.records.len(), 1);
        let plan = plan(
            &parsed,
            &BTreeMap::new(),
            &BTreeSet::new(),
            ImportMode::Merge,
        );
        assert!(!plan.can_apply());
        assert_eq!(plan.counts.rejected, 7);
    }

    #[test]
    fn version_1_is_migrated() {
        let backup = sample();
        let v1 = to_v1("0.0.9", NOW - 100, &backup.records);
        for text in [
            serde_json::to_string(&v1).unwrap(),
            serde_norway::to_string(&v1).unwrap(),
        ] {
            let parsed = parse(&text, NOW).unwrap();
            assert_eq!(parsed.migrated_from, Some(1));
            let b = parsed.backup;
            assert_eq!(b.version, VERSION);
            assert_eq!(b.app_version, "0.0.9");
            assert_eq!(b.exported_at_ms, NOW - 100);
            assert_eq!(b.records, backup.records);
            assert_eq!(b.collections, ["notes", "prefs"]);
        }
        let broken = json!({"format": FORMAT, "version": 1, "data": [1]});
        assert!(matches!(
            parse(&broken.to_string(), NOW),
            Err(BackupError::Malformed(_))
        ));
    }

    fn local(records: &[Record]) -> BTreeMap<RecordKey, Record> {
        records.iter().map(|r| (r.key(), r.clone())).collect()
    }

    fn validated(records: Vec<Record>, collections: &[&str]) -> Validated {
        Validated {
            backup: Backup::new(
                "t",
                NOW,
                "d",
                collections.iter().map(|c| c.to_string()),
                records,
            ),
            migrated_from: None,
            rejected: Vec::new(),
        }
    }

    fn action_of(plan: &Plan, id: &str) -> (Action, bool) {
        let item = plan.items.iter().find(|i| i.key.id == id).unwrap();
        (item.action, item.conflict)
    }

    #[test]
    fn merge_plan_classifies_by_clock() {
        let file = validated(
            vec![
                rec("notes", "new", json!(1), 10),
                rec("notes", "newer", json!(2), 20),
                rec("notes", "older", json!(3), 5),
                rec("notes", "same", json!(4), 7),
                Record::tombstone(RecordKey::new("notes", "deleted"), hlc(30, "a")),
                Record::tombstone(RecordKey::new("notes", "never-had"), hlc(30, "a")),
                rec("notes", "pending", json!(5), 40),
            ],
            &["notes"],
        );
        let here = local(&[
            rec("notes", "newer", json!("old"), 10),
            rec("notes", "older", json!("mine"), 9),
            rec("notes", "same", json!(4), 7),
            rec("notes", "deleted", json!("live"), 1),
            rec("notes", "pending", json!("typed"), 30),
            rec("notes", "only-here", json!("kept"), 1),
        ]);
        let pending = BTreeSet::from([RecordKey::new("notes", "pending")]);
        let p = plan(&file, &here, &pending, ImportMode::Merge);
        assert_eq!(action_of(&p, "new"), (Action::Add, false));
        assert_eq!(action_of(&p, "newer"), (Action::Update, false));
        assert_eq!(action_of(&p, "older"), (Action::Older, false));
        assert_eq!(action_of(&p, "same"), (Action::Unchanged, false));
        assert_eq!(action_of(&p, "deleted"), (Action::Delete, false));
        assert_eq!(action_of(&p, "never-had"), (Action::Unchanged, false));
        assert_eq!(action_of(&p, "pending"), (Action::Update, true));
        assert!(
            p.items.iter().all(|i| i.key.id != "only-here"),
            "merge deletes nothing"
        );
        assert_eq!(
            p.counts,
            PlanCounts {
                add: 1,
                update: 2,
                delete: 1,
                unchanged: 2,
                older: 1,
                conflicts: 1,
                rejected: 0
            }
        );
        assert!(p.can_apply());
        let writes: Vec<_> = merge_writes(&p).into_iter().map(|r| r.id).collect();
        assert_eq!(writes, ["deleted", "never-had", "new", "newer", "pending"]);
    }

    #[test]
    fn replace_plan_deletes_what_the_file_lacks_in_its_collections() {
        let file = validated(
            vec![
                rec("notes", "same-value", json!(1), 1),
                rec("notes", "changed", json!(2), 1),
                rec("notes", "new", json!(3), 1),
                Record::tombstone(RecordKey::new("notes", "deleted-in-file"), hlc(1, "a")),
            ],
            &["notes"],
        );
        let here = local(&[
            rec("notes", "same-value", json!(1), 99),
            rec("notes", "changed", json!("newer here"), 99),
            rec("notes", "deleted-in-file", json!("live"), 99),
            rec("notes", "not-in-file", json!("x"), 99),
            Record::tombstone(RecordKey::new("notes", "already-gone"), hlc(99, "a")),
            rec("prefs", "other-collection", json!("kept"), 99),
        ]);
        let p = plan(&file, &here, &BTreeSet::new(), ImportMode::Replace);
        assert_eq!(action_of(&p, "same-value").0, Action::Unchanged);
        assert_eq!(
            action_of(&p, "changed").0,
            Action::Update,
            "the file wins, even if older"
        );
        assert_eq!(action_of(&p, "new").0, Action::Add);
        assert_eq!(action_of(&p, "deleted-in-file").0, Action::Delete);
        assert_eq!(action_of(&p, "not-in-file").0, Action::Delete);
        assert!(p
            .items
            .iter()
            .all(|i| i.key.id != "already-gone" && i.key.id != "other-collection"));
        assert_eq!(p.write_count(), 4);
        assert_eq!(
            replace_changes(&p),
            vec![
                LocalChange::Put(RecordKey::new("notes", "changed"), json!(2)),
                LocalChange::Delete(RecordKey::new("notes", "deleted-in-file")),
                LocalChange::Put(RecordKey::new("notes", "new"), json!(3)),
                LocalChange::Delete(RecordKey::new("notes", "not-in-file")),
            ]
        );
    }

    mod round_trip {
        use super::*;
        use proptest::prelude::*;

        fn arb_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                any::<u64>().prop_map(|n| json!(n)),
                (-1e12f64..1e12).prop_map(|f| json!(f)),
                ".{0,24}".prop_map(Value::String),
                prop_oneof![
                    Just("yes"),
                    Just("null"),
                    Just("~"),
                    Just("0x10"),
                    Just("1e3"),
                    Just("- a"),
                    Just("a: b"),
                    Just("")
                ]
                .prop_map(|s| json!(s)),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z ]{0,8}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn arb_record() -> impl Strategy<Value = Record> {
            (
                "[a-z][a-z0-9_-]{0,6}",
                "[^\\p{Cc}]{1,12}",
                arb_json(),
                0u64..NOW,
                any::<u32>(),
                "[0-9a-z]{1,8}",
                any::<bool>(),
            )
                .prop_map(|(c, id, value, wall, counter, dev, deleted)| {
                    let hlc = Hlc::new(wall, counter, DeviceId::new(dev).unwrap()).unwrap();
                    if deleted {
                        Record::tombstone(RecordKey::new(c, id), hlc)
                    } else {
                        Record::new(RecordKey::new(c, id), value, hlc)
                    }
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn any_backup_survives_json_and_yaml(records in prop::collection::vec(arb_record(), 0..12)) {
                let mut unique = BTreeMap::new();
                for r in records { unique.insert(r.key(), r); }
                let backup = Backup::new("p", NOW, "d", Vec::new(), unique.into_values().collect());
                for format in [FileFormat::Json, FileFormat::Yaml] {
                    let text = backup.to_text(format).unwrap();
                    let parsed = parse(&text, NOW).unwrap();
                    prop_assert!(parsed.rejected.is_empty());
                    prop_assert_eq!(&parsed.backup, &backup, "{:?}: {}", format, text);
                }
            }
        }
    }
}
