//! [`use_persistent_state`]: a value kept in one record, saved by the [`Saver`] state
//! machine, following changes made elsewhere.

use std::cell::RefCell;
use std::rc::Rc;

use cairn_protocol::{Hlc, Record, RecordKey};
use gloo::timers::callback::Timeout;
use serde::de::DeserializeOwned;
use serde::Serialize;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::{use_persistence, Persistence};
use crate::saver::{Command, SaveStatus, Saver};

/// A validator: `Err(reason)` keeps a value from being written.
///
/// ```
/// use std::rc::Rc;
/// let not_empty: cairn_yew::Validator<String> = Rc::new(|name: &String| {
///     if name.trim().is_empty() { Err("Type a name.".into()) } else { Ok(()) }
/// });
/// assert!(not_empty(&" ".to_owned()).is_err());
/// ```
pub type Validator<T> = Rc<dyn Fn(&T) -> Result<(), String>>;

/// How a [`use_persistent_state_with`] value is saved.
///
/// ```
/// use cairn_yew::PersistOptions;
///
/// let options = PersistOptions::<u32>::default()
///     .debounce_ms(0)
///     .validate(|n| if *n <= 10 { Ok(()) } else { Err("At most 10.".into()) });
/// assert_eq!(options.debounce_ms, 0);
/// ```
pub struct PersistOptions<T> {
    /// Wait this long after the last change before writing (default 1000 ms; 0 writes
    /// each change at once).
    pub debounce_ms: u32,
    /// Refuses values that must not be stored (default: none refused).
    pub validate: Option<Validator<T>>,
}

impl<T> Default for PersistOptions<T> {
    fn default() -> Self {
        Self {
            debounce_ms: 1000,
            validate: None,
        }
    }
}

impl<T> PersistOptions<T> {
    /// Sets [`PersistOptions::debounce_ms`].
    ///
    /// ```
    /// let options = cairn_yew::PersistOptions::<bool>::default().debounce_ms(0);
    /// assert_eq!(options.debounce_ms, 0);
    /// ```
    pub fn debounce_ms(mut self, ms: u32) -> Self {
        self.debounce_ms = ms;
        self
    }

    /// Sets [`PersistOptions::validate`].
    ///
    /// ```
    /// let options = cairn_yew::PersistOptions::<String>::default()
    ///     .validate(|s| if s.is_empty() { Err("Required.".into()) } else { Ok(()) });
    /// assert!(options.validate.is_some());
    /// ```
    pub fn validate(mut self, validate: impl Fn(&T) -> Result<(), String> + 'static) -> Self {
        self.validate = Some(Rc::new(validate));
        self
    }
}

/// The handle returned by [`use_persistent_state`]: the value, and whether it is saved.
///
/// ```no_run
/// use cairn_yew::{use_persistent_state, PersistentState};
/// use yew::prelude::*;
///
/// #[derive(Properties, PartialEq)]
/// struct Props {
///     id: AttrValue,
/// }
///
/// #[function_component]
/// fn Title(props: &Props) -> Html {
///     let title: PersistentState<String> = use_persistent_state("titles", &props.id, String::new());
///     html! { <h1>{ title.value().clone() }</h1> }
/// }
/// ```
pub struct PersistentState<T> {
    value: UseStateHandle<Rc<T>>,
    status: UseStateHandle<SaveStatus>,
    dirty: UseStateHandle<bool>,
    loaded: UseStateHandle<bool>,
    saver: Rc<KeyWriter>,
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
    /// The current value: the latest set here, or the stored one, or the default.
    ///
    /// ```no_run
    /// # fn run(count: cairn_yew::PersistentState<u32>) {
    /// let shown: u32 = *count.value();
    /// # }
    /// ```
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Replaces the value; it is written after the debounce delay, unless the validator
    /// refuses it (then the status says why and nothing is written).
    ///
    /// ```no_run
    /// # fn run(name: cairn_yew::PersistentState<String>) {
    /// name.set("Ada".to_owned());
    /// # }
    /// ```
    pub fn set(&self, value: T) {
        let encoded = match self.validate.as_ref().map(|v| v(&value)) {
            Some(Err(reason)) => Err(reason),
            _ => serde_json::to_value(&value).map_err(|e| e.to_string()),
        };
        match encoded {
            Ok(json) => self.saver.run(|saver| saver.change(json)),
            Err(reason) => self.saver.run(|saver| saver.refuse(reason)),
        }
        self.value.set(Rc::new(value));
    }

    /// Replaces the value with `f(current)`.
    ///
    /// ```no_run
    /// # fn run(count: cairn_yew::PersistentState<u32>) {
    /// count.update(|n| n + 1);
    /// # }
    /// ```
    pub fn update(&self, f: impl FnOnce(&T) -> T) {
        self.set(f(&self.value));
    }

    /// [`Self::set`] as a callback, for event handlers.
    ///
    /// ```no_run
    /// # fn run(name: cairn_yew::PersistentState<String>) {
    /// let on_change: yew::Callback<String> = name.setter();
    /// on_change.emit("Grace".to_owned());
    /// # }
    /// ```
    pub fn setter(&self) -> Callback<T> {
        let this = self.clone();
        Callback::from(move |value| this.set(value))
    }

    /// Writes the pending change now instead of after the debounce delay; after a
    /// failed write, tries again with a fresh set of attempts.
    ///
    /// ```no_run
    /// # fn run(text: cairn_yew::PersistentState<String>) {
    /// // "Save" button, or before navigating away.
    /// text.save_now();
    /// # }
    /// ```
    pub fn save_now(&self) {
        self.saver.run(Saver::save_now);
    }

    /// Drops a change that is waiting to be written (debounced, or kept after failed
    /// attempts), e.g. because the record is being deleted: nothing of it is written.
    ///
    /// ```no_run
    /// # fn run(draft: cairn_yew::PersistentState<String>) {
    /// draft.discard_pending();
    /// # }
    /// ```
    pub fn discard_pending(&self) {
        self.saver.run(Saver::discard_pending);
    }

    /// True from a change until it is stored.
    ///
    /// ```no_run
    /// # fn run(text: cairn_yew::PersistentState<String>) {
    /// let warn_before_leaving = text.is_dirty();
    /// # }
    /// ```
    pub fn is_dirty(&self) -> bool {
        *self.dirty
    }

    /// Whether the latest value is stored ([`SaveStatus`]).
    ///
    /// ```no_run
    /// # fn run(text: cairn_yew::PersistentState<String>) {
    /// use cairn_yew::SaveStatus;
    /// let failed = matches!(text.status(), SaveStatus::Error(_));
    /// # }
    /// ```
    pub fn status(&self) -> &SaveStatus {
        &self.status
    }

    /// False until the stored value (if any) has been read. Always true for the
    /// collections the provider loads before first render.
    ///
    /// ```no_run
    /// # fn run(text: cairn_yew::PersistentState<String>) -> yew::Html {
    /// if !text.is_loaded() {
    ///     return yew::html! { <p aria-busy="true">{ "Loading…" }</p> };
    /// }
    /// # yew::html! {} }
    /// ```
    pub fn is_loaded(&self) -> bool {
        *self.loaded
    }
}

/// State of type `T` kept in the record `collection`/`id`, saved a second after the
/// last change ([`use_persistent_state_with`] sets the delay and a validator).
///
/// The record is the one named when the component mounts: a component that shows
/// another record (an editor reused for the next item) must mount anew, with a `key`
/// that names the record (`<Editor key={id.clone()} {id} />`), or it would show the
/// first record's value under the second's name.
///
/// ```no_run
/// use cairn_yew::use_persistent_state;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Nickname() -> Html {
///     let name = use_persistent_state("prefs", "nickname", String::new());
///     let oninput = {
///         let name = name.clone();
///         Callback::from(move |e: InputEvent| {
///             let input: web_sys::HtmlInputElement = e.target_unchecked_into();
///             name.set(input.value());
///         })
///     };
///     html! { <input value={name.value().clone()} {oninput} /> }
/// }
/// ```
#[hook]
pub fn use_persistent_state<T>(collection: &str, id: &str, default: T) -> PersistentState<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    use_persistent_state_with(collection, id, default, PersistOptions::default())
}

/// [`use_persistent_state`] with [`PersistOptions`]: the debounce delay and a validator.
///
/// The value starts as the stored one (already loaded for hydrated collections, read on
/// mount otherwise), or `default`. Changes are debounced, written through the store's
/// transactional outbox one at a time (never two concurrent writes of one key), retried
/// with exponential backoff, flushed when the page is hidden or the component unmounts,
/// and follow changes made elsewhere (other tabs, other devices through sync) while
/// nothing is pending here. A change from elsewhere that arrives while a local change
/// waits (in the debounce, or in flight) is not lost: the local change replaces it, and
/// it goes to the conflict log, restorable like any conflict.
///
/// ```no_run
/// use cairn_yew::{use_persistent_state_with, PersistOptions};
/// use yew::prelude::*;
///
/// #[function_component]
/// fn DarkMode() -> Html {
///     let dark = use_persistent_state_with(
///         "prefs",
///         "dark",
///         false,
///         PersistOptions::default().debounce_ms(0),
///     );
///     let toggle = {
///         let dark = dark.clone();
///         Callback::from(move |_| dark.update(|on| !on))
///     };
///     html! { <button onclick={toggle}>{ if *dark.value() { "Light" } else { "Dark" } }</button> }
/// }
/// ```
#[hook]
pub fn use_persistent_state_with<T>(
    collection: &str,
    id: &str,
    default: T,
    options: PersistOptions<T>,
) -> PersistentState<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    let persistence = use_persistence();
    let key = RecordKey::new(collection, id);
    let hydrated = persistence.is_hydrated(collection);
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
            KeyWriter::new(persistence, key.clone(), options.debounce_ms, status, dirty)
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

/// Carries out one key's [`Saver`]: its timer, its writes to the store, and what the
/// hook shows of it; plus what the machine does not know about, the versions of the
/// record from elsewhere.
pub(crate) struct KeyWriter {
    persistence: Persistence,
    key: RecordKey,
    saver: RefCell<Saver<serde_json::Value>>,
    status: UseStateSetter<SaveStatus>,
    dirty: UseStateSetter<bool>,
    timer: RefCell<Option<Timeout>>,
    /// The clock of the newest version this hook knows: loaded, followed, or written.
    base: RefCell<Option<Hlc>>,
    /// A version from elsewhere that arrived while a local change was unsaved: the next
    /// write replaces it and logs it as a conflict.
    replaced: RefCell<Option<Record>>,
}

impl PartialEq for KeyWriter {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl KeyWriter {
    fn new(
        persistence: Persistence,
        key: RecordKey,
        debounce_ms: u32,
        status: UseStateSetter<SaveStatus>,
        dirty: UseStateSetter<bool>,
    ) -> Rc<KeyWriter> {
        let base = persistence.hydrated(&key).map(|r| r.hlc);
        Rc::new(KeyWriter {
            persistence,
            key,
            saver: RefCell::new(Saver::new(debounce_ms)),
            status,
            dirty,
            timer: RefCell::default(),
            base: RefCell::new(base),
            replaced: RefCell::default(),
        })
    }

    /// Steps the machine with `step`, shows what changed of its status, and carries out
    /// the command it returns.
    fn run(
        self: &Rc<Self>,
        step: impl FnOnce(&mut Saver<serde_json::Value>) -> Command<serde_json::Value>,
    ) {
        let (command, before, after) = {
            let mut saver = self.saver.borrow_mut();
            let before = (saver.status().clone(), saver.is_dirty());
            let command = step(&mut saver);
            (command, before, (saver.status().clone(), saver.is_dirty()))
        };
        if after.0 != before.0 {
            self.status.set(after.0);
        }
        if after.1 != before.1 {
            self.dirty.set(after.1);
        }
        match command {
            Command::Nothing => {}
            Command::Arm(ms) => self.arm(ms),
            Command::Disarm => drop(self.timer.borrow_mut().take()),
            Command::Write(json) => {
                self.timer.borrow_mut().take();
                self.write(json);
            }
        }
    }

    fn arm(self: &Rc<Self>, ms: u32) {
        let this = Rc::downgrade(self);
        // Replacing the timer cancels the previous one.
        *self.timer.borrow_mut() = Some(Timeout::new(ms, move || {
            if let Some(this) = this.upgrade() {
                this.run(Saver::timer_fired);
            }
        }));
    }

    /// Writes what waits now (page hidden, unmount).
    fn flush(self: &Rc<Self>) {
        self.run(Saver::flush);
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
        self.saver.borrow().has_unsaved()
    }

    /// Hands `json` to the store (the machine allows one write at a time), replacing
    /// the version from elsewhere that arrived meanwhile, if any.
    fn write(self: &Rc<Self>, json: serde_json::Value) {
        let replaced = self.replaced.borrow_mut().take();
        let this = self.clone();
        spawn_local(async move {
            let result = this
                .persistence
                .store()
                .write_replacing(this.key.clone(), json, replaced.as_ref())
                .await;
            match result {
                Ok(record) => {
                    *this.base.borrow_mut() = Some(record.hlc.clone());
                    let mut settled = false;
                    this.run(|saver| {
                        let command = saver.write_succeeded(js_sys::Date::now());
                        settled = !matches!(command, Command::Write(_));
                        command
                    });
                    if settled {
                        this.settle_replaced(&record);
                    }
                    this.persistence.wrote(record);
                }
                Err(err) => {
                    if let Some(replaced) = replaced {
                        this.replacing(replaced);
                    }
                    // Retried later, or kept for the next change or save_now.
                    this.run(|saver| saver.write_failed(err.to_string()));
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
