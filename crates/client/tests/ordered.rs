//! Ordered, paged reads by the `order_key` index ([`Store::ordered_page`]), on IndexedDB
//! and on the memory store, in a real browser.
#![cfg(target_arch = "wasm32")]

use std::collections::BTreeMap;

use cairn_client::ordered::{is_order_key, key_order};
use cairn_client::schema::DB_VERSION;
use cairn_client::{OrderedPage, PageOrder, PagePosition, Store};
use rexie::{ObjectStore, Rexie};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{fresh, key, plain, put_raw};

const ASC: PageOrder = PageOrder::Ascending;
const DESC: PageOrder = PageOrder::Descending;

/// A fresh IndexedDB store named `name` and a memory store, the two backends.
async fn both_backends(name: &str) -> [Store; 2] {
    [fresh(name).await, Store::memory("test").unwrap()]
}

/// Every page of a query of `limit` records each, from the start to the end, as the ids
/// of each page.
async fn walk(
    store: &Store,
    collection: &str,
    within: &[Value],
    order: PageOrder,
    limit: u32,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<PagePosition> = None;
    loop {
        let page = store
            .ordered_page(collection, within, order, after.as_ref(), limit)
            .await
            .unwrap();
        assert!(page.records.len() <= limit as usize);
        pages.push(ids(&page));
        match page.next {
            Some(next) => {
                assert_eq!(
                    page.records.len(),
                    limit as usize,
                    "a page short of the end"
                );
                let last = page.records.last().unwrap();
                assert_eq!(next.id, last.id);
                assert_eq!(next.order_key, last.value["order_key"]);
                after = Some(next);
            }
            None => return pages,
        }
        assert!(pages.len() < 10_000, "the pages never end");
    }
}

fn ids(page: &OrderedPage) -> Vec<String> {
    page.records.iter().map(|r| r.id.clone()).collect()
}

fn strs(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Messages of conversations "a", "ab" and "b", keyed `[conversation, sent_at, id]`, and
/// records around them that no page of "a" may hold.
async fn write_conversations(store: &Store) {
    let mut changes = Vec::new();
    let mut message = |conversation: &str, at: u64, id: &str| {
        changes.push((
            key("messages", id),
            json!({"order_key": [conversation, at, id], "text": format!("{id} at {at}")}),
        ));
    };
    // Written out of order: the order is the key's, not the writes'.
    for (at, id) in [(30, "a3"), (10, "a1"), (50, "a5"), (20, "a2"), (40, "a4")] {
        message("a", at, id);
    }
    message("ab", 25, "ab1");
    message("b", 15, "b1");
    message("b", 35, "b2");
    message("a", 60, "a6-deleted");
    changes.push((key("messages", "plain"), json!({"text": "no order key"})));
    changes.push((key("messages", "flag"), json!({"order_key": true})));
    changes.push((key("messages", "object"), json!({"order_key": {"a": 1}})));
    changes.push((key("messages", "number"), json!({"order_key": 7})));
    changes.push((key("messages", "string"), json!({"order_key": "a"})));
    changes.push((key("messages", "not-an-object"), json!(["a", 1])));
    changes.push((key("other", "a9"), json!({"order_key": ["a", 90, "a9"]})));
    store.write_many(changes).await.unwrap();
    store.delete(key("messages", "a6-deleted")).await.unwrap();
}

#[wasm_bindgen_test]
async fn pages_run_both_ways_within_a_prefix_and_resume_after_the_last_key() {
    for store in both_backends("test-ordered-pages").await {
        write_conversations(&store).await;
        let a = [json!("a")];
        assert_eq!(
            walk(&store, "messages", &a, DESC, 2).await,
            [strs(&["a5", "a4"]), strs(&["a3", "a2"]), strs(&["a1"])],
            "{:?}",
            store.durability()
        );
        assert_eq!(
            walk(&store, "messages", &a, ASC, 2).await,
            [strs(&["a1", "a2"]), strs(&["a3", "a4"]), strs(&["a5"])]
        );
        // A page exactly as long as what is left says it is the last.
        assert_eq!(
            walk(&store, "messages", &a, DESC, 5).await,
            [strs(&["a5", "a4", "a3", "a2", "a1"])]
        );
        // A longer prefix: within one conversation from a time on.
        assert_eq!(
            walk(&store, "messages", &[json!("b"), json!(35)], ASC, 10).await,
            [strs(&["b2"])]
        );
        assert_eq!(
            walk(&store, "messages", &[json!("zz")], DESC, 10).await,
            [Vec::<String>::new()]
        );
        // Every key of the collection: numbers, then strings, then arrays.
        assert_eq!(
            walk(&store, "messages", &[], ASC, 3).await,
            [
                strs(&["number", "string", "a1"]),
                strs(&["a2", "a3", "a4"]),
                strs(&["a5", "ab1", "b1"]),
                strs(&["b2"])
            ]
        );
        // Tombstones, values without a key (or with one that is not a key), and other
        // collections are in no page.
        let all = walk(&store, "messages", &[], DESC, 100).await.concat();
        for absent in [
            "a6-deleted",
            "plain",
            "flag",
            "object",
            "not-an-object",
            "a9",
        ] {
            assert!(!all.contains(&absent.to_owned()), "{absent} in {all:?}");
        }
        // Pages hold whole records.
        let page = store
            .ordered_page("messages", &a, DESC, None, 1)
            .await
            .unwrap();
        assert_eq!(page.records[0].value["text"], json!("a5 at 50"));
        assert_eq!(page.records[0].collection, "messages");
    }
}

#[wasm_bindgen_test]
async fn records_with_equal_keys_come_by_id_and_none_is_lost_at_a_page_boundary() {
    for store in both_backends("test-ordered-ties").await {
        let changes = ["t3", "t1", "t4", "t2", "t0"]
            .iter()
            .map(|id| (key("c", id), json!({"order_key": ["x", 5]})))
            .chain([(key("c", "before"), json!({"order_key": ["x", 4]}))])
            .chain([(key("c", "after"), json!({"order_key": ["x", 6]}))])
            .collect();
        store.write_many(changes).await.unwrap();
        assert_eq!(
            walk(&store, "c", &[json!("x")], DESC, 2).await,
            [
                strs(&["after", "t4"]),
                strs(&["t3", "t2"]),
                strs(&["t1", "t0"]),
                strs(&["before"])
            ]
        );
        assert_eq!(
            walk(&store, "c", &[json!("x")], ASC, 3).await.concat(),
            strs(&["before", "t0", "t1", "t2", "t3", "t4", "after"])
        );
    }
}

#[wasm_bindgen_test]
async fn a_page_sees_later_writes_and_deletes() {
    for store in both_backends("test-ordered-changes").await {
        write_conversations(&store).await;
        let a = [json!("a")];
        let first = store
            .ordered_page("messages", &a, DESC, None, 2)
            .await
            .unwrap();
        store
            .write(key("messages", "a7"), json!({"order_key": ["a", 70, "a7"]}))
            .await
            .unwrap();
        store.delete(key("messages", "a3")).await.unwrap();
        // Moved out of "a" into "b": leaves the prefix range.
        store
            .write(key("messages", "a2"), json!({"order_key": ["b", 20, "a2"]}))
            .await
            .unwrap();
        let next = store
            .ordered_page("messages", &a, DESC, first.next.as_ref(), 10)
            .await
            .unwrap();
        assert_eq!(ids(&next), strs(&["a1"]));
        assert_eq!(
            walk(&store, "messages", &a, DESC, 10).await,
            [strs(&["a7", "a5", "a4", "a1"])]
        );
    }
}

#[wasm_bindgen_test]
async fn keys_that_are_not_keys_are_refused() {
    let store = Store::memory("test").unwrap();
    for within in [vec![json!(null)], vec![json!("a"), json!({"b": 1})]] {
        let result = store.ordered_page("c", &within, ASC, None, 5).await;
        assert!(result.is_err(), "{within:?}: {result:?}");
    }
    let after = PagePosition {
        order_key: json!(true),
        id: "x".into(),
    };
    assert!(store
        .ordered_page("c", &[], ASC, Some(&after), 5)
        .await
        .is_err());
}

/// A small seeded PRNG (xorshift64*), so a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A random JSON value, mostly keys: numbers (ties likely), strings with characters
    /// where UTF-16 and UTF-8 order differ, arrays of them (nested at times), and now and
    /// then something that is not a key.
    fn key(&mut self, depth: u32) -> Value {
        match self.below(if depth > 1 { 3 } else { 5 }) {
            0 => json!(*self.pick(&[-3.5, -1.0, 0.0, 1.0, 2.0, 2.5, 10.0, 1e9])),
            1 => json!(*self.pick(&["", "a", "ab", "b", "é", "\u{E000}", "\u{10000}", "Z"])),
            2 => {
                let len = self.below(4);
                Value::Array((0..len).map(|_| self.key(depth + 1)).collect())
            }
            3 => {
                let len = 1 + self.below(3);
                let mut items = vec![json!(*self.pick(&["p", "q", "pq"]))];
                items.extend((1..len).map(|_| self.key(depth + 1)));
                Value::Array(items)
            }
            _ => self
                .pick(&[json!(null), json!(true), json!({"x": 1})])
                .clone(),
        }
    }
}

fn seed() -> u64 {
    // Replay a failure with ORDERED_SEED=<seed> at build time.
    match option_env!("ORDERED_SEED") {
        Some(seed) => seed.parse().expect("ORDERED_SEED is a number"),
        None => js_sys::Date::now() as u64 | 1,
    }
}

#[wasm_bindgen_test]
fn the_memory_order_is_indexeddbs() {
    let seed = seed();
    console_log!("the_memory_order_is_indexeddbs: seed {seed}");
    let mut rng = Rng(seed);
    let factory = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
    let keys: Vec<Value> = (0..200).map(|_| rng.key(0)).filter(is_order_key).collect();
    for a in &keys {
        for b in &keys {
            let idb = factory.cmp(&plain(a.clone()), &plain(b.clone())).unwrap();
            assert_eq!(key_order(a, b) as i16, idb, "{a} against {b} (seed {seed})");
        }
    }
}

#[wasm_bindgen_test]
async fn the_memory_store_pages_as_indexeddb_does_on_a_random_collection() {
    let seed = seed();
    console_log!("the_memory_store_pages_as_indexeddb_does_on_a_random_collection: seed {seed}");
    let mut rng = Rng(seed);
    let [idb, memory] = both_backends("test-ordered-random").await;
    // By key, so each record is written once: the last value drawn for it.
    let mut changes = BTreeMap::new();
    let mut keys = Vec::new();
    for n in 0..300 {
        let id = format!("r{}", rng.below(1_000));
        let order_key = rng.key(0);
        keys.push(order_key.clone());
        let value = match rng.below(10) {
            0 => json!({"text": n}),
            _ => json!({"order_key": order_key, "n": n}),
        };
        let collection = if rng.below(8) == 0 { "other" } else { "c" };
        changes.insert(key(collection, &id), value);
    }
    let changes: Vec<_> = changes.into_iter().collect();
    let deleted: Vec<_> = (0..30).map(|_| format!("r{}", rng.below(1_000))).collect();
    for store in [&idb, &memory] {
        store.write_many(changes.clone()).await.unwrap();
        for id in &deleted {
            store.delete(key("c", id)).await.unwrap();
        }
    }
    // Prefixes of stored keys, and a few of no key.
    let mut prefixes: Vec<Vec<Value>> = vec![vec![], vec![json!("p")], vec![json!("zz")]];
    for k in keys.iter().filter(|k| is_order_key(k)) {
        if let Value::Array(items) = k {
            let len = rng.below(items.len() as u64 + 1) as usize;
            prefixes.push(items[..len].to_vec());
        }
    }
    for (i, within) in prefixes.iter().enumerate().take(40) {
        let limit = 1 + rng.below(12) as u32;
        let order = if i % 2 == 0 { ASC } else { DESC };
        let from_idb = walk(&idb, "c", within, order, limit).await;
        let from_memory = walk(&memory, "c", within, order, limit).await;
        assert_eq!(
            from_idb, from_memory,
            "within {within:?}, {order:?}, limit {limit} (seed {seed})"
        );
        // Every record in the range is in one of the pages, once.
        let all = from_idb.concat();
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "a record twice (seed {seed})");
    }
}

/// Counts calls to IndexedDB's reading methods from now on, in `globalThis.__idbCalls`.
fn count_idb_calls() {
    js_sys::Function::new_no_args(
        r#"
        if (globalThis.__idbCalls) { for (const k in globalThis.__idbCalls) globalThis.__idbCalls[k] = 0; return; }
        const calls = globalThis.__idbCalls = {};
        const wrap = (proto, protoName, name) => {
            const original = proto[name];
            calls[protoName + "." + name] = 0;
            proto[name] = function (...args) {
                calls[protoName + "." + name] += 1;
                return original.apply(this, args);
            };
        };
        for (const [proto, protoName] of [[IDBObjectStore.prototype, "store"], [IDBIndex.prototype, "index"]]) {
            for (const name of ["get", "getAll", "getAllKeys", "openCursor", "openKeyCursor", "count"]) wrap(proto, protoName, name);
        }
        for (const name of ["continue", "advance", "continuePrimaryKey"]) wrap(IDBCursor.prototype, "cursor", name);
        "#,
    )
    .call0(&JsValue::NULL)
    .unwrap();
}

fn idb_calls(name: &str) -> u32 {
    let calls = js_sys::Reflect::get(&js_sys::global(), &"__idbCalls".into()).unwrap();
    js_sys::Reflect::get(&calls, &name.into())
        .unwrap()
        .as_f64()
        .unwrap() as u32
}

#[wasm_bindgen_test]
async fn the_newest_50_of_10_000_come_back_without_reading_the_rest() {
    let store = fresh("test-ordered-10k").await;
    for batch in 0..10 {
        let changes = (0..1_000)
            .map(|i| {
                let n = batch * 1_000 + i;
                let id = format!("m{n:05}");
                (
                    key("messages", &id),
                    json!({"order_key": ["big", n, id], "text": "hello"}),
                )
            })
            .collect();
        store.write_many(changes).await.unwrap();
    }
    count_idb_calls();
    let page = store
        .ordered_page("messages", &[json!("big")], DESC, None, 50)
        .await
        .unwrap();
    let expected: Vec<String> = (9_950..10_000).rev().map(|n| format!("m{n:05}")).collect();
    assert_eq!(ids(&page), expected);
    assert!(page.next.is_some());
    // One cursor, stepped once per record of the page (and once more to see that there
    // are more): the other 9,950 records are never read.
    assert_eq!(idb_calls("index.openCursor"), 1);
    assert!(
        idb_calls("cursor.continue") <= 52,
        "{} cursor steps",
        idb_calls("cursor.continue")
    );
    for whole in ["store.getAll", "index.getAll", "store.openCursor"] {
        assert_eq!(idb_calls(whole), 0, "{whole}");
    }

    // The next page resumes there with as few steps.
    count_idb_calls();
    let older = store
        .ordered_page("messages", &[json!("big")], DESC, page.next.as_ref(), 50)
        .await
        .unwrap();
    assert_eq!(ids(&older)[0], "m09949");
    assert_eq!(ids(&older).len(), 50);
    assert!(idb_calls("cursor.continue") <= 53);

    // Reading the collection whole, for contrast, reads all 10,000.
    count_idb_calls();
    let all = store.load_collection("messages").await.unwrap();
    assert_eq!(all.records.len(), 10_000);
    assert_eq!(idb_calls("store.getAll"), 1);
}

#[wasm_bindgen_test]
async fn a_version_6_database_is_upgraded_with_its_records_indexed() {
    let name = "test-ordered-upgrade-v6";
    Store::delete_database(name).await.unwrap();
    // The schema as version 6 created it: no index on records.
    let by_key = ["collection", "id"];
    let v6 = Rexie::builder(name)
        .version(6)
        .add_object_store(ObjectStore::new("records").key_path_array(by_key))
        .add_object_store(ObjectStore::new("outbox").key_path_array(by_key))
        .add_object_store(ObjectStore::new("quarantine").key_path_array(by_key))
        .add_object_store(ObjectStore::new("set_aside").key_path_array(by_key))
        .add_object_store(ObjectStore::new("conflicts").key_path_array([
            "collection",
            "id",
            "lost_hlc",
        ]))
        .add_object_store(ObjectStore::new("meta"))
        .add_object_store(ObjectStore::new("snapshots").key_path("id"))
        .add_object_store(ObjectStore::new("blobs").key_path("id"))
        .add_object_store(ObjectStore::new("secrets").key_path("name"))
        .add_object_store(ObjectStore::new("keys"))
        .build()
        .await
        .unwrap();
    v6.close();
    let row = |id: &str, at: u64| {
        json!({"collection": "messages", "id": id, "hlc": "000000000064-00000000-abc",
               "deleted": false, "value": {"order_key": ["c", at, id], "text": id}})
    };
    put_raw(
        name,
        "records",
        &[
            (None, row("m2", 20)),
            (None, row("m1", 10)),
            (None, row("m3", 30)),
        ],
    )
    .await;
    put_raw(
        name,
        "meta",
        &[
            (Some("device_id"), json!("abc")),
            (Some("data_version"), json!(2)),
        ],
    )
    .await;

    let store = Store::open(name).await.unwrap();
    assert_eq!(store.device_id().as_str(), "abc");
    let page = store
        .ordered_page("messages", &[json!("c")], DESC, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&page), strs(&["m3", "m2", "m1"]));
    assert_eq!(page.records[0].value["text"], json!("m3"));
    assert_eq!(
        store
            .load_collection("messages")
            .await
            .unwrap()
            .records
            .len(),
        3
    );
    drop(store);
    let db = Rexie::builder(name).build().await.unwrap();
    assert_eq!(db.version().unwrap(), DB_VERSION);
    db.close();
    // Opening again keeps the index (and the data).
    let again = Store::open(name).await.unwrap();
    let page = again
        .ordered_page("messages", &[json!("c")], ASC, None, 2)
        .await
        .unwrap();
    assert_eq!(ids(&page), strs(&["m1", "m2"]));
}
