//! The backup file's types and constants, and how a backup is written: [`Backup`] (the
//! current version), its [`EncryptedSecrets`] and [`BackupBlob`]s, the two encodings
//! ([`FileFormat`]) and [`BackupError`], every reason a file is refused.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::Record;

/// The `format` of every Cairn backup.
pub const FORMAT: &str = "cairn-backup";
/// The format version this build writes.
pub const VERSION: u32 = 3;
/// Largest backup file read, in bytes (its images, in base64, count).
pub const MAX_BACKUP_BYTES: usize = 256 * 1024 * 1024;
/// Longest file name of an image in a backup, in characters.
pub const MAX_BLOB_NAME_CHARS: usize = 1024;
/// Longest MIME type of an image in a backup, in characters.
pub const MAX_BLOB_TYPE_CHARS: usize = 255;
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
    /// The images (blobs) the live records name ([`crate::blobs::referenced`]), each
    /// once, in the order first named; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<BackupBlob>,
    pub end_of_backup: bool,
}

/// One image (blob) in a backup: its bytes in standard base64, named by their SHA-256.
/// [`parse()`](super::parse()) checks every one: a well-formed hash, base64 that decodes
/// to `size` bytes whose SHA-256 is the hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupBlob {
    /// The SHA-256 of the bytes, 64 lowercase hex digits ([`crate::blobs::is_hash`]).
    pub hash: String,
    /// The file name it was added with (may be empty).
    #[serde(default)]
    pub name: String,
    /// Its MIME type, e.g. `image/png` (may be empty).
    #[serde(rename = "type", default)]
    pub mime: String,
    /// Its size in bytes.
    pub size: u64,
    /// The bytes, standard base64 with padding.
    pub data: String,
}

impl BackupBlob {
    /// The entry for `bytes`, named by their hash.
    pub fn new(name: &str, mime: &str, bytes: &[u8]) -> BackupBlob {
        BackupBlob {
            hash: sha256_hex(bytes),
            name: name.to_owned(),
            mime: mime.to_owned(),
            size: bytes.len() as u64,
            data: to_base64(bytes),
        }
    }

    /// The bytes (decoded from `data`; not checked against the hash, which
    /// [`parse()`](super::parse()) has done for a parsed file).
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        from_base64(&self.data)
    }
}

/// The SHA-256 of `bytes` as 64 lowercase hex digits: a blob's hash.
///
/// ```
/// use cairn_protocol::backup::sha256_hex;
/// assert_eq!(sha256_hex(b"test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
            blobs: Vec::new(),
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
            #[cfg(any(feature = "yaml", test))]
            FileFormat::Yaml => serde_norway::to_string(self).map_err(|e| encode(e.to_string())),
            #[cfg(not(any(feature = "yaml", test)))]
            FileFormat::Yaml => Err(encode(
                "this build writes YAML only through its YAML module (write JSON, then \
                 convert it with `json_to_yaml`)"
                    .into(),
            )),
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::backup::test_support::{sample, NOW};

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
        assert_eq!(v["version"], 3);
        assert!(v.get("blobs").is_none(), "no images, no field");
        assert_eq!(v["app_version"], "0.1.0");
        assert_eq!(v["exported_at_ms"], NOW);
    }
}
