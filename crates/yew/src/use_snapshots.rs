//! Local snapshots: the list, taking one now, restoring ("Replace all" from it, with
//! progress), deleting, the settings (every N minutes of use, keep K; in `prefs`), and
//! the scheduler that takes them automatically.
//!
//! "Minutes of use" are minutes the page is visible. The count survives reloads (it is
//! kept in the store's `meta`, on this device only).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cairn_client::SnapshotInfo;
use gloo::timers::callback::Interval;
use serde::{Deserialize, Serialize};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::{use_persistence, Persistence};
use crate::use_backup::{run_import, ImportStage};
use crate::use_persistent_state::{use_persistent_state_with, PersistOptions, PersistentState};

/// The id of the snapshot settings' record (in the collection given to
/// [`use_snapshot_settings`]).
///
/// ```
/// assert_eq!(cairn_yew::SNAPSHOT_SETTINGS_ID, "snapshots");
/// ```
pub const SNAPSHOT_SETTINGS_ID: &str = "snapshots";
/// How often the scheduler counts visible time.
const TICK_MS: u32 = 15_000;

/// When automatic snapshots are taken and how many are kept.
///
/// ```
/// let settings = cairn_yew::SnapshotSettings { every_minutes: 60, keep: 3 };
/// assert!(settings.check().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSettings {
    /// Take one after this many minutes of use.
    pub every_minutes: u32,
    /// Keep this many (the newest).
    pub keep: u32,
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        SnapshotSettings {
            every_minutes: 30,
            keep: 5,
        }
    }
}

impl SnapshotSettings {
    /// The accepted range of [`SnapshotSettings::every_minutes`].
    ///
    /// ```
    /// assert!(cairn_yew::SnapshotSettings::MINUTES.contains(&30));
    /// ```
    pub const MINUTES: std::ops::RangeInclusive<u32> = 1..=24 * 60;
    /// The accepted range of [`SnapshotSettings::keep`].
    ///
    /// ```
    /// assert!(!cairn_yew::SnapshotSettings::KEEP.contains(&0));
    /// ```
    pub const KEEP: std::ops::RangeInclusive<u32> = 1..=50;

    /// `Err` with a sentence for the user when a setting is out of its range.
    ///
    /// ```
    /// let settings = cairn_yew::SnapshotSettings { every_minutes: 0, keep: 5 };
    /// assert_eq!(settings.check(), Err("Minutes must be between 1 and 1440.".to_owned()));
    /// ```
    pub fn check(&self) -> Result<(), String> {
        if !Self::MINUTES.contains(&self.every_minutes) {
            return Err(format!(
                "Minutes must be between {} and {}.",
                Self::MINUTES.start(),
                Self::MINUTES.end()
            ));
        }
        if !Self::KEEP.contains(&self.keep) {
            return Err(format!(
                "Keep between {} and {} snapshots.",
                Self::KEEP.start(),
                Self::KEEP.end()
            ));
        }
        Ok(())
    }
}

/// The settings, persisted in the record `collection`/[`SNAPSHOT_SETTINGS_ID`]
/// (validated, saved at once).
///
/// ```no_run
/// use cairn_yew::use_snapshot_settings;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Keep() -> Html {
///     let settings = use_snapshot_settings("prefs");
///     html! { <p>{ format!("Keeping {} snapshots", settings.value().keep) }</p> }
/// }
/// ```
#[hook]
pub fn use_snapshot_settings(collection: &str) -> PersistentState<SnapshotSettings> {
    use_persistent_state_with(
        collection,
        SNAPSHOT_SETTINGS_ID,
        SnapshotSettings::default(),
        PersistOptions::default()
            .debounce_ms(0)
            .validate(SnapshotSettings::check),
    )
}

/// The handle returned by [`use_snapshots`].
///
/// ```no_run
/// # fn run(snapshots: cairn_yew::SnapshotsHandle) {
/// snapshots.take_now(5);
/// # }
/// ```
#[derive(Clone)]
pub struct SnapshotsHandle {
    persistence: Persistence,
    list: UseStateHandle<Option<Result<Vec<SnapshotInfo>, String>>>,
    /// A restore's progress and outcome.
    restore: UseStateHandle<ImportStage>,
    message: UseStateHandle<Option<Result<String, String>>>,
    busy: UseStateHandle<bool>,
}

impl SnapshotsHandle {
    /// `None` until loaded.
    ///
    /// ```no_run
    /// # fn run(snapshots: cairn_yew::SnapshotsHandle) {
    /// if let Some(Ok(list)) = snapshots.list() {
    ///     let newest = list.first().map(|s| s.created_at_ms);
    /// }
    /// # }
    /// ```
    pub fn list(&self) -> Option<&Result<Vec<SnapshotInfo>, String>> {
        self.list.as_ref()
    }

    /// How the last restore went, and its progress while it runs.
    ///
    /// ```no_run
    /// # fn run(snapshots: cairn_yew::SnapshotsHandle) {
    /// let done = matches!(snapshots.restore_stage(), cairn_yew::ImportStage::Done(_));
    /// # }
    /// ```
    pub fn restore_stage(&self) -> &ImportStage {
        &self.restore
    }

    /// What the last action did, or why it failed.
    ///
    /// ```no_run
    /// # fn run(snapshots: cairn_yew::SnapshotsHandle) {
    /// if let Some(Err(problem)) = snapshots.message() { gloo::console::warn!(problem.clone()); }
    /// # }
    /// ```
    pub fn message(&self) -> Option<&Result<String, String>> {
        self.message.as_ref()
    }

    /// True while a snapshot is taken or restored.
    ///
    /// ```no_run
    /// # fn run(snapshots: cairn_yew::SnapshotsHandle) {
    /// let disabled = snapshots.is_busy();
    /// # }
    /// ```
    pub fn is_busy(&self) -> bool {
        *self.busy
    }

    /// Reads the list again.
    ///
    /// ```no_run
    /// # fn run(snapshots: cairn_yew::SnapshotsHandle) {
    /// snapshots.refresh();
    /// # }
    /// ```
    pub fn refresh(&self) {
        let this = self.clone();
        spawn_local(async move {
            let list = this.persistence.store().snapshots().await;
            this.list.set(Some(list.map_err(|e| e.to_string())));
        });
    }

    /// Takes a snapshot now, keeping the newest `keep`.
    ///
    /// ```no_run
    /// # fn run(snapshots: cairn_yew::SnapshotsHandle) {
    /// snapshots.take_now(5);
    /// # }
    /// ```
    pub fn take_now(&self, keep: u32) {
        let this = self.clone();
        this.busy.set(true);
        spawn_local(async move {
            let taken = this
                .persistence
                .store()
                .create_snapshot(false, keep as usize, this.persistence.app_version())
                .await;
            this.message.set(Some(match taken {
                Ok(info) => Ok(format!("Snapshot taken: {} record(s).", info.records)),
                Err(e) => Err(format!("The snapshot could not be taken: {e}")),
            }));
            this.busy.set(false);
            this.refresh();
        });
    }

    /// Deletes the snapshot `id`.
    ///
    /// ```no_run
    /// # fn run(snapshots: cairn_yew::SnapshotsHandle, id: String) {
    /// snapshots.delete(id);
    /// # }
    /// ```
    pub fn delete(&self, id: String) {
        let this = self.clone();
        spawn_local(async move {
            let deleted = this.persistence.store().delete_snapshot(&id).await;
            this.message.set(Some(match deleted {
                Ok(()) => Ok("Snapshot deleted.".to_owned()),
                Err(e) => Err(format!("The snapshot could not be deleted: {e}")),
            }));
            this.refresh();
        });
    }

    /// Makes all data as it was in snapshot `id` ("Replace all" from it: new changes,
    /// synced; records created since are deleted). `on_done` runs after.
    ///
    /// ```no_run
    /// # fn run(snapshots: cairn_yew::SnapshotsHandle, id: String) {
    /// snapshots.restore(id, yew::Callback::noop());
    /// # }
    /// ```
    pub fn restore(&self, id: String, on_done: Callback<()>) {
        let this = self.clone();
        this.busy.set(true);
        this.message.set(None);
        spawn_local(async move {
            let stage = match this.persistence.store().plan_snapshot_restore(&id).await {
                Err(e) => ImportStage::Failed(format!("The snapshot could not be read: {e}")),
                Ok(plan) => match run_import(&this.persistence, &plan, &this.restore).await {
                    Ok(outcome) => ImportStage::Done(outcome),
                    Err(e) => ImportStage::Failed(e),
                },
            };
            this.restore.set(stage);
            this.busy.set(false);
            this.refresh();
            on_done.emit(());
        });
    }
}

/// The snapshot list and actions for the Storage page. Loads the list on mount.
///
/// ```no_run
/// use cairn_yew::use_snapshots;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Snapshots() -> Html {
///     let snapshots = use_snapshots();
///     match snapshots.list() {
///         Some(Ok(list)) => html! { <p>{ format!("{} snapshots", list.len()) }</p> },
///         Some(Err(e)) => html! { <p role="alert">{ e.clone() }</p> },
///         None => html! {},
///     }
/// }
/// ```
#[hook]
pub fn use_snapshots() -> SnapshotsHandle {
    let handle = SnapshotsHandle {
        persistence: use_persistence(),
        list: use_state(|| None),
        restore: use_state(|| ImportStage::Idle),
        message: use_state(|| None),
        busy: use_state(|| false),
    };
    {
        let handle = handle.clone();
        use_effect_with((), move |_| handle.refresh());
    }
    handle
}

thread_local! {
    /// One scheduler per page, however many components mount it.
    static SCHEDULER_RUNNING: Cell<bool> = const { Cell::new(false) };
    /// Every mounted instance's `on_taken`, told whichever instance took the snapshot.
    static ON_TAKEN: RefCell<Vec<(u64, Callback<SnapshotInfo>)>> = const { RefCell::new(Vec::new()) };
    static NEXT_LISTENER: Cell<u64> = const { Cell::new(0) };
}

/// Takes a snapshot after every `settings.every_minutes` minutes of visible use, keeping
/// the newest `settings.keep`. Every mounted instance's `on_taken` runs after each. Only
/// the first mounted instance in a page runs the timer; others wait until it unmounts
/// (and then take over on their next mount).
///
/// ```no_run
/// use cairn_yew::{use_snapshot_scheduler, use_snapshot_settings};
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Scheduler() -> Html {
///     let settings = *use_snapshot_settings("prefs").value();
///     use_snapshot_scheduler(settings, Callback::noop());
///     html! {}
/// }
/// ```
#[hook]
pub fn use_snapshot_scheduler(settings: SnapshotSettings, on_taken: Callback<SnapshotInfo>) {
    use_effect_with(on_taken, |on_taken| {
        let id = NEXT_LISTENER.with(|n| n.replace(n.get() + 1));
        ON_TAKEN.with(|l| l.borrow_mut().push((id, on_taken.clone())));
        move || ON_TAKEN.with(|l| l.borrow_mut().retain(|(i, _)| *i != id))
    });
    let on_taken = Callback::from(|info: SnapshotInfo| {
        let listeners: Vec<_> =
            ON_TAKEN.with(|l| l.borrow().iter().map(|(_, cb)| cb.clone()).collect());
        for listener in listeners {
            listener.emit(info.clone());
        }
    });
    let persistence = use_persistence();
    use_effect_with(settings, move |settings| {
        let settings = *settings;
        let owner = !SCHEDULER_RUNNING.with(|r| r.replace(true));
        let interval = owner.then(|| {
            let busy = Rc::new(Cell::new(false));
            Interval::new(TICK_MS, move || {
                if busy.get() || !is_visible() {
                    return;
                }
                busy.set(true);
                let (persistence, busy, on_taken) =
                    (persistence.clone(), busy.clone(), on_taken.clone());
                spawn_local(async move {
                    tick(&persistence, settings, &on_taken).await;
                    busy.set(false);
                });
            })
        });
        move || {
            if owner {
                drop(interval);
                SCHEDULER_RUNNING.with(|r| r.set(false));
            }
        }
    });
}

async fn tick(
    persistence: &Persistence,
    settings: SnapshotSettings,
    on_taken: &Callback<SnapshotInfo>,
) {
    let store = persistence.store();
    let Ok(used) = store.snapshot_use_ms().await else {
        return;
    };
    let used = used + u64::from(TICK_MS);
    if used >= u64::from(settings.every_minutes) * 60_000 {
        match store
            .create_snapshot(true, settings.keep as usize, persistence.app_version())
            .await
        {
            Ok(info) => {
                let _ = store.set_snapshot_use_ms(0).await;
                on_taken.emit(info);
            }
            Err(e) => {
                gloo::console::warn!(format!("Automatic snapshot failed: {e}"));
                let _ = store.set_snapshot_use_ms(used).await;
            }
        }
    } else {
        let _ = store.set_snapshot_use_ms(used).await;
    }
}

fn is_visible() -> bool {
    gloo::utils::document().visibility_state() == web_sys::VisibilityState::Visible
}
