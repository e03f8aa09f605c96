//! The IndexedDB store.
//!
//! One database with two object stores:
//! - `records`: every [`Record`], keyed by `[collection, id]`;
//! - `meta`: small values keyed by name: the device id and the device clock's last value.
//!
//! A write ticks the device clock and stores the record and the new clock value in one
//! readwrite transaction, and resolves only once that transaction has committed.

use std::cell::RefCell;

use cairn_protocol::{DeviceId, Hlc, HlcClock, Record, RecordKey};
use rexie::{ObjectStore, Rexie, TransactionMode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

const RECORDS: &str = "records";
const META: &str = "meta";
const META_DEVICE_ID: &str = "device_id";
const META_CLOCK: &str = "clock";

/// IndexedDB schema version (object stores and indexes).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// IndexedDB cannot be opened here (private mode in some browsers, disabled storage).
    #[error("local storage is unavailable: {0}")]
    Unavailable(String),
    /// A stored value failed to decode.
    #[error("stored data for {collection}/{id} is unreadable: {reason}")]
    Corrupt {
        collection: String,
        id: String,
        reason: String,
    },
    /// A value could not be encoded for storage.
    #[error("could not encode the value: {0}")]
    Encode(String),
    /// The clock refused to issue a timestamp.
    #[error("clock error: {0}")]
    Clock(#[from] cairn_protocol::HlcError),
    /// Any other IndexedDB failure (the transaction did not commit).
    #[error("storage error: {0}")]
    Storage(String),
}

impl From<rexie::Error> for StoreError {
    fn from(err: rexie::Error) -> Self {
        StoreError::Storage(format!("{err:?}"))
    }
}

/// An open Cairn database.
pub struct Store {
    db: Rexie,
    clock: RefCell<HlcClock>,
}

impl Store {
    /// The database name the app uses.
    pub const APP_DB: &'static str = "cairn";

    /// Opens (creating or upgrading if needed) the database `name`, and loads or creates
    /// this device's id and clock.
    pub async fn open(name: &str) -> Result<Store, StoreError> {
        let db = Rexie::builder(name)
            .version(SCHEMA_VERSION)
            .add_object_store(ObjectStore::new(RECORDS).key_path_array(["collection", "id"]))
            .add_object_store(ObjectStore::new(META))
            .build()
            .await
            .map_err(|e| StoreError::Unavailable(format!("{e:?}")))?;
        let clock = load_or_create_clock(&db).await?;
        Ok(Store {
            db,
            clock: RefCell::new(clock),
        })
    }

    /// Deletes the database `name` (tests and "clear all data").
    pub async fn delete(name: &str) -> Result<(), StoreError> {
        Rexie::delete(name).await.map_err(Into::into)
    }

    pub fn device_id(&self) -> DeviceId {
        self.clock.borrow().device().clone()
    }

    /// The record at `key`, if any.
    pub async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let tx = self.db.transaction(&[RECORDS], TransactionMode::ReadOnly)?;
        let raw = tx.store(RECORDS)?.get(record_key(key)).await?;
        raw.map(|raw| {
            from_js::<Record>(raw).map_err(|reason| StoreError::Corrupt {
                collection: key.collection.clone(),
                id: key.id.clone(),
                reason,
            })
        })
        .transpose()
    }

    /// Stores `record` as it is (its clock already set). Resolves once committed.
    pub async fn put(&self, record: &Record) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[RECORDS], TransactionMode::ReadWrite)?;
        tx.store(RECORDS)?.put(&to_js(record)?, None).await?;
        commit(tx).await
    }

    /// Writes `value` at `key` as a new local change: stamps it with the next clock value
    /// and stores record and clock in one transaction. Returns the stored record.
    pub async fn write(
        &self,
        key: RecordKey,
        value: serde_json::Value,
    ) -> Result<Record, StoreError> {
        let hlc = self.clock.borrow_mut().tick(now_ms())?;
        let record = Record::new(key, value, hlc.clone());
        let tx = self
            .db
            .transaction(&[RECORDS, META], TransactionMode::ReadWrite)?;
        tx.store(RECORDS)?.put(&to_js(&record)?, None).await?;
        tx.store(META)?
            .put(&to_js(&hlc)?, Some(&JsValue::from_str(META_CLOCK)))
            .await?;
        commit(tx).await?;
        Ok(record)
    }
}

async fn commit(tx: rexie::Transaction) -> Result<(), StoreError> {
    let result = tx.done().await?;
    if result.is_committed() {
        Ok(())
    } else {
        Err(StoreError::Storage("the transaction was aborted".into()))
    }
}

async fn load_or_create_clock(db: &Rexie) -> Result<HlcClock, StoreError> {
    let tx = db.transaction(&[META], TransactionMode::ReadWrite)?;
    let meta = tx.store(META)?;
    let corrupt = |id: &str, reason: String| StoreError::Corrupt {
        collection: META.into(),
        id: id.into(),
        reason,
    };
    let device = match meta.get(JsValue::from_str(META_DEVICE_ID)).await? {
        Some(raw) => from_js::<DeviceId>(raw).map_err(|r| corrupt(META_DEVICE_ID, r))?,
        None => {
            let device = DeviceId::from_random(random_u64()?);
            meta.put(&to_js(&device)?, Some(&JsValue::from_str(META_DEVICE_ID)))
                .await?;
            device
        }
    };
    let clock = match meta.get(JsValue::from_str(META_CLOCK)).await? {
        Some(raw) => {
            let last = from_js::<Hlc>(raw).map_err(|r| corrupt(META_CLOCK, r))?;
            HlcClock::resume(device, &last)
        }
        None => HlcClock::new(device),
    };
    commit(tx).await?;
    Ok(clock)
}

fn record_key(key: &RecordKey) -> JsValue {
    js_sys::Array::of2(
        &JsValue::from_str(&key.collection),
        &JsValue::from_str(&key.id),
    )
    .into()
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, StoreError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| StoreError::Encode(e.to_string()))
}

fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// 64 random bits from the Web Crypto API of the current global (window or worker).
fn random_u64() -> Result<u64, StoreError> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .and_then(|c| c.dyn_into::<web_sys::Crypto>().ok())
        .ok_or_else(|| StoreError::Unavailable("the Web Crypto API is missing".into()))?;
    let mut bytes = [0u8; 8];
    crypto
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|e| StoreError::Unavailable(format!("crypto.getRandomValues failed: {e:?}")))?;
    Ok(u64::from_le_bytes(bytes))
}
