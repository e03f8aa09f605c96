//! The Storage page's view of local storage: usage per collection, the browser's quota
//! and persistence, and clearing collections.

use std::rc::Rc;

use cairn_client::usage::{is_persisted, request_persistence, storage_estimate};
use cairn_client::{Estimate, Usage};
use cairn_protocol::Record;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::{use_persistence, Persistence};

/// Share of the quota above which the page warns.
///
/// ```
/// assert_eq!(cairn_yew::QUOTA_WARNING, 0.8);
/// ```
pub const QUOTA_WARNING: f64 = 0.8;

/// What [`use_storage`] shows.
///
/// ```
/// let view = cairn_yew::StorageView::default();
/// assert!(!view.near_quota());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StorageView {
    /// `None` until first read; an error message if reading failed.
    pub usage: Option<Result<Usage, String>>,
    /// The browser's estimate; `None` where unknown.
    pub estimate: Option<Estimate>,
    /// Whether the browser has granted persistent storage; `None` where unknown.
    pub persisted: Option<bool>,
    /// The answer to the last persistence request, for the user.
    pub persist_message: Option<String>,
    /// The outcome of the last clear, for the user.
    pub clear_message: Option<Result<String, String>>,
    /// A clear is running.
    pub clearing: bool,
    /// How many secrets are stored.
    pub secrets: usize,
}

impl StorageView {
    /// True when more than [`QUOTA_WARNING`] of the quota is used.
    ///
    /// ```no_run
    /// # fn run(storage: std::rc::Rc<cairn_yew::StorageHandle>) {
    /// let warn = storage.view().near_quota();
    /// # }
    /// ```
    pub fn near_quota(&self) -> bool {
        self.estimate.is_some_and(|e| e.fraction() > QUOTA_WARNING)
    }
}

/// The handle returned by [`use_storage`]. Each part of the view is its own state, so
/// answers arriving in any order never overwrite one another. Its states always read
/// their latest value: pass [`StorageHandle::view`] (a plain value) to child components,
/// not the handle, or they cannot tell that it changed.
///
/// ```no_run
/// # fn run(storage: std::rc::Rc<cairn_yew::StorageHandle>) {
/// storage.request_persistence();
/// # }
/// ```
#[derive(Clone)]
pub struct StorageHandle {
    usage: UseStateHandle<Option<Result<Usage, String>>>,
    estimate: UseStateHandle<Option<Estimate>>,
    persisted: UseStateHandle<Option<bool>>,
    persist_message: UseStateHandle<Option<String>>,
    clear_message: UseStateHandle<Option<Result<String, String>>>,
    clearing: UseStateHandle<bool>,
    secrets: UseStateHandle<usize>,
    persistence: Persistence,
}

impl StorageHandle {
    /// Everything read so far, as one plain value.
    ///
    /// ```no_run
    /// # fn run(storage: std::rc::Rc<cairn_yew::StorageHandle>) {
    /// let view: cairn_yew::StorageView = storage.view();
    /// # }
    /// ```
    pub fn view(&self) -> StorageView {
        StorageView {
            usage: (*self.usage).clone(),
            estimate: *self.estimate,
            persisted: *self.persisted,
            persist_message: (*self.persist_message).clone(),
            clear_message: (*self.clear_message).clone(),
            clearing: *self.clearing,
            secrets: *self.secrets,
        }
    }

    /// Reads usage, quota and persistence again.
    ///
    /// ```no_run
    /// # fn run(storage: std::rc::Rc<cairn_yew::StorageHandle>) {
    /// storage.refresh();
    /// # }
    /// ```
    pub fn refresh(&self) {
        let this = self.clone();
        spawn_local(async move {
            let usage = this.persistence.store().usage().await;
            this.usage.set(Some(usage.map_err(|e| e.to_string())));
            this.estimate.set(storage_estimate().await);
            this.persisted.set(is_persisted().await);
            let secrets = this.persistence.store().secret_names().await;
            this.secrets.set(secrets.map_or(0, |names| names.len()));
        });
    }

    /// Asks the browser to keep this site's data under storage pressure.
    ///
    /// ```no_run
    /// # fn run(storage: std::rc::Rc<cairn_yew::StorageHandle>) {
    /// storage.request_persistence();
    /// # }
    /// ```
    pub fn request_persistence(&self) {
        let this = self.clone();
        spawn_local(async move {
            let message = match request_persistence().await {
                Ok(true) => "Granted: the browser will not clear this app's data to free space.".to_owned(),
                Ok(false) => "Not granted: the browser may clear this app's data when space runs low. Installing the app or using it often can change that.".to_owned(),
                Err(e) => format!("Not available: {e}."),
            };
            this.persist_message.set(Some(message));
            this.refresh();
        });
    }

    /// Deletes every record of `collections` (tombstones, synced), then refreshes.
    /// `on_done` runs after it finished (successfully or not).
    ///
    /// ```no_run
    /// # fn run(storage: std::rc::Rc<cairn_yew::StorageHandle>) {
    /// storage.clear(vec!["drafts".into()], yew::Callback::noop());
    /// # }
    /// ```
    pub fn clear(&self, collections: Vec<String>, on_done: Callback<()>) {
        let this = self.clone();
        this.clearing.set(true);
        this.clear_message.set(None);
        spawn_local(async move {
            let result = this
                .persistence
                .store()
                .clear_collections(&collections)
                .await;
            let message = match result {
                Ok(tombstones) => {
                    let n = tombstones.len();
                    announce(&this.persistence, tombstones);
                    Ok(format!(
                        "Cleared {n} record{} from {}.",
                        if n == 1 { "" } else { "s" },
                        collections.join(", ")
                    ))
                }
                Err(e) => Err(format!("Clearing failed; nothing more was deleted: {e}")),
            };
            this.clearing.set(false);
            this.clear_message.set(Some(message));
            this.refresh();
            on_done.emit(());
        });
    }
}

/// Tells the app about records changed in bulk: views of them update, and one local-write
/// notice schedules sync (one per record would schedule thousands).
pub(crate) fn announce(persistence: &Persistence, records: Vec<Record>) {
    let last = records.last().cloned();
    for record in records {
        persistence.changed(record);
    }
    if let Some(last) = last {
        persistence.wrote(last);
    }
}

/// Usage, quota and clearing for the Storage page. Reads on mount; call
/// [`StorageHandle::refresh`] after changes.
///
/// ```no_run
/// use cairn_yew::use_storage;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Usage() -> Html {
///     let storage = use_storage();
///     let view = storage.view();
///     html! { if view.near_quota() { <p role="alert">{ "Storage is almost full." }</p> } }
/// }
/// ```
#[hook]
pub fn use_storage() -> Rc<StorageHandle> {
    let handle = Rc::new(StorageHandle {
        usage: use_state(|| None),
        estimate: use_state(|| None),
        persisted: use_state(|| None),
        persist_message: use_state(|| None),
        clear_message: use_state(|| None),
        clearing: use_state(|| false),
        secrets: use_state(|| 0),
        persistence: use_persistence(),
    });
    {
        let handle = handle.clone();
        use_effect_with((), move |_| handle.refresh());
    }
    handle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(usage: f64, quota: f64) -> StorageView {
        StorageView {
            estimate: Some(Estimate { usage, quota }),
            ..StorageView::default()
        }
    }

    #[test]
    fn warns_above_eighty_percent_of_the_quota_only() {
        assert!(!view(79.0, 100.0).near_quota());
        assert!(!view(80.0, 100.0).near_quota());
        assert!(view(81.0, 100.0).near_quota());
        assert!(view(500.0, 100.0).near_quota());
        assert!(!view(10.0, 0.0).near_quota(), "unknown quota: no warning");
        assert!(!StorageView::default().near_quota());
    }
}
