//! Blobs: the binary files (a note's images) that travel with records.
//!
//! A blob is named by its *hash*: the SHA-256 of its bytes as 64 lowercase hex digits, so
//! the same bytes are one blob wherever they were added. A record names the blobs it uses
//! in a top-level array `"blobs"` of hashes in its value, e.g. a note
//! `{"title": "Trip", "images": [{"id": "<hash>", "name": "a.jpg"}], "blobs": ["<hash>"]}`.
//! Nothing else in a value is a reference, and a tombstone references nothing.
//!
//! The server keeps each account's blobs beside its records, refuses a change naming a
//! blob it does not hold (devices upload a blob before the record that names it), and
//! frees a blob no stored record has named for a grace period.

use serde_json::Value;

/// The largest blob a server takes by default, in bytes (10 MiB), and the largest image a
/// note accepts.
pub const MAX_BLOB_BYTES: u64 = 10 * 1024 * 1024;

/// How many hashes one `POST /api/v1/blobs/missing` may ask about.
pub const MAX_MISSING_QUERY: usize = 1000;

/// The name of the top-level field of a value that lists the blobs it uses.
pub const FIELD: &str = "blobs";

/// Whether `s` is a blob's hash: 64 lowercase hex digits.
pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The blobs `value` names: the hashes in its top-level `blobs` array, each once, in
/// order. Entries that are not hashes are ignored.
pub fn referenced(value: &Value) -> Vec<String> {
    let mut hashes: Vec<String> = Vec::new();
    let Some(list) = value.get(FIELD).and_then(Value::as_array) else {
        return hashes;
    };
    for hash in list.iter().filter_map(Value::as_str).filter(|s| is_hash(s)) {
        if !hashes.iter().any(|h| h == hash) {
            hashes.push(hash.to_owned());
        }
    }
    hashes
}

/// A short form of `hash` for messages: its first 8 digits and an ellipsis.
pub fn short(hash: &str) -> String {
    format!("{}…", &hash[..hash.len().min(8)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const B: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

    #[test]
    fn a_hash_is_64_lowercase_hex_digits() {
        assert!(is_hash(A));
        assert!(!is_hash(&A.to_uppercase()));
        assert!(!is_hash(&A[1..]));
        assert!(!is_hash(&format!("{}g", &A[1..])));
        assert!(!is_hash(""));
    }

    #[test]
    fn references_are_the_top_level_blobs_each_once() {
        let value = json!({"blobs": [A, "not a hash", B, A, 3], "images": [{"blobs": [B]}]});
        assert_eq!(referenced(&value), vec![A.to_owned(), B.to_owned()]);
        assert!(referenced(&json!({"images": [{"id": A}]})).is_empty());
        assert!(referenced(&json!("text")).is_empty());
        assert!(referenced(&json!({"blobs": A})).is_empty());
    }

    #[test]
    fn a_short_hash_is_its_first_eight_digits() {
        assert_eq!(short(A), "9f86d081…");
    }
}
