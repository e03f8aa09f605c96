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
use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use crate::StoreError;

/// What one [`Writer::write`] stores: rows by their key path, rows at explicit keys,
/// and keys to delete, each with its store's name.
#[derive(Default)]
pub(crate) struct Write {
    pub puts: Vec<(&'static str, Vec<JsValue>)>,
    pub keyed: Vec<(&'static str, JsValue, JsValue)>,
    pub deletes: Vec<(&'static str, Vec<JsValue>)>,
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

    /// In one readwrite transaction over `stores`: reads each `(store, key)` of `reads`,
    /// calls `build` with the values there (`None` where a key holds nothing), then stores
    /// what it returns — puts every value of `puts` into its store, each
    /// `(store, key, value)` of `keyed`, deletes every key of `deletes` — and commits.
    /// Resolves once committed; if `build` fails or the transaction aborts, nothing of it
    /// is stored and the error says why.
    ///
    /// The reads are issued together; requests of one transaction complete in the order
    /// they were made, so when the last one succeeds every result is there, and `build`
    /// runs in that success callback.
    pub(crate) async fn read_then_write(
        &self,
        stores: &[&str],
        reads: &[(&str, JsValue)],
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
        let requests = reads
            .iter()
            .map(|(store, key)| tx.object_store(store).and_then(|store| store.get(key)))
            .collect::<Result<Vec<IdbRequest>, JsValue>>()
            .map_err(|e| {
                let _ = tx.abort();
                classify(&e)
            })?;
        let Some(last) = requests.last().cloned() else {
            let _ = tx.abort();
            return Err(StoreError::Storage("a write reads at least one key".into()));
        };
        let failed: Rc<RefCell<Option<StoreError>>> = Rc::default();
        let on_read = {
            let (tx, failed) = (tx.clone(), failed.clone());
            let mut build = Some((build, requests));
            Closure::<dyn FnMut()>::new(move || {
                let Some((build, requests)) = build.take() else {
                    return;
                };
                let values = requests
                    .iter()
                    .map(|r| r.result().ok().filter(|v| !v.is_undefined()))
                    .collect();
                let outcome =
                    build(values).and_then(|write| issue(&tx, &write).map_err(|e| classify(&e)));
                if let Err(e) = outcome {
                    *failed.borrow_mut() = Some(e);
                    let _ = tx.abort();
                }
            })
        };
        last.set_onsuccess(Some(on_read.as_ref().unchecked_ref()));
        let result = JsFuture::from(done).await;
        last.set_onsuccess(None);
        drop(on_read);
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
