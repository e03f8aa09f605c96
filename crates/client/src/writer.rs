//! IndexedDB below rexie: local writes on a plain connection kept beside rexie's, and the
//! probe that notices an upgrade blocked by another tab (rexie does not report `blocked`).
//!
//! rexie opens, upgrades and reads the database, but cannot serve local writes well: when
//! a transaction aborts it does not say why (a full disk's QuotaExceededError is only on
//! `IDBTransaction.error`), and it attaches a handler to every request. Here a whole
//! write is one batch of reads (the device clock, the rows it replaces), then — in the
//! last read's success callback, still
//! inside the transaction — synchronous `put` calls built from it and an explicit
//! `commit()`, and one promise on the transaction: nothing of it waits on the page's event
//! loop, so a write started by `pagehide` completes even as the page goes away, and no
//! other context can change the clock between the read and the write.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use cairn_protocol::RecordKey;

use js_sys::{Array, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStore, IdbOpenDbRequest, IdbRequest,
    IdbTransaction, IdbTransactionMode,
};

use crate::key_batch;
use crate::store::key_js;
use crate::StoreError;

/// What one [`Writer::read_then_write`] stores: rows by their key path, rows at explicit keys,
/// and keys to delete, each with its store's name.
#[derive(Default)]
pub(crate) struct Write {
    pub puts: Vec<(&'static str, Vec<JsValue>)>,
    pub keyed: Vec<(&'static str, JsValue, JsValue)>,
    pub deletes: Vec<(&'static str, Vec<JsValue>)>,
}

type Callback = Closure<dyn FnMut()>;

/// What a write reads before it builds what it stores.
pub(crate) enum Read<'a> {
    /// The value at `key` of a store.
    Key(&'a str, JsValue),
    /// The rows of a store keyed `[collection, id]` (with those fields) at each key.
    Rows(&'a str, &'a [RecordKey]),
}

/// Fewer keys than this are read one `get` each (a single write's path, as before range
/// reads); more with one `getAll` over their range ([`key_batch`]).
const MIN_KEYS_FOR_A_RANGE: usize = 8;

/// A read as issued in the transaction.
enum Issued {
    /// One `get` per key (or the one key of a [`Read::Key`]).
    Each(Vec<IdbRequest>),
    /// A `count` of the keys' range, before deciding how to read them.
    Counted {
        request: IdbRequest,
        store: IdbObjectStore,
        range: IdbKeyRange,
        keys: Vec<RecordKey>,
    },
    /// One `getAll` over the keys' whole range (none when the range is empty).
    Whole {
        request: Option<IdbRequest>,
        keys: Vec<RecordKey>,
    },
}

impl Issued {
    fn new(tx: &IdbTransaction, read: &Read<'_>) -> Result<Issued, JsValue> {
        match read {
            Read::Key(store, key) => Ok(Issued::Each(vec![tx.object_store(store)?.get(key)?])),
            Read::Rows(store, keys) => {
                let store = tx.object_store(store)?;
                match key_batch::span_range(keys)? {
                    Some(range) if keys.len() >= MIN_KEYS_FOR_A_RANGE => Ok(Issued::Counted {
                        request: store.count_with_key(&range)?,
                        store,
                        range,
                        keys: keys.to_vec(),
                    }),
                    _ => Ok(Issued::Each(each(&store, keys)?)),
                }
            }
        }
    }

    /// The request that completes last of this read.
    fn last(&self) -> Option<IdbRequest> {
        match self {
            Issued::Each(requests) => requests.last().cloned(),
            Issued::Counted { request, .. } => Some(request.clone()),
            Issued::Whole { request, .. } => request.clone(),
        }
    }

    /// A counted range is read now: whole with one `getAll` when it holds at most
    /// [`key_batch::ROWS_PER_KEY`] rows per key, else one `get` per key. Returns the
    /// last request this issued.
    fn read_counted(&mut self) -> Result<Option<IdbRequest>, JsValue> {
        let Issued::Counted {
            request,
            store,
            range,
            keys,
        } = self
        else {
            return Ok(None);
        };
        let held = request.result()?.as_f64().unwrap_or(f64::INFINITY);
        let keys = std::mem::take(keys);
        *self = if held == 0.0 {
            Issued::Whole {
                request: None,
                keys,
            }
        } else if held <= f64::from(key_batch::bound(keys.len())) {
            Issued::Whole {
                request: Some(store.get_all_with_key(range)?),
                keys,
            }
        } else {
            Issued::Each(each(store, &keys)?)
        };
        Ok(self.last())
    }

    /// The values read, in the order of the keys.
    fn values(self) -> Vec<Option<JsValue>> {
        let value = |v: JsValue| Some(v).filter(|v| !v.is_undefined());
        match self {
            Issued::Each(requests) => requests
                .iter()
                .map(|r| r.result().ok().and_then(value))
                .collect(),
            Issued::Whole { request, keys } => {
                let rows: Array = request
                    .and_then(|r| r.result().ok())
                    .map(JsCast::unchecked_into)
                    .unwrap_or_default();
                let by_key: HashMap<RecordKey, JsValue> = rows
                    .iter()
                    .filter_map(|row| Some((key_batch::row_key(&row)?, row)))
                    .collect();
                keys.iter().map(|k| by_key.get(k).cloned()).collect()
            }
            // Never left counted: `read_counted` ran first.
            Issued::Counted { keys, .. } => vec![None; keys.len()],
        }
    }
}

fn each(store: &IdbObjectStore, keys: &[RecordKey]) -> Result<Vec<IdbRequest>, JsValue> {
    keys.iter().map(|k| store.get(&key_js(k))).collect()
}

pub(crate) struct Writer {
    db: IdbDatabase,
    /// Closes this connection when another one upgrades or deletes the database.
    _on_version_change: Closure<dyn FnMut()>,
}

impl Writer {
    /// Opens another connection to the (already created and upgraded) database `name`.
    pub(crate) async fn open(name: &str) -> Result<Writer, StoreError> {
        let unavailable = |e: JsValue| StoreError::Unavailable(describe(&e));
        let request: IdbOpenDbRequest = factory()?.open(name).map_err(unavailable)?;
        let opened = Promise::new(&mut |resolve, reject| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        });
        JsFuture::from(opened)
            .await
            .map_err(|_| unavailable(request.error().map(JsValue::from).unwrap_or_default()))?;
        let db: IdbDatabase = request.result().map_err(unavailable)?.unchecked_into();
        let on_version_change = {
            let db = db.clone();
            Closure::<dyn FnMut()>::new(move || db.close())
        };
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        Ok(Writer {
            db,
            _on_version_change: on_version_change,
        })
    }

    /// In one readwrite transaction over `stores`: reads what `reads` names, calls `build`
    /// with the values there (`None` where a key holds nothing; one per [`Read::Key`], one
    /// per key of a [`Read::Rows`], in order), then stores what it returns — puts every
    /// value of `puts` into its store, each `(store, key, value)` of `keyed`, deletes every
    /// key of `deletes` — and commits. Resolves once committed; if `build` fails or the
    /// transaction aborts, nothing of it is stored and the error says why.
    ///
    /// The reads are issued together; requests of one transaction complete in the order
    /// they were made, so when the last one succeeds every result is there, and `build`
    /// runs in that success callback. The rows of many keys are read in two rounds: a
    /// `count` of their key range, then — issued from that callback, still inside the
    /// transaction — one `getAll` over the range when it holds a few rows per key, or one
    /// `get` per key when the keys lie sparsely in a large store; `build` runs in the
    /// success callback of that round's last request.
    pub(crate) async fn read_then_write(
        &self,
        stores: &[&str],
        reads: &[Read<'_>],
        build: impl FnOnce(Vec<Option<JsValue>>) -> Result<Write, StoreError> + 'static,
    ) -> Result<(), StoreError> {
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let tx = self
            .db
            .transaction_with_str_sequence_and_mode(&names, IdbTransactionMode::Readwrite)
            .map_err(|e| classify(&e))?;
        let done = Promise::new(&mut |resolve, reject| {
            tx.set_oncomplete(Some(&resolve));
            tx.set_onabort(Some(&reject));
        });
        let issued = reads
            .iter()
            .map(|read| Issued::new(&tx, read))
            .collect::<Result<Vec<Issued>, JsValue>>()
            .map_err(|e| {
                let _ = tx.abort();
                classify(&e)
            })?;
        let Some(last) = issued.iter().rev().find_map(Issued::last) else {
            let _ = tx.abort();
            return Err(StoreError::Storage("a write reads at least one key".into()));
        };
        let failed: Rc<RefCell<Option<StoreError>>> = Rc::default();
        // The callback of the second round of reads, when there is one; kept alive here.
        let second: Rc<RefCell<Option<Callback>>> = Rc::default();
        let on_read = {
            let (tx, failed, second) = (tx.clone(), failed.clone(), second.clone());
            let mut pending = Some((build, issued));
            Closure::<dyn FnMut()>::new(move || {
                let Some((build, mut issued)) = pending.take() else {
                    return;
                };
                let fail = |e: StoreError| {
                    *failed.borrow_mut() = Some(e);
                    let _ = tx.abort();
                };
                // The counted ranges are read now, whole or one `get` per key.
                let mut again = None;
                for read in &mut issued {
                    match read.read_counted() {
                        Ok(Some(request)) => again = Some(request),
                        Ok(None) => {}
                        Err(e) => return fail(classify(&e)),
                    }
                }
                let finish = {
                    let (tx, failed) = (tx.clone(), failed.clone());
                    move || {
                        let values = issued.into_iter().flat_map(Issued::values).collect();
                        let outcome = build(values)
                            .and_then(|write| issue(&tx, &write).map_err(|e| classify(&e)));
                        if let Err(e) = outcome {
                            *failed.borrow_mut() = Some(e);
                            let _ = tx.abort();
                        }
                    }
                };
                match again {
                    None => finish(),
                    Some(request) => {
                        let mut finish = Some(finish);
                        let on_second = Closure::<dyn FnMut()>::new(move || {
                            if let Some(finish) = finish.take() {
                                finish();
                            }
                        });
                        request.set_onsuccess(Some(on_second.as_ref().unchecked_ref()));
                        *second.borrow_mut() = Some(on_second);
                    }
                }
            })
        };
        last.set_onsuccess(Some(on_read.as_ref().unchecked_ref()));
        let result = JsFuture::from(done).await;
        last.set_onsuccess(None);
        drop(on_read);
        drop(second.borrow_mut().take());
        if let Some(e) = failed.borrow_mut().take() {
            return Err(e);
        }
        match result {
            Ok(_) => Ok(()),
            Err(_) => Err(aborted(&tx)),
        }
    }

    pub(crate) fn close(&self) {
        self.db.close();
    }
}

/// Resolves once the database `name` can be opened at `version`. If another connection
/// with an older version (a tab still running an older app) keeps it open, calls
/// `on_blocked` and waits until that connection closes. Leaves the database as it was:
/// an upgrade this probe triggers is aborted, for rexie to perform.
pub(crate) async fn wait_until_upgradable(
    name: &str,
    version: u32,
    on_blocked: impl FnOnce() + 'static,
) -> Result<(), StoreError> {
    let factory = factory()?;
    let request = factory
        .open_with_u32(name, version)
        .map_err(|e| StoreError::Unavailable(describe(&e)))?;
    let on_blocked = Closure::once(on_blocked);
    request.set_onblocked(Some(on_blocked.as_ref().unchecked_ref()));
    let on_upgrade = {
        let request = request.clone();
        Closure::<dyn FnMut()>::new(move || {
            if let Some(tx) = request.transaction() {
                let _ = tx.abort();
            }
        })
    };
    request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let settled = Promise::new(&mut |resolve, _| {
        request.set_onsuccess(Some(&resolve));
        // An aborted upgrade, or a newer database (which `Store::open` then reports).
        request.set_onerror(Some(&resolve));
    });
    let _ = JsFuture::from(settled).await;
    // Opened without an upgrade: close the probe. (After an aborted upgrade there is none.)
    if let Some(db) = request
        .result()
        .ok()
        .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
    {
        db.close();
    }
    Ok(())
}

fn factory() -> Result<IdbFactory, StoreError> {
    js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| StoreError::Unavailable("indexedDB is missing".into()))
}

fn issue(tx: &IdbTransaction, write: &Write) -> Result<(), JsValue> {
    for (store, values) in &write.puts {
        let store = tx.object_store(store)?;
        for value in values.iter() {
            store.put(value)?;
        }
    }
    for (store, key, value) in &write.keyed {
        tx.object_store(store)?.put_with_key(value, key)?;
    }
    for (store, keys) in &write.deletes {
        let store = tx.object_store(store)?;
        for key in keys.iter() {
            store.delete(key)?;
        }
    }
    // `IDBTransaction.commit()` is standard (IndexedDB 3.0) and in every current engine;
    // web-sys's binding carries a stale deprecation mark.
    #[allow(deprecated)]
    tx.commit()
}

/// Why `tx` aborted.
fn aborted(tx: &IdbTransaction) -> StoreError {
    match tx.error() {
        Some(e) => classify(&e.into()),
        None => StoreError::Storage("the transaction was aborted".into()),
    }
}

fn classify(err: &JsValue) -> StoreError {
    match err.dyn_ref::<web_sys::DomException>() {
        Some(e) if e.name() == "QuotaExceededError" => StoreError::QuotaExceeded,
        _ => StoreError::Storage(describe(err)),
    }
}

fn describe(err: &JsValue) -> String {
    match err.dyn_ref::<web_sys::DomException>() {
        Some(e) => format!("{}: {}", e.name(), e.message()),
        None => err.as_string().unwrap_or_else(|| format!("{err:?}")),
    }
}
