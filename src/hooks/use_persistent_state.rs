use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cairn_protocol::{Hlc, Record, RecordKey};
use gloo::timers::callback::Timeout;
use serde::de::DeserializeOwned;
use serde::Serialize;
use yew::platform::spawn_local;
use yew::prelude::*;

use super::persistence::{use_persistence, Persistence};

/// Attempts per write before the status becomes [`SaveStatus::Error`].
pub const MAX_ATTEMPTS: u32 = 3;
/// Wait before the first retry; doubled for each further one.
pub const FIRST_RETRY_MS: u32 = 250;

/// Whether the latest value is safely stored.
#[derive(Debug, Clone, PartialEq)]
pub enum SaveStatus {
    /// Nothing written since the value was loaded.
    Idle,
    Saving,
    /// Stored, at this time (ms since the epoch).
    Saved(f64),
    /// Not stored, and why: a storage failure after every retry, or a value the
    /// validator refused.
    Error(String),
}

/// A validator: `Err(reason)` keeps a value from being written.
pub type Validator<T> = Rc<dyn Fn(&T) -> Result<(), String>>;

/// How a [`use_persistent_state`] value is stored.
pub struct PersistOptions<T> {
    /// The collection of the record (default `"prefs"`).
    pub collection: &'static str,
    /// Wait this long after the last change before writing (default 1000 ms; 0 writes
    /// each change at once).
    pub debounce_ms: u32,
    pub validate: Option<Validator<T>>,
}

impl<T> Default for PersistOptions<T> {
    fn default() -> Self {
        Self {
            collection: "prefs",
            debounce_ms: 1000,
            validate: None,
        }
    }
}

impl<T> PersistOptions<T> {
    pub fn collection(mut self, collection: &'static str) -> Self {
        self.collection = collection;
        self
    }

    pub fn debounce_ms(mut self, ms: u32) -> Self {
        self.debounce_ms = ms;
        self
    }

    pub fn validate(mut self, validate: impl Fn(&T) -> Result<(), String> + 'static) -> Self {
        self.validate = Some(Rc::new(validate));
        self
    }
}

/// The handle returned by [`use_persistent_state`].
pub struct PersistentState<T> {
    value: UseStateHandle<Rc<T>>,
    status: UseStateHandle<SaveStatus>,
    dirty: UseStateHandle<bool>,
    loaded: UseStateHandle<bool>,
    saver: Rc<Saver>,
    validate: Option<Validator<T>>,
}

impl<T> Clone for PersistentState<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            status: self.status.clone(),
            dirty: self.dirty.clone(),
            loaded: self.loaded.clone(),
            saver: self.saver.clone(),
            validate: self.validate.clone(),
        }
    }
}

impl<T: Serialize + 'static> PersistentState<T> {
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Replaces the value; it is written after the debounce delay, unless the validator
    /// refuses it (then the status says why and nothing is written).
    pub fn set(&self, value: T) {
        self.dirty.set(true);
        if let Some(Err(reason)) = self.validate.as_ref().map(|v| v(&value)) {
            self.saver.discard_pending();
            self.status.set(SaveStatus::Error(reason));
        } else {
            match serde_json::to_value(&value) {
                Ok(json) => self.saver.queue(json),
                Err(e) => self.status.set(SaveStatus::Error(e.to_string())),
            }
        }
        self.value.set(Rc::new(value));
    }

    /// Replaces the value with `f(current)`.
    pub fn update(&self, f: impl FnOnce(&T) -> T) {
        self.set(f(&self.value));
    }

    /// [`Self::set`] as a callback, for event handlers.
    pub fn setter(&self) -> Callback<T> {
        let this = self.clone();
        Callback::from(move |value| this.set(value))
    }

    /// Writes the pending change now instead of after the debounce delay; after a
    /// failed write, tries again with a fresh set of attempts.
    pub fn save_now(&self) {
        self.saver.failed_attempts.set(0);
        self.saver.flush();
    }

    /// Drops a change that is waiting to be written (debounced, or kept after failed
    /// attempts), e.g. because the record is being deleted: nothing of it is written.
    pub fn discard_pending(&self) {
        self.saver.discard_pending();
        self.dirty.set(false);
    }

    /// True from a change until it is stored.
    pub fn is_dirty(&self) -> bool {
        *self.dirty
    }

    pub fn status(&self) -> &SaveStatus {
        &self.status
    }

    /// False until the stored value (if any) has been read. Always true for the
    /// collections the provider loads before first render.
    pub fn is_loaded(&self) -> bool {
        *self.loaded
    }
}

/// State of type `T` kept in the record `options.collection`/`id`.
///
/// The value starts as the stored one (already loaded for hydrated collections, read on
/// mount otherwise), or `default`. Changes are debounced, written through the store's
/// transactional outbox one at a time (never two concurrent writes of one key), retried
/// with exponential backoff, flushed when the page is hidden or the component unmounts,
/// and follow changes made elsewhere (other tabs, other devices through sync) while
/// nothing is pending here. A change from elsewhere that arrives while a local change
/// waits (in the debounce, or in flight) is not lost: the local change replaces it, and
/// it goes to the conflict log, restorable like any conflict.
#[hook]
pub fn use_persistent_state<T>(
    id: &str,
    default: T,
    options: PersistOptions<T>,
) -> PersistentState<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    let persistence = use_persistence();
    let key = RecordKey::new(options.collection, id);
    let hydrated = persistence.is_hydrated(options.collection);
    // A deleted record (a tombstone, e.g. after "Clear data") reads as the default.
    let default_json = use_memo((), |_| serde_json::to_value(&default).ok());
    let value = {
        let initial = persistence
            .hydrated(&key)
            .filter(|r| !r.deleted)
            .and_then(|r| decode::<T>(r.value).ok());
        use_state(move || Rc::new(initial.unwrap_or(default)))
    };
    let status = use_state(|| SaveStatus::Idle);
    let dirty = use_state(|| false);
    let loaded = use_state(|| hydrated);
    let saver = {
        let (persistence, status, dirty) = (persistence.clone(), status.setter(), dirty.setter());
        use_memo(key.clone(), move |key| {
            let base = persistence.hydrated(key).map(|r| r.hlc);
            let saver = Saver::new(persistence, key.clone(), options.debounce_ms, status, dirty);
            *saver.base.borrow_mut() = base;
            saver
        })
    };

    // Read the stored value of a collection that was not loaded up front.
    {
        let (saver, value, status, loaded) = (
            saver.clone(),
            value.setter(),
            status.setter(),
            loaded.setter(),
        );
        use_effect_with(key.clone(), move |key| {
            if !hydrated {
                let (persistence, key) = (saver.persistence.clone(), key.clone());
                spawn_local(async move {
                    match persistence.store().get(&key).await {
                        Ok(Some(record)) if !saver.has_unsaved() => {
                            saver.saw(&record);
                            if !record.deleted {
                                match decode::<T>(record.value) {
                                    Ok(stored) => value.set(Rc::new(stored)),
                                    Err(e) => status.set(SaveStatus::Error(e)),
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(e) => status.set(SaveStatus::Error(e.to_string())),
                    }
                    loaded.set(true);
                });
            }
        });
    }

    // Follow changes from other tabs and other components, unless a local change is pending.
    {
        let (saver, value, default_json) = (saver.clone(), value.setter(), default_json.clone());
        use_effect_with(saver, move |saver| {
            let watched = saver.clone();
            let registration = saver.persistence.watch(
                saver.key.clone(),
                Callback::from(move |record: Record| {
                    if !watched.is_news(&record) {
                        return;
                    }
                    if watched.has_unsaved() {
                        // The pending local change will replace it: keep it for the log.
                        watched.replacing(record);
                        return;
                    }
                    watched.saw(&record);
                    let stored = if record.deleted {
                        (*default_json).clone()
                    } else {
                        Some(record.value)
                    };
                    if let Some(Ok(v)) = stored.map(decode::<T>) {
                        value.set(Rc::new(v));
                    }
                }),
            );
            let flusher = saver.clone();
            let flush_registration = saver.persistence.on_flush(Rc::new(move || flusher.flush()));
            let saver = saver.clone();
            move || {
                drop(registration);
                drop(flush_registration);
                // Unmounting with a change still waiting for its debounce: write it now.
                saver.flush();
            }
        });
    }

    PersistentState {
        value,
        status,
        dirty,
        loaded,
        saver: (*saver).clone(),
        validate: options.validate,
    }
}

fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("the stored value could not be read ({e})"))
}

/// Writes one key's changes: debounced, one at a time, retried with backoff.
pub(crate) struct Saver {
    persistence: Persistence,
    key: RecordKey,
    debounce_ms: u32,
    status: UseStateSetter<SaveStatus>,
    dirty: UseStateSetter<bool>,
    /// The latest change not yet handed to the store.
    pending: RefCell<Option<serde_json::Value>>,
    in_flight: Cell<bool>,
    failed_attempts: Cell<u32>,
    timer: RefCell<Option<Timeout>>,
    /// The clock of the newest version this hook knows: loaded, followed, or written.
    base: RefCell<Option<Hlc>>,
    /// A version from elsewhere that arrived while a local change was unsaved: the next
    /// write replaces it and logs it as a conflict.
    replaced: RefCell<Option<Record>>,
}

impl PartialEq for Saver {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Saver {
    fn new(
        persistence: Persistence,
        key: RecordKey,
        debounce_ms: u32,
        status: UseStateSetter<SaveStatus>,
        dirty: UseStateSetter<bool>,
    ) -> Rc<Saver> {
        Rc::new(Saver {
            persistence,
            key,
            debounce_ms,
            status,
            dirty,
            pending: RefCell::default(),
            in_flight: Cell::new(false),
            failed_attempts: Cell::new(0),
            timer: RefCell::default(),
            base: RefCell::default(),
            replaced: RefCell::default(),
        })
    }

    /// Whether `record` is newer than every version this hook knows (not its own write
    /// coming back, nor an older version).
    fn is_news(&self, record: &Record) -> bool {
        self.base
            .borrow()
            .as_ref()
            .is_none_or(|base| record.hlc > *base)
    }

    /// This hook now shows `record`.
    fn saw(&self, record: &Record) {
        if self.is_news(record) {
            *self.base.borrow_mut() = Some(record.hlc.clone());
        }
    }

    /// `record`, from elsewhere, is about to be replaced by the unsaved local change.
    fn replacing(&self, record: Record) {
        let mut replaced = self.replaced.borrow_mut();
        if replaced.as_ref().is_none_or(|r| record.hlc > r.hlc) {
            *replaced = Some(record);
        }
    }

    fn has_unsaved(&self) -> bool {
        self.pending.borrow().is_some() || self.in_flight.get()
    }

    fn queue(self: &Rc<Self>, json: serde_json::Value) {
        *self.pending.borrow_mut() = Some(json);
        self.failed_attempts.set(0);
        if self.debounce_ms == 0 {
            self.flush();
        } else {
            self.schedule(self.debounce_ms);
        }
    }

    fn discard_pending(&self) {
        self.pending.borrow_mut().take();
        self.timer.borrow_mut().take();
    }

    fn schedule(self: &Rc<Self>, ms: u32) {
        let this = Rc::downgrade(self);
        // Replacing the timer cancels the previous one.
        *self.timer.borrow_mut() = Some(Timeout::new(ms, move || {
            if let Some(this) = this.upgrade() {
                this.flush();
            }
        }));
    }

    /// Hands the pending change to the store now. With a write in flight it waits: the
    /// write's completion flushes again.
    fn flush(self: &Rc<Self>) {
        self.timer.borrow_mut().take();
        if self.in_flight.get() {
            return;
        }
        let Some(json) = self.pending.borrow_mut().take() else {
            return;
        };
        self.in_flight.set(true);
        self.status.set(SaveStatus::Saving);
        let replaced = self.replaced.borrow_mut().take();
        let this = self.clone();
        spawn_local(async move {
            let result = this
                .persistence
                .store()
                .write_replacing(this.key.clone(), json.clone(), replaced.as_ref())
                .await;
            this.in_flight.set(false);
            match result {
                Ok(record) => {
                    this.failed_attempts.set(0);
                    *this.base.borrow_mut() = Some(record.hlc.clone());
                    if this.pending.borrow().is_some() {
                        this.flush();
                    } else {
                        this.status.set(SaveStatus::Saved(js_sys::Date::now()));
                        this.dirty.set(false);
                        this.settle_replaced(&record);
                    }
                    this.persistence.wrote(record);
                }
                Err(err) => {
                    if let Some(replaced) = replaced {
                        this.replacing(replaced);
                    }
                    this.pending.borrow_mut().get_or_insert(json);
                    let failed = this.failed_attempts.get() + 1;
                    this.failed_attempts.set(failed);
                    if failed < MAX_ATTEMPTS {
                        this.schedule(FIRST_RETRY_MS << (failed - 1));
                    } else {
                        // Kept as pending: the next change or save_now tries again.
                        this.status.set(SaveStatus::Error(err.to_string()));
                    }
                }
            }
        });
    }

    /// After the last pending write (`written`) completed: a version from elsewhere that
    /// arrived while it was in flight is either replaced by it (then logged as a
    /// conflict) or the store's current version (then shown).
    fn settle_replaced(self: &Rc<Self>, written: &Record) {
        let Some(replaced) = self.replaced.borrow_mut().take() else {
            return;
        };
        let (this, written) = (self.clone(), written.clone());
        spawn_local(async move {
            let store = this.persistence.store();
            match store.get(&this.key).await {
                Ok(Some(current)) if current.hlc == written.hlc => {
                    if let Err(e) = store.log_replaced(&written, &replaced).await {
                        this.status.set(SaveStatus::Error(e.to_string()));
                    }
                }
                Ok(Some(current)) => this.persistence.changed(current),
                _ => {}
            }
        });
    }
}
