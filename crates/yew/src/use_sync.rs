//! Sync from the page: the status every view shows, the account actions, the conflict log,
//! and the scheduler that decides when a round runs.
//!
//! [`SyncProvider`](crate::SyncProvider) owns one [`SyncController`] and puts it, with
//! the current [`SyncView`], in context; [`use_sync`] reads it. A round runs: at start,
//! when the browser comes back online, when the page becomes visible, when the server's
//! change stream (held while the page is visible) names a cursor beyond this device's,
//! periodically while visible, and right after a local change. Each local change can
//! also register a Background Sync, so a service worker pushes it even if the page
//! closes first (where the browser supports it).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cairn_client::live::CursorEvent;
use cairn_client::{
    AccountSwitch, Backoff, PullProgress, SetAside, StoredConflict, SyncEngine, SyncError,
    SyncStatus,
};
use cairn_protocol::api::SessionInfo;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::Persistence;

/// Where the controller syncs to, and how hard it tries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyncSettings {
    /// The server's base URL; `""` is the page's own origin.
    pub server: String,
    /// Tries per triggered round for failures that may pass (network, 5xx, 429).
    pub attempts: u32,
}

/// What views show about sync.
///
/// ```no_run
/// # fn run(sync: cairn_yew::SyncContext) {
/// let waiting = sync.view.status.pending;
/// let live = sync.view.live;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncView {
    /// Signed in or not, what waits to be pushed, when the last round ended.
    pub status: SyncStatus,
    /// A round is running in this page.
    pub syncing: bool,
    /// Local changes that lost to changes made elsewhere, newest first.
    pub conflicts: Vec<StoredConflict>,
    /// Collections this device keeps off sync.
    pub excluded: Vec<String>,
    /// Local changes the server refused, kept out of sync with the reason, oldest first.
    pub set_aside: Vec<SetAside>,
    /// The account's sessions, once asked for ([`SyncController::load_sessions`]).
    pub sessions: Option<Result<Vec<SessionInfo>, String>>,
    /// The server's change stream is open: other devices' changes show as they are made.
    pub live: bool,
    /// How far the running round's pull is, once the server said.
    pub progress: Option<PullProgress>,
}

/// Why signing in did not happen.
///
/// ```
/// use cairn_yew::SignInProblem;
/// let sentence = |problem: &SignInProblem| match problem {
///     SignInProblem::DataOfAnotherAccount { account } => format!("This device holds {account}'s data."),
///     SignInProblem::Failed(why) => why.clone(),
/// };
/// assert_eq!(sentence(&SignInProblem::Failed("Wrong password.".into())), "Wrong password.");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum SignInProblem {
    /// This device's data belongs to `account`: ask what to do with it, then sign in
    /// again with the answer.
    DataOfAnotherAccount {
        /// The account this device's data belongs to (its e-mail address).
        account: String,
    },
    /// Anything else, as a sentence for the form.
    Failed(String),
}

/// The context value: the view, and the controller that acts.
///
/// ```no_run
/// # fn run(sync: cairn_yew::SyncContext) {
/// if sync.view.status.pending > 0 {
///     sync.controller.sync_now();
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct SyncContext {
    /// What views show.
    pub view: Rc<SyncView>,
    /// What acts: rounds, account actions, the conflict log.
    pub controller: Rc<SyncController>,
}

impl PartialEq for SyncContext {
    fn eq(&self, other: &Self) -> bool {
        self.view == other.view && Rc::ptr_eq(&self.controller, &other.controller)
    }
}

/// Runs rounds and account actions, and republishes the view after each.
///
/// ```no_run
/// # fn run(sync: cairn_yew::SyncContext) {
/// let controller = sync.controller.clone();
/// controller.sign_out();
/// # }
/// ```
pub struct SyncController {
    persistence: Persistence,
    settings: SyncSettings,
    publish: Callback<SyncView>,
    on_conflicts: RefCell<Callback<usize>>,
    view: RefCell<SyncView>,
    running: Cell<bool>,
    /// Another round was asked for while one ran.
    again: Cell<bool>,
    /// Ends the change stream's connection loop ([`SyncController::go_live`]).
    live: RefCell<Option<web_sys::AbortController>>,
}

impl SyncController {
    pub(crate) fn new(
        persistence: Persistence,
        settings: SyncSettings,
        publish: Callback<SyncView>,
    ) -> Rc<Self> {
        Rc::new(SyncController {
            persistence,
            settings,
            publish,
            on_conflicts: RefCell::default(),
            view: RefCell::default(),
            running: Cell::new(false),
            again: Cell::new(false),
            live: RefCell::default(),
        })
    }

    /// The sync server's base URL (`""`: the page's own origin).
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// let same_origin = sync.controller.server().is_empty();
    /// # }
    /// ```
    pub fn server(&self) -> &str {
        &self.settings.server
    }

    fn sync(&self) -> SyncEngine<'_> {
        SyncEngine::new(self.persistence.store(), &self.settings.server)
    }

    /// Who hears of rounds that replaced local changes ([`SyncProviderProps::on_conflicts`](crate::SyncProviderProps::on_conflicts)).
    pub(crate) fn set_on_conflicts(&self, on_conflicts: Callback<usize>) {
        *self.on_conflicts.borrow_mut() = on_conflicts;
    }

    fn set_view(&self, update: impl FnOnce(&mut SyncView)) {
        let view = {
            let mut view = self.view.borrow_mut();
            update(&mut view);
            view.clone()
        };
        self.publish.emit(view);
    }

    /// Re-reads status and conflicts from the store.
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// sync.controller.refresh();
    /// # }
    /// ```
    pub fn refresh(self: &Rc<Self>) {
        let this = self.clone();
        spawn_local(async move {
            let status = this.sync().status().await;
            let conflicts = this.persistence.store().conflicts().await;
            let excluded = this.sync().excluded_collections().await;
            let set_aside = this.persistence.store().set_aside().await;
            this.set_view(|view| {
                if let Ok(set_aside) = set_aside {
                    view.set_aside = set_aside;
                }
                if let Ok(status) = status {
                    view.status = status;
                }
                if let Ok(conflicts) = conflicts {
                    view.conflicts = conflicts;
                }
                if let Ok(excluded) = excluded {
                    view.excluded = excluded;
                }
            });
        });
    }

    /// Runs a round now (or right after the one running), when signed in.
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// sync.controller.sync_now();
    /// # }
    /// ```
    pub fn sync_now(self: &Rc<Self>) {
        if self.running.replace(true) {
            self.again.set(true);
            return;
        }
        self.set_view(|view| view.syncing = true);
        let this = self.clone();
        spawn_local(async move {
            loop {
                this.again.set(false);
                let sync = this.sync().with_progress({
                    let this = this.clone();
                    move |progress| this.set_view(|view| view.progress = Some(progress))
                });
                match sync.sync_with_retries(this.settings.attempts).await {
                    Ok(report) => {
                        // A record that does not decode is left for its collection's
                        // next load, which quarantines it.
                        for record in report.changed.iter().filter_map(|r| r.decode().ok()) {
                            this.persistence.changed(record);
                        }
                        // Merges lost nothing; only versions that lost are worth a notice.
                        if report.conflicts > 0 {
                            let on_conflicts = this.on_conflicts.borrow().clone();
                            on_conflicts.emit(report.conflicts);
                        }
                    }
                    Err(SyncError::SignedOut) => {}
                    Err(err) => gloo::console::warn!(format!("Sync failed: {err}")),
                }
                if !this.again.get() {
                    break;
                }
            }
            this.running.set(false);
            this.set_view(|view| {
                view.syncing = false;
                view.progress = None;
            });
            this.refresh();
        });
    }

    /// Holds the server's change stream open (unless it already is) until
    /// [`SyncController::stop_live`]: each cursor beyond this device's starts a round.
    /// A dropped connection is opened again with backoff; signing out ends the loop (a
    /// sign-in starts it again).
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// sync.controller.go_live();
    /// # }
    /// ```
    pub fn go_live(self: &Rc<Self>) {
        if self.live.borrow().is_some() {
            return;
        }
        let Ok(abort) = web_sys::AbortController::new() else {
            return;
        };
        let signal = abort.signal();
        *self.live.borrow_mut() = Some(abort);
        let this = self.clone();
        spawn_local(async move {
            let mut backoff = Backoff::new(1_000, 30_000);
            let heard = Rc::new(Cell::new(false));
            loop {
                heard.set(false);
                let on_event = {
                    let (this, heard) = (this.clone(), heard.clone());
                    move |event: CursorEvent| {
                        if !heard.replace(true) {
                            // (Re)connected: catch up both ways on what happened while
                            // the stream was closed.
                            this.set_view(|view| view.live = true);
                            this.sync_now();
                            return;
                        }
                        let this = this.clone();
                        spawn_local(async move {
                            if this.sync().is_behind(&event).await.unwrap_or(true) {
                                this.sync_now();
                            }
                        });
                    }
                };
                let ended = this.sync().listen(&signal, on_event).await;
                this.set_view(|view| view.live = false);
                if signal.aborted()
                    || matches!(ended, Err(SyncError::SignedOut | SyncError::Unauthorized))
                {
                    break;
                }
                if heard.get() {
                    backoff = Backoff::new(1_000, 30_000);
                }
                if let Err(err) = &ended {
                    gloo::console::debug!(format!("Change stream: {err}"));
                }
                let jitter = (js_sys::Math::random() * 1_000.0) as u64;
                cairn_client::global::sleep_ms(backoff.next_delay_ms(jitter as f64 / 1_000.0))
                    .await;
                if signal.aborted() {
                    break;
                }
            }
            // Ended by itself (signed out): a later `go_live` opens it again.
            if !signal.aborted() {
                this.live.borrow_mut().take();
            }
        });
    }

    /// Closes the change stream (the page is hidden, or the provider goes away).
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// sync.controller.stop_live();
    /// # }
    /// ```
    pub fn stop_live(&self) {
        if let Some(abort) = self.live.borrow_mut().take() {
            abort.abort();
        }
        self.set_view(|view| view.live = false);
    }

    /// Signs in (or, with `new_account`, registers and signs in), then syncs. When this
    /// device's data belongs to another account, `choice` says what to do with it; without
    /// one, nothing happens and the problem says so, for the form to ask.
    ///
    /// ```no_run
    /// # async fn run(sync: cairn_yew::SyncContext) {
    /// use cairn_yew::{AccountSwitch, SignInProblem};
    /// let controller = sync.controller.clone();
    /// match controller.sign_in("ada@example.com", "a long passphrase", false, None).await {
    ///     Ok(()) => {}
    ///     Err(SignInProblem::DataOfAnotherAccount { .. }) => {
    ///         // Ask the user, then:
    ///         let _ = controller
    ///             .sign_in("ada@example.com", "a long passphrase", false, Some(AccountSwitch::StartEmpty))
    ///             .await;
    ///     }
    ///     Err(SignInProblem::Failed(why)) => gloo::console::warn!(why),
    /// }
    /// # }
    /// ```
    pub async fn sign_in(
        self: &Rc<Self>,
        email: &str,
        password: &str,
        new_account: bool,
        choice: Option<AccountSwitch>,
    ) -> Result<(), SignInProblem> {
        let sync = self.sync();
        let result = match (new_account, choice) {
            (true, None) => sync.sign_up(email, password).await,
            (false, None) => sync.sign_in(email, password).await,
            (true, Some(choice)) => sync.sign_up_with(email, password, choice).await,
            (false, Some(choice)) => sync.sign_in_with(email, password, choice).await,
        };
        match result {
            Ok(_) if choice == Some(AccountSwitch::StartEmpty) => {
                // Every view showed the old account's data: start over from the empty store.
                if let Some(window) = web_sys::window() {
                    let _ = window.location().reload();
                }
                Ok(())
            }
            Ok(_) => {
                self.refresh();
                self.sync_now();
                self.go_live();
                Ok(())
            }
            Err(SyncError::DataOfAnotherAccount { account }) => {
                Err(SignInProblem::DataOfAnotherAccount { account })
            }
            Err(SyncError::Offline) => Err(SignInProblem::Failed(
                "You are offline. Connect to sign in.".into(),
            )),
            Err(err) => Err(SignInProblem::Failed(err.to_string())),
        }
    }

    /// Asks the server for the account's sessions (for the Settings list).
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// sync.controller.load_sessions();
    /// // Then read `sync.view.sessions`.
    /// # }
    /// ```
    pub fn load_sessions(self: &Rc<Self>) {
        let this = self.clone();
        spawn_local(async move {
            let sessions = this.sync().sessions().await.map_err(|e| match e {
                SyncError::Offline => "You are offline: the list needs the server.".to_owned(),
                other => other.to_string(),
            });
            this.set_view(|view| view.sessions = Some(sessions));
        });
    }

    /// Ends every other session of the account (other devices must sign in again), then
    /// lists what is left.
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// sync.controller.end_other_sessions();
    /// # }
    /// ```
    pub fn end_other_sessions(self: &Rc<Self>) {
        let this = self.clone();
        spawn_local(async move {
            if let Err(err) = this.sync().end_other_sessions().await {
                this.set_view(|view| view.sessions = Some(Err(err.to_string())));
                return;
            }
            this.load_sessions();
        });
    }

    /// Tries a set-aside change again (stamped anew and queued), then syncs.
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// if let Some(item) = sync.view.set_aside.first() {
    ///     sync.controller.retry_set_aside(item.clone());
    /// }
    /// # }
    /// ```
    pub fn retry_set_aside(self: &Rc<Self>, item: SetAside) {
        let this = self.clone();
        spawn_local(async move {
            match this.persistence.store().retry_set_aside(&item).await {
                Ok(record) => {
                    this.persistence.wrote(record);
                    this.refresh();
                    this.sync_now();
                }
                Err(err) => gloo::console::error!(format!("Retrying failed: {err}")),
            }
        });
    }

    /// Takes a change off the set-aside list; it stays on this device, unsynced.
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// if let Some(item) = sync.view.set_aside.first() {
    ///     sync.controller.dismiss_set_aside(item.clone());
    /// }
    /// # }
    /// ```
    pub fn dismiss_set_aside(self: &Rc<Self>, item: SetAside) {
        let this = self.clone();
        spawn_local(async move {
            let _ = this.persistence.store().dismiss_set_aside(&item).await;
            this.refresh();
        });
    }

    /// Signs out; local data and unsynced changes stay on this device.
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// sync.controller.sign_out();
    /// # }
    /// ```
    pub fn sign_out(self: &Rc<Self>) {
        let this = self.clone();
        spawn_local(async move {
            if let Err(err) = this.sync().sign_out().await {
                gloo::console::warn!(format!("Signing out failed: {err}"));
            }
            this.refresh();
        });
    }

    /// Makes a lost version current again (a new change, synced) and drops it from the log.
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// if let Some(conflict) = sync.view.conflicts.first() {
    ///     sync.controller.restore(conflict.clone());
    /// }
    /// # }
    /// ```
    pub fn restore(self: &Rc<Self>, conflict: StoredConflict) {
        let this = self.clone();
        spawn_local(async move {
            match this.persistence.store().restore_conflict(&conflict).await {
                Ok(record) => {
                    this.persistence.wrote(record);
                    this.refresh();
                }
                Err(err) => gloo::console::error!(format!("Restoring failed: {err}")),
            }
        });
    }

    /// Includes `collection` in sync, or keeps it on this device only.
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// // Keep drafts on this device only.
    /// sync.controller.set_synced("drafts", false);
    /// # }
    /// ```
    pub fn set_synced(self: &Rc<Self>, collection: &str, synced: bool) {
        let mut excluded = self.view.borrow().excluded.clone();
        excluded.retain(|c| c != collection);
        if !synced {
            excluded.push(collection.to_owned());
        }
        // Shown at once: a view published before the setting is saved (a round ending)
        // must not put the old setting back on screen.
        self.set_view(|view| view.excluded = excluded.clone());
        let this = self.clone();
        spawn_local(async move {
            if let Err(err) = this.sync().set_excluded_collections(&excluded).await {
                gloo::console::error!(format!("Saving the sync setting failed: {err}"));
            }
            this.refresh();
            if synced {
                this.sync_now();
            }
        });
    }

    /// Drops a conflict from the log, keeping the current version.
    ///
    /// ```no_run
    /// # fn run(sync: cairn_yew::SyncContext) {
    /// if let Some(conflict) = sync.view.conflicts.first() {
    ///     sync.controller.dismiss(conflict.clone());
    /// }
    /// # }
    /// ```
    pub fn dismiss(self: &Rc<Self>, conflict: StoredConflict) {
        let this = self.clone();
        spawn_local(async move {
            let _ = this.persistence.store().dismiss_conflict(&conflict).await;
            this.refresh();
        });
    }
}

/// The sync context. Panics outside a `SyncProvider`: that is a bug in the component tree.
///
/// ```no_run
/// use cairn_yew::use_sync;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn SyncBadge() -> Html {
///     let sync = use_sync();
///     let text = match sync.view.status.pending {
///         0 => "All changes synced".to_owned(),
///         n => format!("{n} waiting to sync"),
///     };
///     html! { <span>{ text }</span> }
/// }
/// ```
#[hook]
pub fn use_sync() -> SyncContext {
    use_context::<SyncContext>().expect("use_sync must be used inside <SyncProvider>")
}
