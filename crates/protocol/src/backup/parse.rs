//! Reading a backup file: [`parse()`] checks its size, that it is complete, that it is a
//! Cairn backup of a version this build knows (migrating an older one, see
//! [`super::migrate`]), and then every record and every image, keeping the valid ones
//! ([`Validated`]) and listing the others ([`Rejected`], [`RejectedBlob`]).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use super::format::{
    from_base64, sha256_hex, Backup, BackupBlob, BackupError, EncryptedSecrets, FileFormat, CIPHER,
    FORMAT, IV_BYTES, KDF, MAX_BACKUP_BYTES, MAX_BACKUP_RECORDS, MAX_BLOB_NAME_CHARS,
    MAX_BLOB_TYPE_CHARS, MAX_KDF_ITERATIONS, MIN_KDF_ITERATIONS, SALT_BYTES, VERSION,
};
use super::migrate::migrate;
use crate::blobs::{is_hash, short, MAX_BLOB_BYTES};
use crate::limits::{check_collection, check_record};
use crate::record::Record;

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

/// An image of the file that cannot be imported, and why. Unlike a rejected record it
/// does not stop the import: the records are imported, and the image is left out (a
/// record naming it shows it once it comes from the server, or a placeholder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedBlob {
    /// Its position in the file's images (0-based).
    pub index: usize,
    /// The hash it is named by, when it has one as a string.
    pub hash: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for RejectedBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.hash {
            Some(hash) => write!(
                f,
                "image {} ({}): {}",
                self.index + 1,
                short(hash),
                self.reason
            ),
            None => write!(f, "image {}: {}", self.index + 1, self.reason),
        }
    }
}

/// A parsed backup: its valid records and images, and those rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The backup, of the current version, holding only the valid records and images.
    pub backup: Backup,
    /// The version the file had, when it was migrated from an older one.
    pub migrated_from: Option<u32>,
    pub rejected: Vec<Rejected>,
    /// Images left out: the records are imported without them.
    pub rejected_blobs: Vec<RejectedBlob>,
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
    blobs: Vec<Value>,
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
    let raw: RawBackup = serde_json::from_value(migrate(document, from)?)
        .map_err(|e| BackupError::Malformed(e.to_string()))?;
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
    let (blobs, rejected_blobs) = check_blobs(raw.blobs);
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
            blobs,
            end_of_backup: true,
        },
        migrated_from: (from < VERSION).then_some(from),
        rejected,
        rejected_blobs,
    })
}

/// Checks every image entry: the valid ones, and the others with the reason.
fn check_blobs(raw: Vec<Value>) -> (Vec<BackupBlob>, Vec<RejectedBlob>) {
    let mut blobs: Vec<BackupBlob> = Vec::with_capacity(raw.len());
    let mut rejected = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, raw) in raw.into_iter().enumerate() {
        let hash = raw.get("hash").and_then(Value::as_str).map(str::to_owned);
        let blob = serde_json::from_value::<BackupBlob>(raw)
            .map_err(|e| format!("not a valid image entry: {e}"))
            .and_then(check_blob);
        match blob {
            Ok(blob) if !seen.insert(blob.hash.clone()) => rejected.push(RejectedBlob {
                index,
                hash,
                reason: "appears more than once in the file".into(),
            }),
            Ok(blob) => blobs.push(blob),
            Err(reason) => rejected.push(RejectedBlob {
                index,
                hash,
                reason,
            }),
        }
    }
    (blobs, rejected)
}

/// One image entry, or why it cannot be imported.
fn check_blob(blob: BackupBlob) -> Result<BackupBlob, String> {
    if !is_hash(&blob.hash) {
        return Err("its hash is not 64 lowercase hex digits".into());
    }
    if blob.size > MAX_BLOB_BYTES {
        return Err(format!(
            "it is {} bytes; images of up to {MAX_BLOB_BYTES} bytes are kept",
            blob.size
        ));
    }
    if blob.name.chars().count() > MAX_BLOB_NAME_CHARS {
        return Err(format!(
            "its file name is longer than {MAX_BLOB_NAME_CHARS} characters"
        ));
    }
    if blob.mime.chars().count() > MAX_BLOB_TYPE_CHARS || blob.mime.chars().any(char::is_control) {
        return Err("its type is not a MIME type".into());
    }
    let bytes = blob
        .bytes()
        .map_err(|e| format!("its data cannot be decoded: {e}"))?;
    if bytes.len() as u64 != blob.size {
        return Err(format!(
            "its data is {} bytes, not the {} its size says",
            bytes.len(),
            blob.size
        ));
    }
    if sha256_hex(&bytes) != blob.hash {
        return Err("its data does not match its hash (the image is damaged)".into());
    }
    Ok(blob)
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
        #[cfg(any(feature = "yaml", test))]
        FileFormat::Yaml => serde_norway::from_str(text).map_err(|e| yaml_syntax(&e.to_string())),
        #[cfg(not(any(feature = "yaml", test)))]
        FileFormat::Yaml => Err(BackupError::Syntax {
            format: "JSON",
            message: "it does not start with `{`, and this build reads YAML only through \
                      its YAML module (convert the text with `yaml_to_json` first)"
                .into(),
        }),
    }
}

/// The error of a YAML document that does not parse: its first line.
#[cfg(any(feature = "yaml", test))]
pub(super) fn yaml_syntax(message: &str) -> BackupError {
    BackupError::Syntax {
        format: "YAML (or JSON)",
        message: first_line(message),
    }
}

#[cfg(any(feature = "yaml", test))]
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::backup::format::{to_base64, KDF_ITERATIONS};
    use crate::backup::plan::{plan, ImportMode};
    use crate::backup::test_support::{hlc, sample, NOW};
    use crate::hlc::{DeviceId, Hlc};
    use crate::limits::MAX_RECORD_BYTES;
    use crate::record::RecordKey;

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

    fn with_images() -> Backup {
        let mut b = sample();
        b.blobs = vec![
            BackupBlob::new(
                "a.png",
                "image/png",
                &[0x89, b'P', b'N', b'G', 0, 1, 2, 255],
            ),
            BackupBlob::new("", "", b""),
            BackupBlob::new("été \"x\".jpg", "image/jpeg", &[7; 1000]),
        ];
        b
    }

    #[test]
    fn images_round_trip_in_json_and_yaml() {
        let backup = with_images();
        for format in [FileFormat::Json, FileFormat::Yaml] {
            let text = backup.to_text(format).unwrap();
            let parsed = parse(&text, NOW).unwrap();
            assert!(
                parsed.rejected_blobs.is_empty(),
                "{:?}",
                parsed.rejected_blobs
            );
            assert_eq!(parsed.backup, backup, "{format:?}:\n{text}");
            assert_eq!(parsed.backup.blobs[2].bytes().unwrap(), vec![7; 1000]);
        }
        let v: Value = serde_json::from_str(&backup.to_text(FileFormat::Json).unwrap()).unwrap();
        let first = &v["blobs"][0];
        assert_eq!(first["type"], "image/png");
        assert_eq!(first["size"], 8);
        assert_eq!(first["data"], "iVBORwABAv8=");
        assert_eq!(
            first["hash"],
            sha256_hex(&[0x89, b'P', b'N', b'G', 0, 1, 2, 255])
        );
    }

    #[test]
    fn a_damaged_image_is_rejected_with_its_reason_and_the_records_kept() {
        let good = BackupBlob::new("ok.png", "image/png", b"fine");
        let other = BackupBlob::new("x", "image/png", b"other bytes");
        let mut v: Value = serde_json::to_value(sample()).unwrap();
        let mut entries = vec![serde_json::to_value(&good).unwrap()];
        let mut broken = |f: &dyn Fn(&mut Value)| {
            let mut e = serde_json::to_value(&other).unwrap();
            f(&mut e);
            entries.push(e);
        };
        broken(&|e| e["hash"] = json!("ABC"));
        broken(&|e| e["data"] = json!("!!not base64!!"));
        broken(&|e| e["size"] = json!(3));
        broken(&|e| e["hash"] = json!(sha256_hex(b"something else")));
        broken(&|e| e["size"] = json!(MAX_BLOB_BYTES + 1));
        broken(&|e| e["type"] = json!("image/png\nX-Evil: 1"));
        broken(&|e| e["name"] = json!("n".repeat(MAX_BLOB_NAME_CHARS + 1)));
        broken(&|e| {
            e.as_object_mut().unwrap().remove("data");
        });
        entries.push(serde_json::to_value(&good).unwrap());
        v["blobs"] = json!(entries);
        for format in [FileFormat::Json, FileFormat::Yaml] {
            let text = match format {
                FileFormat::Json => v.to_string(),
                FileFormat::Yaml => serde_norway::to_string(&v).unwrap(),
            };
            let parsed = parse(&text, NOW).unwrap();
            assert_eq!(
                parsed.backup.records,
                sample().records,
                "the records are kept"
            );
            assert!(parsed.rejected.is_empty());
            assert_eq!(parsed.backup.blobs, vec![good.clone()]);
            let reasons: Vec<String> = parsed
                .rejected_blobs
                .iter()
                .map(ToString::to_string)
                .collect();
            let expect = [
                "image 2 (ABC…): its hash is not 64 lowercase hex digits",
                "image 3 (",
                "image 4 (",
                "image 5 (",
                "image 6 (",
                "image 7 (",
                "image 8 (",
                "image 9 (",
                "image 10 (",
            ];
            let parts = [
                "hash is not",
                "cannot be decoded",
                "not the 3 its size says",
                "does not match its hash",
                "images of up to 10485760 bytes",
                "not a MIME type",
                "file name is longer",
                "not a valid image entry",
                "more than once",
            ];
            assert_eq!(reasons.len(), expect.len(), "{reasons:#?}");
            for ((reason, start), part) in reasons.iter().zip(expect).zip(parts) {
                assert!(
                    reason.starts_with(start) && reason.contains(part),
                    "{reason}: {part}"
                );
            }
            let p = plan(
                &parsed,
                &BTreeMap::new(),
                &BTreeSet::new(),
                ImportMode::Merge,
            );
            assert!(p.can_apply(), "a damaged image does not stop the import");
            assert_eq!((p.counts.blobs, p.counts.rejected_blobs), (1, 9));
            assert_eq!(p.rejected_blobs.len(), 9);
        }
    }

    #[test]
    fn a_file_cut_among_its_images_is_refused() {
        let mut b = with_images();
        b.blobs
            .push(BackupBlob::new("big", "image/png", &[1; 30_000]));
        for format in [FileFormat::Json, FileFormat::Yaml] {
            let text = b.to_text(format).unwrap();
            let start = text.find("blobs").unwrap();
            for cut in [start + 10, (start + text.len()) / 2, text.len() - 30] {
                let err = parse(&text[..cut], NOW).unwrap_err();
                assert!(
                    matches!(err, BackupError::Truncated(_) | BackupError::Syntax { .. }),
                    "{format:?} cut at {cut}: {err}"
                );
            }
        }
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

        fn arb_blob() -> impl Strategy<Value = BackupBlob> {
            (
                ".{0,16}",
                prop_oneof![
                    Just("image/png"),
                    Just("image/jpeg"),
                    Just(""),
                    Just("a/b; c=d")
                ],
                prop::collection::vec(any::<u8>(), 0..300),
            )
                .prop_map(|(name, mime, bytes)| BackupBlob::new(&name, mime, &bytes))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            #[test]
            fn any_backup_with_images_survives_json_and_yaml(
                records in prop::collection::vec(arb_record(), 0..6),
                blobs in prop::collection::vec(arb_blob(), 0..5),
            ) {
                let mut unique = BTreeMap::new();
                for r in records { unique.insert(r.key(), r); }
                let mut backup = Backup::new("p", NOW, "d", Vec::new(), unique.into_values().collect());
                let mut seen = BTreeSet::new();
                backup.blobs = blobs.into_iter().filter(|b| seen.insert(b.hash.clone())).collect();
                for format in [FileFormat::Json, FileFormat::Yaml] {
                    let text = backup.to_text(format).unwrap();
                    let parsed = parse(&text, NOW).unwrap();
                    prop_assert!(parsed.rejected.is_empty());
                    prop_assert!(parsed.rejected_blobs.is_empty(), "{:?}", parsed.rejected_blobs);
                    prop_assert_eq!(&parsed.backup, &backup, "{:?}: {}", format, text);
                }
            }
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
                // The on-demand YAML module's conversions give the same files.
                let json = backup.to_text(FileFormat::Json).unwrap();
                let yaml = backup.to_text(FileFormat::Yaml).unwrap();
                prop_assert_eq!(&crate::backup::json_to_yaml(&json).unwrap(), &yaml);
                let converted = crate::backup::yaml_to_json(&yaml).unwrap();
                prop_assert_eq!(&parse(&converted, NOW).unwrap().backup, &backup);
            }
        }
    }
}
