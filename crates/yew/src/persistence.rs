//! The persistence context that every hook works through: the open store, the records of
//! the small collections loaded before first render, the registry of pending writes to
//! flush, and change notices for records.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use cairn_client::{Quarantined, Store, StoreError, Subscription};
use cairn_protocol::{MergeRules, Record, RecordKey};
use yew::platform::spawn_local;
use yew::prelude::*;

/// How [`Persistence::open`] opens the store: the database, the collections loaded
/// before first render, how concurrent edits merge, and the version written into
/// backups and snapshots.
///
/// ```
/// use cairn_yew::{MergeRule, MergeRules};
/// use cairn_yew::PersistenceConfig;
///
/// let config = PersistenceConfig {
///     database: "my-app".into(),
///     hydrate: vec!["prefs".into(), "ui".into()],
///     merge_rules: MergeRules::new().with("prefs", MergeRule::three_way::<&str>([])),
///     app_version: env!("CARGO_PKG_VERSION").into(),
/// };
/// assert!(config.hydrate.iter().any(|c| c == "ui"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PersistenceConfig {
    /// The IndexedDB database's name.
    pub database: String,
    /// Collections small enough to load in full before the first render, so views of
    /// them never show defaults first. Others load when a hook asks for them.
    pub hydrate: Vec<String>,
    /// How each collection combines concurrent edits (default: the newer version wins
    /// whole, the other going to the conflict log).
    pub merge_rules: MergeRules,
    /// Written into backups ([`use_backup`](crate::use_backup)) and snapshots.
    pub app_version: String,
}

/// The open store and what every hook shares: the records of the hydrated collections,
/// the registry of pending writes to flush, and change notices for records.
///
/// [`PersistenceProvider`](crate::PersistenceProvider) opens it and provides it through
/// context; hooks reach it with [`use_persistence`]. Domain hooks of an app use it to
/// reach the [`Store`] directly ([`Persistence::store`]) and to tell the other hooks
/// what they wrote ([`Persistence::wrote`]).
///
/// ```no_run
/// use cairn_yew::use_persistence;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn DeviceId() -> Html {
///     let persistence = use_persistence();
///     html! { <code>{ persistence.device_id() }</code> }
/// }
/// ```
#[derive(Clone)]
pub struct Persistence {
    inner: Rc<Inner>,
}

/// Something that writes its pending changes when called.
type Flusher = Rc<dyn Fn()>;

struct Inner {
    store: Store,
    hydrate: Vec<String>,
    app_version: String,
    hydrated: RefCell<HashMap<RecordKey, Record>>,
    quarantined: Vec<Quarantined>,
    flushers: RefCell<Vec<(u64, Flusher)>>,
    watchers: RefCell<Vec<(u64, RecordKey, Callback<Record>)>>,
    collection_watchers: RefCell<Vec<(u64, String, Callback<Record>)>>,
    local_write_listeners: RefCell<Vec<(u64, Callback<Record>)>>,
    next_id: Cell<u64>,
    subscription: RefCell<Option<Subscription>>,
}

impl PartialEq for Persistence {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Persistence {
    /// Opens the database `config.database` (memory if IndexedDB is unavailable), runs
    /// migrations, sets the merge rules and loads the hydrated collections. `on_blocked` is
    /// called if the upgrade has to wait for another tab that keeps an older version open.
    ///
    /// [`PersistenceProvider`](crate::PersistenceProvider) calls it; call it yourself
    /// only to use the store outside a component tree.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), cairn_yew::StoreError> {
    /// use cairn_yew::{Persistence, PersistenceConfig};
    ///
    /// let config = PersistenceConfig {
    ///     database: "my-app".into(),
    ///     hydrate: vec!["prefs".into()],
    ///     merge_rules: Default::default(),
    ///     app_version: "1.0.0".into(),
    /// };
    /// let persistence = Persistence::open(&config, || {}).await?;
    /// assert!(persistence.is_hydrated("prefs"));
    /// # Ok(()) }
    /// ```
    pub async fn open(
        config: &PersistenceConfig,
        on_blocked: impl FnOnce() + 'static,
    ) -> Result<Persistence, StoreError> {
        let store = Store::open_or_memory(&config.database, on_blocked).await?;
        store.set_merge_rules(config.merge_rules.clone()).await?;
        let mut hydrated = HashMap::new();
        let mut quarantined = Vec::new();
        for collection in &config.hydrate {
            let loaded = store.load_collection(collection).await?;
            hydrated.extend(loaded.records.into_iter().map(|r| (r.key(), r)));
            quarantined.extend(loaded.quarantined);
        }
        let inner = Rc::new(Inner {
            store,
            hydrate: config.hydrate.clone(),
            app_version: config.app_version.clone(),
            hydrated: RefCell::new(hydrated),
            quarantined,
            flushers: RefCell::default(),
            watchers: RefCell::default(),
            collection_watchers: RefCell::default(),
            local_write_listeners: RefCell::default(),
            next_id: Cell::new(0),
            subscription: RefCell::default(),
        });
        let weak = Rc::downgrade(&inner);
        let subscription = inner.store.subscribe(move |key| {
            let Some(inner) = weak.upgrade() else { return };
            spawn_local(async move {
                if let Ok(Some(record)) = inner.store.get(&key).await {
                    Persistence { inner }.changed(record);
                }
            });
        });
        *inner.subscription.borrow_mut() = subscription;
        Ok(Persistence { inner })
    }

    /// The open store, for domain hooks that read or write it directly. After a write,
    /// call [`Persistence::wrote`] with the committed record so views and sync hear of it.
    ///
    /// ```no_run
    /// # async fn run(persistence: cairn_yew::Persistence) {
    /// let usage = persistence.store().usage().await;
    /// # }
    /// ```
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// This device's id (stable across reloads; random per browser profile).
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// let id: String = persistence.device_id();
    /// # }
    /// ```
    pub fn device_id(&self) -> String {
        self.inner.store.device_id().to_string()
    }

    /// The version written into backups and snapshots ([`PersistenceConfig::app_version`]).
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// let version: &str = persistence.app_version();
    /// # }
    /// ```
    pub fn app_version(&self) -> &str {
        &self.inner.app_version
    }

    /// Records that could not be read while loading; they were set aside, not lost.
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// let unreadable = persistence.quarantined().len();
    /// # }
    /// ```
    pub fn quarantined(&self) -> &[Quarantined] {
        &self.inner.quarantined
    }

    /// Whether `collection` was loaded before first render ([`PersistenceConfig::hydrate`]).
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// if persistence.is_hydrated("prefs") { /* read it with `hydrated` */ }
    /// # }
    /// ```
    pub fn is_hydrated(&self, collection: &str) -> bool {
        self.inner.hydrate.iter().any(|c| c == collection)
    }

    /// The loaded record at `key`, for a hydrated collection.
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// use cairn_yew::RecordKey;
    /// let theme = persistence.hydrated(&RecordKey::new("prefs", "theme")).map(|r| r.value);
    /// # }
    /// ```
    pub fn hydrated(&self, key: &RecordKey) -> Option<Record> {
        self.inner.hydrated.borrow().get(key).cloned()
    }

    /// A record changed (committed here or in another tab): keep the loaded copy current
    /// and tell everything watching it. It stores nothing: call it only with a version
    /// the store holds.
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence, record: cairn_yew::Record) {
    /// // A record this code read from the store that views may not have seen yet.
    /// persistence.changed(record);
    /// # }
    /// ```
    pub fn changed(&self, record: Record) {
        if self.is_hydrated(&record.collection) {
            self.inner
                .hydrated
                .borrow_mut()
                .insert(record.key(), record.clone());
        }
        let watchers: Vec<_> = self
            .inner
            .watchers
            .borrow()
            .iter()
            .filter(|(_, key, _)| *key == record.key())
            .map(|(_, _, cb)| cb.clone())
            .collect();
        let collection_watchers: Vec<_> = self
            .inner
            .collection_watchers
            .borrow()
            .iter()
            .filter(|(_, collection, _)| *collection == record.collection)
            .map(|(_, _, cb)| cb.clone())
            .collect();
        for watcher in watchers.into_iter().chain(collection_watchers) {
            watcher.emit(record.clone());
        }
    }

    /// A local change was committed here: show it, and tell the local-write listeners
    /// (the sync scheduler). It stores nothing: call it with what the store's write
    /// returned.
    ///
    /// ```no_run
    /// # async fn run(persistence: cairn_yew::Persistence) -> Result<(), cairn_yew::StoreError> {
    /// use cairn_yew::RecordKey;
    /// let key = RecordKey::new("tasks", "t1");
    /// let record = persistence.store().write(key, serde_json::json!({"title": "Plant"})).await?;
    /// persistence.wrote(record);
    /// # Ok(()) }
    /// ```
    pub fn wrote(&self, record: Record) {
        self.changed(record.clone());
        let listeners: Vec<_> = self
            .inner
            .local_write_listeners
            .borrow()
            .iter()
            .map(|(_, cb)| cb.clone())
            .collect();
        for listener in listeners {
            listener.emit(record.clone());
        }
    }

    /// Calls `on_write` after every local change committed in this page.
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// use yew::Callback;
    /// let registration = persistence.on_local_write(Callback::from(|record: cairn_yew::Record| {
    ///     gloo::console::log!("wrote", record.id);
    /// }));
    /// // Listening until `registration` is dropped.
    /// # drop(registration); }
    /// ```
    pub fn on_local_write(&self, on_write: Callback<Record>) -> Registration {
        let id = self.next_id();
        self.inner
            .local_write_listeners
            .borrow_mut()
            .push((id, on_write));
        Registration {
            inner: Rc::downgrade(&self.inner),
            id,
        }
    }

    /// Calls `on_change` with every new version of the record at `key`.
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// use cairn_yew::{Record, RecordKey};
    /// use yew::Callback;
    /// let registration = persistence.watch(
    ///     RecordKey::new("prefs", "theme"),
    ///     Callback::from(|record: Record| gloo::console::log!(record.value.to_string())),
    /// );
    /// # drop(registration); }
    /// ```
    pub fn watch(&self, key: RecordKey, on_change: Callback<Record>) -> Registration {
        let id = self.next_id();
        self.inner.watchers.borrow_mut().push((id, key, on_change));
        Registration {
            inner: Rc::downgrade(&self.inner),
            id,
        }
    }

    /// Calls `on_change` with every new version of any record of `collection` (written
    /// here, in another tab, or pulled by sync): for views of a whole collection.
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// use cairn_yew::Record;
    /// use yew::Callback;
    /// let registration = persistence.watch_collection(
    ///     "tasks",
    ///     Callback::from(|record: Record| gloo::console::log!("changed", record.id)),
    /// );
    /// # drop(registration); }
    /// ```
    pub fn watch_collection(&self, collection: &str, on_change: Callback<Record>) -> Registration {
        let id = self.next_id();
        self.inner
            .collection_watchers
            .borrow_mut()
            .push((id, collection.to_owned(), on_change));
        Registration {
            inner: Rc::downgrade(&self.inner),
            id,
        }
    }

    /// Registers a pending-write flusher, called by [`Persistence::flush_all`].
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// use std::rc::Rc;
    /// let registration = persistence.on_flush(Rc::new(|| {
    ///     // Start writing what this component keeps pending.
    /// }));
    /// # drop(registration); }
    /// ```
    pub fn on_flush(&self, flush: Flusher) -> Registration {
        let id = self.next_id();
        self.inner.flushers.borrow_mut().push((id, flush));
        Registration {
            inner: Rc::downgrade(&self.inner),
            id,
        }
    }

    /// Starts writing every pending debounced change now (page hidden, Ctrl+S).
    ///
    /// ```no_run
    /// # fn run(persistence: cairn_yew::Persistence) {
    /// // Before leaving a page whose changes must be on their way.
    /// persistence.flush_all();
    /// # }
    /// ```
    pub fn flush_all(&self) {
        let flushers: Vec<_> = self
            .inner
            .flushers
            .borrow()
            .iter()
            .map(|(_, f)| f.clone())
            .collect();
        for flush in flushers {
            flush();
        }
    }

    fn next_id(&self) -> u64 {
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        id
    }
}

/// Keeps a watcher or flusher registered; dropping it unregisters.
///
/// ```no_run
/// # fn run(persistence: cairn_yew::Persistence) {
/// use yew::Callback;
/// let registration: cairn_yew::Registration =
///     persistence.watch_collection("tasks", Callback::noop());
/// drop(registration); // no longer watching
/// # }
/// ```
pub struct Registration {
    inner: Weak<Inner>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.flushers.borrow_mut().retain(|(id, _)| *id != self.id);
            inner
                .watchers
                .borrow_mut()
                .retain(|(id, _, _)| *id != self.id);
            inner
                .collection_watchers
                .borrow_mut()
                .retain(|(id, _, _)| *id != self.id);
            inner
                .local_write_listeners
                .borrow_mut()
                .retain(|(id, _)| *id != self.id);
        }
    }
}

/// The persistence context. Panics outside a `PersistenceProvider`: that is a bug in the
/// component tree, not a runtime condition.
///
/// ```no_run
/// use cairn_yew::use_persistence;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Quarantined() -> Html {
///     let persistence = use_persistence();
///     html! { <p>{ format!("{} unreadable", persistence.quarantined().len()) }</p> }
/// }
/// ```
#[hook]
pub fn use_persistence() -> Persistence {
    use_context::<Persistence>()
        .expect("persistence hooks must be used inside <PersistenceProvider>")
}
