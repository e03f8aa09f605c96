//! Ordered, paged reads of a collection: its records in the order of their values'
//! `order_key` field, a page at a time, without reading the rest.
//!
//! A record whose value (a JSON object) has a top-level field [`ORDER_KEY`] holding an
//! IndexedDB key — a number, a string, or an array of them (nested arrays allowed), e.g.
//! `[conversation_id, sent_at_ms, message_id]` — is in the `records` store's index
//! [`schema::BY_ORDER`](crate::schema::BY_ORDER), keyed `[collection, order_key]`.
//! Records without the field, with a value there that is not a key (`null`, `true`, an
//! object), and tombstones (whose value is `null`) are not in it, and no page holds them.
//!
//! [`Store::ordered_page`] reads one page with a cursor on that index, greatest keys first
//! ([`PageOrder::Descending`]: the newest, when keys grow with time) or least first, within
//! the keys that start with a prefix (`within`: e.g. `[conversation_id]`, one
//! conversation's messages), resuming after the last record of the previous page
//! ([`OrderedPage::next`]). Records with equal order keys come in the order of their ids,
//! as IndexedDB orders an index's entries by primary key after key, so a page boundary
//! between them loses none.
//!
//! The memory store answers the same by filtering and sorting, in IndexedDB's key order
//! ([`key_order`]): numbers before strings before arrays, arrays element by element (a
//! prefix first), strings by UTF-16 code units.

use std::cmp::Ordering;

use cairn_protocol::Record;
use rexie::{Direction, KeyRange, Rexie, TransactionMode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::codec::{from_js, string_field, to_js};
use crate::js_record::JsRecord;
use crate::schema::{BY_ORDER, RECORDS};
use crate::{Store, StoreError};

/// The field of a record's value that orders it ([`Store::ordered_page`]).
pub const ORDER_KEY: &str = "order_key";

/// Which way a page runs through the order keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageOrder {
    /// Least order key first (the oldest, when keys grow with time).
    Ascending,
    /// Greatest order key first (the newest, when keys grow with time).
    Descending,
}

/// Where the next page resumes: after the record with this order key and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagePosition {
    pub order_key: Value,
    pub id: String,
}

impl PagePosition {
    /// The position of the record `id` holding `value`, if the value has an order key.
    ///
    /// ```
    /// use cairn_client::PagePosition;
    /// use serde_json::json;
    ///
    /// let at = PagePosition::of("m1", &json!({"order_key": ["c1", 5, "m1"]})).unwrap();
    /// assert_eq!(at.order_key, json!(["c1", 5, "m1"]));
    /// assert_eq!(PagePosition::of("m2", &json!({"text": "no key"})), None);
    /// ```
    pub fn of(id: &str, value: &Value) -> Option<PagePosition> {
        let order_key = value.get(ORDER_KEY).filter(|k| is_order_key(k))?;
        Some(PagePosition {
            order_key: order_key.clone(),
            id: id.to_owned(),
        })
    }

    /// The index's order of two positions: by order key ([`key_order`]), then by id
    /// (UTF-16 code units), as [`PageOrder::Ascending`] pages run.
    ///
    /// ```
    /// use cairn_client::PagePosition;
    /// use serde_json::json;
    /// use std::cmp::Ordering;
    ///
    /// let at = |key, id: &str| PagePosition { order_key: key, id: id.into() };
    /// assert_eq!(at(json!(1), "b").index_order(&at(json!(2), "a")), Ordering::Less);
    /// assert_eq!(at(json!(1), "b").index_order(&at(json!(1), "a")), Ordering::Greater);
    /// ```
    pub fn index_order(&self, other: &PagePosition) -> Ordering {
        key_order(&self.order_key, &other.order_key).then_with(|| utf16_order(&self.id, &other.id))
    }
}

/// One page of [`Store::ordered_page`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderedPage {
    /// The records, in the page's order. Never tombstones.
    pub records: Vec<Record>,
    /// Where the next page starts, when there are records after this page: pass it as
    /// `after` with the same collection, prefix and order. `None` at the end.
    pub next: Option<PagePosition>,
}

impl Store {
    /// Up to `limit` records of `collection` in the order of their values' [`ORDER_KEY`]
    /// (see the [module docs](crate::ordered)), in `order`, among those whose order key
    /// is an array starting with the elements of `within` (an empty `within`: every
    /// record with an order key), after the position `after` (a previous page's
    /// [`OrderedPage::next`]; `None` starts at the beginning).
    ///
    /// On IndexedDB it reads one transaction: a cursor over the page's part of the
    /// index, visiting about `limit` entries whatever the collection holds (and, when
    /// resuming, a count of the entries sharing the position's order key).
    ///
    /// ```no_run
    /// # async fn page(store: &cairn_client::Store) -> Result<(), cairn_client::StoreError> {
    /// use cairn_client::ordered::PageOrder;
    /// use serde_json::json;
    ///
    /// // The newest 50 messages of conversation "c1" (values like
    /// // {"order_key": ["c1", sent_at_ms, id], "text": ...}), then the 50 before them.
    /// let newest = store
    ///     .ordered_page("messages", &[json!("c1")], PageOrder::Descending, None, 50)
    ///     .await?;
    /// if let Some(next) = &newest.next {
    ///     let older = store
    ///         .ordered_page("messages", &[json!("c1")], PageOrder::Descending, Some(next), 50)
    ///         .await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// A `limit` of 0 reads as 1. Fails with [`StoreError::Encode`] when an element of `within` or `after`'s order
    /// key is not an IndexedDB key, and [`StoreError::Corrupt`] when a row of the page
    /// cannot be decoded.
    pub async fn ordered_page(
        &self,
        collection: &str,
        within: &[Value],
        order: PageOrder,
        after: Option<&PagePosition>,
        limit: u32,
    ) -> Result<OrderedPage, StoreError> {
        if let Some(bad) = within.iter().find(|v| !is_order_key(v)) {
            return Err(not_a_key(bad));
        }
        if let Some(after) = after.filter(|a| !is_order_key(&a.order_key)) {
            return Err(not_a_key(&after.order_key));
        }
        let query = Query {
            collection,
            within,
            order,
            after,
            limit: limit.max(1),
        };
        self.backend.ordered_page(&query).await
    }
}

/// What [`Store::ordered_page`] was asked.
pub(crate) struct Query<'a> {
    collection: &'a str,
    within: &'a [Value],
    order: PageOrder,
    after: Option<&'a PagePosition>,
    limit: u32,
}

impl Query<'_> {
    /// Whether a record at (`key`, `id`) comes after the query's position in its order.
    fn is_after_position(&self, key: &Value, id: &str) -> bool {
        let Some(after) = self.after else {
            return true;
        };
        let past = key_order(key, &after.order_key).then_with(|| utf16_order(id, &after.id));
        match self.order {
            PageOrder::Ascending => past == Ordering::Greater,
            PageOrder::Descending => past == Ordering::Less,
        }
    }

    /// The page of `candidates`: records in the page's order, all after the position.
    /// Takes `limit` of them (at least 1) and says where to resume if one is left after those.
    fn page(&self, candidates: impl IntoIterator<Item = Record>) -> OrderedPage {
        let mut candidates = candidates.into_iter();
        let records: Vec<Record> = candidates.by_ref().take(self.limit as usize).collect();
        let next = match (candidates.next(), records.last()) {
            (Some(_), Some(last)) => Some(PagePosition {
                order_key: last.value[ORDER_KEY].clone(),
                id: last.id.clone(),
            }),
            _ => None,
        };
        OrderedPage { records, next }
    }
}

/// The page from the index: one cursor, in the page's direction, over the part of the
/// index from the position (included) to the end of the prefix range. The entries at the
/// position's own order key that are not after it (its record and the ties before it)
/// are skipped; there are as many as the key has entries at most, counted first, so the
/// cursor reads that many more than the page needs.
pub(crate) async fn idb_page(db: &Rexie, query: &Query<'_>) -> Result<OrderedPage, StoreError> {
    let Some(range) = index_range(query)? else {
        return Ok(OrderedPage::default());
    };
    let tx = db.transaction(&[RECORDS], TransactionMode::ReadOnly)?;
    let index = tx.store(RECORDS)?.index(BY_ORDER)?;
    let ties = match query.after {
        Some(after) => {
            let at = index_key(query.collection, &to_js(&after.order_key)?);
            let only = KeyRange::only(&at).map_err(|e| StoreError::Storage(e.to_string()))?;
            index.count(Some(only)).await?
        }
        None => 0,
    };
    let direction = match query.order {
        PageOrder::Ascending => Direction::Next,
        PageOrder::Descending => Direction::Prev,
    };
    // One more than the page, to know whether the page is the last.
    let wanted = query.limit.saturating_add(1).saturating_add(ties);
    let rows = index
        .scan(Some(range), Some(wanted), None, Some(direction))
        .await?;
    let mut candidates = Vec::with_capacity(rows.len());
    for (_, raw) in rows {
        let record = from_js::<Record>(raw.clone()).map_err(|reason| StoreError::Corrupt {
            collection: query.collection.to_owned(),
            id: string_field(&raw, "id").unwrap_or_default(),
            reason,
        })?;
        if !record.deleted && query.is_after_position(&record.value[ORDER_KEY], &record.id) {
            candidates.push(record);
        }
    }
    Ok(query.page(candidates))
}

/// The page from memory (of the memory store's `records`): the collection's records with
/// an order key in the range, after the position, sorted as the index would hold them.
pub(crate) fn memory_page<'r>(
    records: impl Iterator<Item = &'r JsRecord>,
    query: &Query<'_>,
) -> Result<OrderedPage, StoreError> {
    let mut candidates = Vec::new();
    for row in records {
        if row.collection != query.collection || row.deleted {
            continue;
        }
        let record = row.decode()?;
        let key = &record.value[ORDER_KEY];
        if is_order_key(key)
            && has_prefix(key, query.within)
            && query.is_after_position(key, &record.id)
        {
            candidates.push(record);
        }
    }
    candidates.sort_by(|a, b| {
        let ascending = key_order(&a.value[ORDER_KEY], &b.value[ORDER_KEY])
            .then_with(|| utf16_order(&a.id, &b.id));
        match query.order {
            PageOrder::Ascending => ascending,
            PageOrder::Descending => ascending.reverse(),
        }
    });
    Ok(query.page(candidates))
}

/// The index range of the query: the prefix range, cut at the position on the side the
/// page starts from (the position's key included, for ties after it). `None` when the
/// position lies beyond the prefix range, so nothing can follow it.
fn index_range(query: &Query<'_>) -> Result<Option<KeyRange>, StoreError> {
    let c = query.collection;
    let (mut lower, mut upper) = match query.within.split_last() {
        // Every index key of the collection is `[c, key]`: above `[c]`, below the least
        // array after it, `[c + "\0"]`.
        None => (
            index_bound(&[JsValue::from_str(c)]),
            index_bound(&[JsValue::from_str(&format!("{c}\0"))]),
        ),
        // Arrays starting with the prefix lie from the prefix itself up to (without) the
        // prefix with its last element replaced by the least key above it.
        Some((last, head)) => {
            let mut bound = head.iter().map(to_js).collect::<Result<Vec<_>, _>>()?;
            let prefix = js_array(bound.iter().cloned().chain([to_js(last)?]));
            bound.push(key_successor(last)?);
            (
                index_key(c, &prefix.into()),
                index_key(c, &js_array(bound).into()),
            )
        }
    };
    let (mut lower_open, mut upper_open) = (false, true);
    if let Some(after) = query.after {
        let at = index_key(c, &to_js(&after.order_key)?);
        let factory = idb_factory()?;
        let cmp = |a: &JsValue, b: &JsValue| {
            factory
                .cmp(a, b)
                .map_err(|e| StoreError::Storage(format!("indexedDB.cmp: {e:?}")))
        };
        match query.order {
            PageOrder::Ascending if cmp(&at, &lower)? >= 0 => (lower, lower_open) = (at, false),
            PageOrder::Descending if cmp(&at, &upper)? < 0 => (upper, upper_open) = (at, false),
            // A position outside the range on the other side leaves the range whole.
            _ => {}
        }
        let order = cmp(&lower, &upper)?;
        if order > 0 || (order == 0 && (lower_open || upper_open)) {
            return Ok(None);
        }
    }
    KeyRange::bound(&lower, &upper, Some(lower_open), Some(upper_open))
        .map(Some)
        .map_err(|e| StoreError::Storage(e.to_string()))
}

fn idb_factory() -> Result<web_sys::IdbFactory, StoreError> {
    use wasm_bindgen::JsCast;
    js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())
        .ok()
        .and_then(|f| f.dyn_into::<web_sys::IdbFactory>().ok())
        .ok_or_else(|| StoreError::Unavailable("indexedDB is missing".into()))
}

/// The least IndexedDB key above `key` (a key of JSON: a number, a string or an array).
fn key_successor(key: &Value) -> Result<JsValue, StoreError> {
    Ok(match key {
        // No string lies between `s` and `s + "\0"`.
        Value::String(s) => JsValue::from_str(&format!("{s}\0")),
        Value::Number(n) => JsValue::from_f64(next_f64_up(n.as_f64().unwrap_or(f64::NAN))),
        // The least array above `a` is `a` followed by the least key, -Infinity.
        Value::Array(items) => js_array(
            items
                .iter()
                .map(to_js)
                .chain([Ok(JsValue::from_f64(f64::NEG_INFINITY))])
                .collect::<Result<Vec<_>, _>>()?,
        )
        .into(),
        other => return Err(not_a_key(other)),
    })
}

/// The least `f64` above `x` (JSON numbers are finite; above the greatest is Infinity).
fn next_f64_up(x: f64) -> f64 {
    if x == 0.0 {
        f64::from_bits(1)
    } else if x > 0.0 {
        f64::from_bits(x.to_bits() + 1)
    } else {
        f64::from_bits(x.to_bits() - 1)
    }
}

fn js_array(items: impl IntoIterator<Item = JsValue>) -> js_sys::Array {
    items.into_iter().collect()
}

/// `[collection, key]`, the index's key of a record.
fn index_key(collection: &str, key: &JsValue) -> JsValue {
    js_sys::Array::of2(&JsValue::from_str(collection), key).into()
}

fn index_bound(items: &[JsValue]) -> JsValue {
    js_array(items.iter().cloned()).into()
}

fn not_a_key(value: &Value) -> StoreError {
    StoreError::Encode(format!(
        "{value} is not an order key (a number, a string or an array of them)"
    ))
}

/// Whether `value` is an IndexedDB key: a number, a string, or an array of keys.
pub fn is_order_key(value: &Value) -> bool {
    match value {
        Value::Number(_) | Value::String(_) => true,
        Value::Array(items) => items.iter().all(is_order_key),
        Value::Null | Value::Bool(_) | Value::Object(_) => false,
    }
}

/// Whether `key` is an array whose first elements equal those of `prefix` (every key
/// starts with the empty prefix): whether a page `within` `prefix` holds it.
///
/// ```
/// use cairn_client::ordered::has_prefix;
/// use serde_json::json;
///
/// assert!(has_prefix(&json!(["c1", 5, "m1"]), &[json!("c1")]));
/// assert!(!has_prefix(&json!(["c12", 5, "m1"]), &[json!("c1")]));
/// ```
pub fn has_prefix(key: &Value, prefix: &[Value]) -> bool {
    if prefix.is_empty() {
        return true;
    }
    match key {
        Value::Array(items) => {
            items.len() >= prefix.len()
                && items
                    .iter()
                    .zip(prefix)
                    .all(|(a, b)| key_order(a, b) == Ordering::Equal)
        }
        _ => false,
    }
}

/// IndexedDB's order of two keys ([`is_order_key`]): numbers (by value) before strings
/// (by UTF-16 code units) before arrays (element by element, a prefix first). Values that
/// are not keys sort after every key, equal to each other.
pub fn key_order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Array(_) => 2,
            Value::Null | Value::Bool(_) | Value::Object(_) => 3,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => utf16_order(x, y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(a, b)| key_order(a, b))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Strings in IndexedDB's order: by UTF-16 code units.
fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_order_by_type_then_value() {
        let ascending = [
            json!(-1.5),
            json!(0),
            json!(2),
            json!(10),
            json!(""),
            json!("a"),
            json!("b"),
            json!([]),
            json!([1]),
            json!([1, "a"]),
            json!([2]),
            json!(["a"]),
            json!([[]]),
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                assert_eq!(key_order(a, b), i.cmp(&j), "{a} against {b}");
            }
        }
        assert_eq!(key_order(&json!(1), &json!(1.0)), Ordering::Equal);
        // U+10000 is the surrogate pair D800 DC00: below U+E000 by UTF-16 code units.
        assert_eq!(
            key_order(&json!("\u{10000}"), &json!("\u{E000}")),
            Ordering::Less
        );
    }

    #[test]
    fn only_numbers_strings_and_arrays_of_them_are_keys() {
        assert!(is_order_key(&json!(["c", 1, ["x"]])));
        assert!(!is_order_key(&json!(null)));
        assert!(!is_order_key(&json!(["c", true])));
        assert!(!is_order_key(&json!({"a": 1})));
    }

    #[test]
    fn a_prefix_matches_arrays_starting_with_it() {
        assert!(has_prefix(&json!(["c", 1, "m"]), &[json!("c")]));
        assert!(has_prefix(&json!(["c", 1]), &[json!("c"), json!(1.0)]));
        assert!(!has_prefix(&json!(["c"]), &[json!("c"), json!(1)]));
        assert!(!has_prefix(&json!(["cd", 1]), &[json!("c")]));
        assert!(!has_prefix(&json!("c"), &[json!("c")]));
        assert!(has_prefix(&json!(5), &[]));
    }

    #[test]
    fn the_next_float_is_the_least_above() {
        for x in [0.0, -0.0, 1.0, -1.0, 1e300, -1e-300, f64::MAX] {
            let up = next_f64_up(x);
            assert!(up > x, "{x}");
            assert!(up == f64::INFINITY || (up - x) <= x.abs() * f64::EPSILON || x == 0.0);
        }
        assert_eq!(next_f64_up(f64::MAX), f64::INFINITY);
        assert_eq!(next_f64_up(0.0), f64::from_bits(1));
    }
}
