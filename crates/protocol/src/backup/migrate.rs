//! Older versions of the backup file, read by migrating them step by step to the current
//! one ([`migrate`]); and [`to_v1`], a writer of the first version for tests and tools.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::format::{BackupError, FORMAT};
use crate::record::Record;

/// One migration step: turns a backup of version `to - 1` into version `to`.
struct Migration {
    to: u32,
    run: fn(Value) -> Result<Value, String>,
}

/// Every migration, in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        to: 2,
        run: v1_to_v2,
    },
    Migration {
        to: 3,
        run: v2_to_v3,
    },
];

/// Brings `document`, a backup of version `from` (1 to the current one), to the current
/// version, one step at a time. A document that is not what its version says is
/// [`BackupError::Malformed`].
pub(super) fn migrate(mut document: Value, from: u32) -> Result<Value, BackupError> {
    for step in MIGRATIONS.iter().filter(|m| m.to > from) {
        document = (step.run)(document).map_err(|e| {
            BackupError::Malformed(format!(
                "cannot read it as format version {}: {e}",
                step.to - 1
            ))
        })?;
    }
    Ok(document)
}

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

/// Version 2 → 3: images (`blobs`) may follow the records; a version 2 file has none.
fn v2_to_v3(v2: Value) -> Result<Value, String> {
    let Value::Object(mut v2) = v2 else {
        return Err("not an object".into());
    };
    v2.insert("version".into(), json!(3));
    Ok(Value::Object(v2))
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
    use serde_json::json;

    use super::*;
    use crate::backup::format::VERSION;
    use crate::backup::parse::parse;
    use crate::backup::test_support::{sample, NOW};

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

    #[test]
    fn version_2_is_migrated_without_images() {
        let backup = sample();
        let mut v2 = serde_json::to_value(&backup).unwrap();
        v2["version"] = json!(2);
        for text in [
            serde_json::to_string(&v2).unwrap(),
            serde_norway::to_string(&v2).unwrap(),
        ] {
            let parsed = parse(&text, NOW).unwrap();
            assert_eq!(parsed.migrated_from, Some(2));
            assert_eq!(parsed.backup, backup);
            assert!(parsed.backup.blobs.is_empty());
        }
    }
}
