//! Input limits, in one place. The server refuses requests that break them and the
//! client never builds such a request; both call the same checks, so the two cannot
//! disagree about what is acceptable.

use crate::hlc::{Hlc, MAX_DRIFT_MS};
use crate::record::Record;

/// Largest encoded JSON `value` of one record, in bytes.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;
/// Most changes in one push request.
pub const MAX_CHANGES_PER_PUSH: usize = 500;
/// Largest push request body, in bytes. The client splits its outbox into batches below
/// both this and [`MAX_CHANGES_PER_PUSH`].
pub const MAX_PUSH_BYTES: usize = 4 * 1024 * 1024;
/// Most records one pull returns; a larger `limit` is clamped to this.
pub const MAX_PULL_LIMIT: usize = 1000;
/// Records a pull returns when the request names no `limit`.
pub const DEFAULT_PULL_LIMIT: usize = 500;
/// Longest collection name, in bytes. Names are `[a-z0-9_-]`, starting with a letter.
pub const MAX_COLLECTION_LEN: usize = 64;
/// Longest record id, in bytes. Ids are any non-empty string without control characters.
pub const MAX_ID_LEN: usize = 128;
/// Shortest password an account accepts, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password an account accepts, in bytes (hashing cost stays bounded).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest e-mail address, in bytes (RFC 5321).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Why a request or a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("a push may carry at most {max} changes, this one has {count}")]
    TooManyChanges { count: usize, max: usize },
    #[error("collection name {name:?} is invalid: use 1 to {max} characters of a-z, 0-9, '_' and '-', starting with a letter")]
    InvalidCollection { name: String, max: usize },
    #[error(
        "record id in {collection:?} is invalid: use 1 to {max} bytes without control characters"
    )]
    InvalidId { collection: String, max: usize },
    #[error("record {collection}/{id} is {bytes} bytes, more than the {max} allowed")]
    RecordTooLarge {
        collection: String,
        id: String,
        bytes: usize,
        max: usize,
    },
    #[error("record {collection}/{id} is deleted but still carries a value")]
    TombstoneWithValue { collection: String, id: String },
    #[error(
        "record {collection}/{id} is dated {ahead_ms} ms in the future; check this device's clock"
    )]
    FromTheFuture {
        collection: String,
        id: String,
        ahead_ms: u64,
    },
    #[error("the e-mail address is not valid")]
    InvalidEmail,
    #[error("the password must be {min} to {max_bytes} bytes long (at least {min} characters)")]
    InvalidPassword { min: usize, max_bytes: usize },
}

/// Checks a collection name.
pub fn check_collection(name: &str) -> Result<(), LimitError> {
    let mut bytes = name.bytes();
    let valid = name.len() <= MAX_COLLECTION_LEN
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(LimitError::InvalidCollection {
            name: name.chars().take(MAX_COLLECTION_LEN + 1).collect(),
            max: MAX_COLLECTION_LEN,
        })
    }
}

/// Checks a record id.
pub fn check_id(collection: &str, id: &str) -> Result<(), LimitError> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(LimitError::InvalidId {
            collection: collection.to_owned(),
            max: MAX_ID_LEN,
        });
    }
    Ok(())
}

/// The size [`MAX_RECORD_BYTES`] applies to: the record's value encoded as JSON.
pub fn value_bytes(record: &Record) -> usize {
    serde_json::to_vec(&record.value).map_or(usize::MAX, |v| v.len())
}

/// What the per-record limits look at, for a record held in any form (a [`Record`], or
/// one whose value is kept as already-encoded JSON elsewhere).
#[derive(Debug, Clone, Copy)]
pub struct RecordFacts<'a> {
    pub collection: &'a str,
    pub id: &'a str,
    pub hlc: &'a Hlc,
    pub deleted: bool,
    /// Whether the value is JSON `null`.
    pub value_is_null: bool,
    /// The value encoded as JSON, in bytes ([`value_bytes`]).
    pub value_bytes: usize,
}

/// Checks one record against every per-record limit. `now_ms` is the checker's
/// physical clock: a record more than [`MAX_DRIFT_MS`] ahead of it is refused, so one
/// device with a wrong clock cannot win every future conflict.
pub fn check_record(record: &Record, now_ms: u64) -> Result<(), LimitError> {
    check_record_facts(
        &RecordFacts {
            collection: &record.collection,
            id: &record.id,
            hlc: &record.hlc,
            deleted: record.deleted,
            value_is_null: record.value.is_null(),
            value_bytes: value_bytes(record),
        },
        now_ms,
    )
}

/// [`check_record`] on a record's [`RecordFacts`].
pub fn check_record_facts(record: &RecordFacts, now_ms: u64) -> Result<(), LimitError> {
    check_collection(record.collection)?;
    check_id(record.collection, record.id)?;
    if record.value_bytes > MAX_RECORD_BYTES {
        return Err(LimitError::RecordTooLarge {
            collection: record.collection.to_owned(),
            id: record.id.to_owned(),
            bytes: record.value_bytes,
            max: MAX_RECORD_BYTES,
        });
    }
    if record.deleted && !record.value_is_null {
        return Err(LimitError::TombstoneWithValue {
            collection: record.collection.to_owned(),
            id: record.id.to_owned(),
        });
    }
    let wall = record.hlc.wall_ms();
    if wall > now_ms.saturating_add(MAX_DRIFT_MS) {
        return Err(LimitError::FromTheFuture {
            collection: record.collection.to_owned(),
            id: record.id.to_owned(),
            ahead_ms: wall - now_ms,
        });
    }
    Ok(())
}

/// Checks a whole push: the number of changes and every record.
pub fn check_push(changes: &[Record], now_ms: u64) -> Result<(), LimitError> {
    if changes.len() > MAX_CHANGES_PER_PUSH {
        return Err(LimitError::TooManyChanges {
            count: changes.len(),
            max: MAX_CHANGES_PER_PUSH,
        });
    }
    changes.iter().try_for_each(|r| check_record(r, now_ms))
}

/// The pull page size for a requested `limit`: the default when absent, clamped to
/// `1..=MAX_PULL_LIMIT`.
pub fn pull_limit(requested: Option<usize>) -> usize {
    requested
        .unwrap_or(DEFAULT_PULL_LIMIT)
        .clamp(1, MAX_PULL_LIMIT)
}

/// Checks credentials for registration. Log-in does not call this: a wrong password of
/// any shape is just a wrong password.
pub fn check_credentials(email: &str, password: &str) -> Result<(), LimitError> {
    let email_ok = email.len() <= MAX_EMAIL_BYTES
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                && !domain.ends_with('.') && !domain.contains('@'));
    if !email_ok {
        return Err(LimitError::InvalidEmail);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(LimitError::InvalidPassword {
            min: MIN_PASSWORD_CHARS,
            max_bytes: MAX_PASSWORD_BYTES,
        });
    }
    Ok(())
}

/// The canonical form an e-mail address is stored and looked up in: trimmed, lowercase.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::{DeviceId, Hlc};
    use crate::record::RecordKey;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000_000;

    fn record(collection: &str, id: &str, value: serde_json::Value) -> Record {
        let hlc = Hlc::new(NOW, 0, DeviceId::new("dev").unwrap()).unwrap();
        Record::new(RecordKey::new(collection, id), value, hlc)
    }

    #[test]
    fn accepts_ordinary_records() {
        check_record(&record("notes", "n-1", json!({"title": "hi"})), NOW).unwrap();
        check_record(&record("ui_prefs", "théme 1", json!(null)), NOW).unwrap();
    }

    #[test]
    fn collection_names_are_checked() {
        for bad in ["", "Notes", "1notes", "no tes", "notes/x", &"a".repeat(65)] {
            assert!(
                matches!(
                    check_collection(bad),
                    Err(LimitError::InvalidCollection { .. })
                ),
                "{bad:?} accepted"
            );
        }
        check_collection(&"a".repeat(64)).unwrap();
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("notes", "").is_err());
        assert!(check_id("notes", "a\nb").is_err());
        assert!(check_id("notes", &"x".repeat(MAX_ID_LEN + 1)).is_err());
        check_id("notes", &"x".repeat(MAX_ID_LEN)).unwrap();
    }

    #[test]
    fn oversized_records_are_refused() {
        let big = "x".repeat(MAX_RECORD_BYTES);
        let err = check_record(&record("notes", "n", json!(big)), NOW).unwrap_err();
        assert!(
            matches!(err, LimitError::RecordTooLarge { bytes, .. } if bytes == MAX_RECORD_BYTES + 2)
        );
    }

    #[test]
    fn tombstones_with_values_and_future_records_are_refused() {
        let mut r = record("notes", "n", json!(1));
        r.deleted = true;
        assert!(matches!(
            check_record(&r, NOW),
            Err(LimitError::TombstoneWithValue { .. })
        ));
        let future = record("notes", "n", json!(1));
        let earlier_now = NOW - MAX_DRIFT_MS - 1;
        assert!(matches!(
            check_record(&future, earlier_now),
            Err(LimitError::FromTheFuture { ahead_ms, .. }) if ahead_ms == MAX_DRIFT_MS + 1
        ));
    }

    #[test]
    fn pushes_are_limited_in_count() {
        let changes = vec![record("notes", "n", json!(1)); MAX_CHANGES_PER_PUSH + 1];
        assert!(matches!(
            check_push(&changes, NOW),
            Err(LimitError::TooManyChanges { .. })
        ));
        check_push(&changes[..MAX_CHANGES_PER_PUSH], NOW).unwrap();
    }

    #[test]
    fn pull_limits_are_clamped() {
        assert_eq!(pull_limit(None), DEFAULT_PULL_LIMIT);
        assert_eq!(pull_limit(Some(0)), 1);
        assert_eq!(pull_limit(Some(10_000)), MAX_PULL_LIMIT);
    }

    #[test]
    fn credentials_are_checked() {
        check_credentials("a@example.org", "correct horse").unwrap();
        assert_eq!(
            check_credentials("a@example", "correct horse"),
            Err(LimitError::InvalidEmail)
        );
        assert_eq!(
            check_credentials("@example.org", "correct horse"),
            Err(LimitError::InvalidEmail)
        );
        assert_eq!(
            check_credentials("a b@example.org", "correct horse"),
            Err(LimitError::InvalidEmail)
        );
        assert!(matches!(
            check_credentials("a@example.org", "short"),
            Err(LimitError::InvalidPassword { .. })
        ));
        assert_eq!(normalize_email(" A@Example.ORG "), "a@example.org");
    }
}
