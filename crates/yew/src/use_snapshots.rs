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
pub const SNAPSHOT_SETTINGS_ID: &str = "snapshots";
/// How often the scheduler counts visible time.
const TICK_MS: u32 = 15_000;

/// When automatic snapshots are taken and how many are kept.
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
    pub const MINUTES: std::ops::RangeInclusive<u32> = 1..=24 * 60;
    pub const KEEP: std::ops::RangeInclusive<u32> = 1..=50;

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
    pub fn list(&self) -> Option<&Result<Vec<SnapshotInfo>, String>> {
        self.list.as_ref()
    }

    pub fn restore_stage(&self) -> &ImportStage {
        &self.restore
    }

    pub fn message(&self) -> Option<&Result<String, String>> {
        self.message.as_ref()
    }

    pub fn is_busy(&self) -> bool {
        *self.busy
    }

    pub fn refresh(&self) {
        let this = self.clone();
        spawn_local(async move {
            let list = this.persistence.store().snapshots().await;
            this.list.set(Some(list.map_err(|e| e.to_string())));
        });
    }

    /// Takes a snapshot now, keeping the newest `keep`.
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
