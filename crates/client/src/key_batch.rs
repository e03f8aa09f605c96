//! Reading and deleting the rows of many record keys with few IndexedDB requests.
//!
//! A sync batch touches hundreds of keys in a store at once. One `get` per key costs a
//! request each, and in a browser the request (its object, callbacks and the hop into the
//! storage backend) costs far more than the row it returns. When the batch's keys lie
//! densely in their key range — a batch of the outbox is a run of it, in key order; a
//! store about as large as the batch holds few other rows — one `count` of the range and one
//! `getAll` over it read them all.
//!
//! The key order is IndexedDB's: `[collection, id]` arrays, strings compared by UTF-16
//! code units ([`idb_order`]), so the range computed here is the range IndexedDB scans.

use std::cmp::Ordering;
use std::collections::HashMap;

use futures_util::future::try_join_all;
use rexie::KeyRange;
use wasm_bindgen::JsValue;

use cairn_protocol::RecordKey;

use crate::codec::string_field;
use crate::store::key_js;
use crate::StoreError;

/// A range is read whole when it holds at most this many rows per key asked for: a row
/// more costs its structured clone, a request saved costs much more.
pub(crate) const ROWS_PER_KEY: u32 = 4;

/// The rows at `keys` (in any order, repeats allowed), in the order of `keys`.
pub(crate) struct Rows {
    pub rows: Vec<Option<JsValue>>,
    /// When the whole range was read: that range and how many rows it holds.
    pub range: Option<(JsValue, usize)>,
}

/// Reads the rows of `store` at `keys` (rows keyed `[collection, id]`, with `collection`
/// and `id` fields): when the range from the least to the greatest key holds at most
/// [`ROWS_PER_KEY`] rows per key (one `count`), the whole range with one `getAll`; else
/// one `get` per key, all issued at once. Counting clones no row, so a sparse range
/// costs one request more, not the rows around the keys.
pub(crate) async fn read(store: &rexie::Store, keys: &[RecordKey]) -> Result<Rows, StoreError> {
    if let Some((range, js_range)) = span(keys)? {
        let held = store.count(Some(range.clone())).await?;
        if held <= bound(keys.len()) {
            let raws = if held == 0 {
                Vec::new()
            } else {
                store.get_all(Some(range), None).await?
            };
            let count = raws.len();
            let by_key: HashMap<RecordKey, JsValue> = raws
                .into_iter()
                .filter_map(|raw| Some((row_key(&raw)?, raw)))
                .collect();
            return Ok(Rows {
                rows: keys.iter().map(|k| by_key.get(k).cloned()).collect(),
                range: Some((js_range, count)),
            });
        }
    }
    let rows = try_join_all(keys.iter().map(|k| store.get(key_js(k)))).await?;
    Ok(Rows { rows, range: None })
}

/// How many rows a range read of `keys` keys takes whole: [`ROWS_PER_KEY`] per key.
pub(crate) fn bound(keys: usize) -> u32 {
    u32::try_from(keys)
        .unwrap_or(u32::MAX)
        .saturating_mul(ROWS_PER_KEY)
        .min(u32::MAX - 1)
}

/// Deletes the rows of `store` at `keys`: with one request for the whole `range` when
/// `read` found it holds exactly these rows (`keys` without repeats), else one per key.
pub(crate) async fn delete(
    store: &rexie::Store,
    keys: &[RecordKey],
    range: Option<&(JsValue, usize)>,
) -> Result<(), StoreError> {
    match range {
        Some((range, rows)) if *rows == keys.len() && !keys.is_empty() => {
            store.delete(range.clone()).await?;
        }
        _ => {
            try_join_all(keys.iter().map(|k| store.delete(key_js(k)))).await?;
        }
    }
    Ok(())
}

/// The key range from the least to the greatest of `keys`, both included (as rexie's
/// range and as the IDBKeyRange itself, which `delete` takes), or None for no keys.
fn span(keys: &[RecordKey]) -> Result<Option<(KeyRange, JsValue)>, StoreError> {
    let range = span_range(keys).map_err(|e| StoreError::Storage(format!("{e:?}")))?;
    Ok(range.map(|range| (KeyRange::from(range.clone()), range.into())))
}

/// The IDBKeyRange from the least to the greatest of `keys`, both included.
pub(crate) fn span_range(keys: &[RecordKey]) -> Result<Option<web_sys::IdbKeyRange>, JsValue> {
    let (Some(first), Some(last)) = (
        keys.iter().min_by(|a, b| idb_order(a, b)),
        keys.iter().max_by(|a, b| idb_order(a, b)),
    ) else {
        return Ok(None);
    };
    web_sys::IdbKeyRange::bound_with_lower_open_and_upper_open(
        &key_js(first),
        &key_js(last),
        false,
        false,
    )
    .map(Some)
}

/// The key of a row, from its `collection` and `id` fields.
pub(crate) fn row_key(raw: &JsValue) -> Option<RecordKey> {
    Some(RecordKey::new(
        string_field(raw, "collection")?,
        string_field(raw, "id")?,
    ))
}

/// IndexedDB's order of `[collection, id]` keys: element by element, strings by UTF-16
/// code units (which differs from Rust's byte order of UTF-8 above U+FFFF).
pub(crate) fn idb_order(a: &RecordKey, b: &RecordKey) -> Ordering {
    let utf16 = |x: &str, y: &str| x.encode_utf16().cmp(y.encode_utf16());
    utf16(&a.collection, &b.collection).then_with(|| utf16(&a.id, &b.id))
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    use super::*;

    wasm_bindgen_test_configure!(run_in_browser);

    fn key(c: &str, id: &str) -> RecordKey {
        RecordKey::new(c, id)
    }

    /// The order used for the ranges is the one IndexedDB itself keeps keys in.
    #[wasm_bindgen_test]
    fn keys_are_ordered_as_indexeddb_orders_them() {
        let factory = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
        let keys = [
            key("a", "z"),
            key("b", "a"),
            key("b", "b"),
            key("b", ""),
            key("ba", "a"),
            key("n", "\u{10000}"),
            key("n", "\u{E000}"),
            key("n", "\u{FFFF}"),
            key("n", "é"),
            key("", "x"),
        ];
        for a in &keys {
            for b in &keys {
                let idb = factory.cmp(&key_js(a), &key_js(b)).unwrap();
                assert_eq!(idb_order(a, b) as i16, idb, "{a:?} against {b:?}");
            }
        }
        // U+10000 is the surrogate pair D800 DC00: below U+E000 for IndexedDB, not in UTF-8.
        assert_eq!(
            idb_order(&key("n", "\u{10000}"), &key("n", "\u{E000}")),
            Ordering::Less
        );
        assert!("\u{10000}" > "\u{E000}");
    }
}
