use std::rc::Rc;

use cairn_client::SyncNotices;
use gloo::events::EventListener;
use gloo::timers::callback::Interval;
use yew::prelude::*;

use crate::persistence::{use_persistence, Persistence, Registration};
use crate::service_worker::request_background_sync;
use crate::use_sync::{SyncContext, SyncController, SyncSettings, SyncView};

/// The props of [`SyncProvider`]; every tuning value defaults to what Cairn's app uses.
///
/// ```no_run
/// use cairn_yew::{PersistenceProvider, SyncProvider};
/// use yew::prelude::*;
///
/// #[function_component]
/// fn App() -> Html {
///     let on_conflicts = Callback::from(|n: usize| gloo::console::warn!(format!("{n} replaced")));
///     html! {
///         <PersistenceProvider database="my-app">
///             <SyncProvider background_sync_tag="my-app-sync" {on_conflicts}>
///                 <p>{ "Synced views." }</p>
///             </SyncProvider>
///         </PersistenceProvider>
///     }
/// }
/// ```
#[derive(Properties, PartialEq)]
pub struct SyncProviderProps {
    /// The sync server's base URL; `""` (the default) is the page's own origin.
    #[prop_or_default]
    pub server: AttrValue,
    /// The periodic round's interval while the page is visible, in ms (the fallback of
    /// the change stream).
    #[prop_or(60_000)]
    pub interval_ms: u32,
    /// Tries per triggered round for failures that may pass (network, 5xx, 429).
    #[prop_or(4)]
    pub attempts: u32,
    /// The Background Sync tag registered after each local change, for a service
    /// worker that syncs when the page has closed; `None` (the default) registers none.
    #[prop_or_default]
    pub background_sync_tag: Option<AttrValue>,
    /// Told how many local changes a round replaced with newer ones from elsewhere
    /// (they are in the conflict log), after each round that replaced any.
    #[prop_or_default]
    pub on_conflicts: Callback<usize>,
    /// What renders inside the sync context.
    pub children: Html,
}

/// Provides the sync context ([`use_sync`](crate::use_sync)) and runs sync rounds when
/// they are due: at start, on `online`, when the page becomes visible, when the server's
/// change stream (held while the page is visible) says another device pushed, every
/// `interval_ms` while visible, and after each local change (which also registers a
/// Background Sync when `background_sync_tag` is set): at once when no round is running,
/// else in one round right after the running one, so changes made during a round go
/// together. Nothing is sent until the user signs in
/// ([`SyncController::sign_in`]). Must sit inside
/// [`PersistenceProvider`](crate::PersistenceProvider).
///
/// ```no_run
/// use cairn_yew::{PersistenceProvider, SyncProvider};
/// use yew::prelude::*;
///
/// #[function_component]
/// fn App() -> Html {
///     html! {
///         <PersistenceProvider database="my-app">
///             <SyncProvider server="https://sync.example.com" interval_ms={30_000}>
///                 <p>{ "Synced views go here." }</p>
///             </SyncProvider>
///         </PersistenceProvider>
///     }
/// }
/// ```
#[function_component]
pub fn SyncProvider(props: &SyncProviderProps) -> Html {
    let persistence = use_persistence();
    let view = use_state(SyncView::default);
    let settings = SyncSettings {
        server: props.server.to_string(),
        attempts: props.attempts,
    };
    let controller = {
        let publish = {
            let view = view.setter();
            Callback::from(move |v| view.set(v))
        };
        let settings = settings.clone();
        use_memo((persistence.clone(), settings), move |(p, settings)| {
            SyncController::new(p.clone(), settings.clone(), publish)
        })
    };
    // Not a dependency: a callback made anew each render must not restart sync.
    controller.set_on_conflicts(props.on_conflicts.clone());
    {
        let controller = (*controller).clone();
        let deps = (
            persistence,
            settings,
            props.interval_ms,
            props.background_sync_tag.clone(),
        );
        use_effect_with(deps, move |(persistence, _, interval_ms, tag)| {
            let triggers = triggers(persistence, controller, *interval_ms, tag.clone());
            move || drop(triggers)
        });
    }
    let context = SyncContext {
        view: Rc::new((*view).clone()),
        controller: (*controller).clone(),
    };
    html! {
        <ContextProvider<SyncContext> {context}>
            { props.children.clone() }
        </ContextProvider<SyncContext>>
    }
}

/// Everything that starts a round; dropping it stops them (and closes the stream).
struct Triggers {
    _listeners: Vec<EventListener>,
    _interval: Interval,
    _notices: Option<SyncNotices>,
    _local_writes: Registration,
    controller: Rc<SyncController>,
}

impl Drop for Triggers {
    fn drop(&mut self) {
        self.controller.stop_live();
    }
}

fn triggers(
    persistence: &Persistence,
    controller: Rc<SyncController>,
    interval_ms: u32,
    background_sync_tag: Option<AttrValue>,
) -> Triggers {
    let (window, document) = (gloo::utils::window(), gloo::utils::document());
    controller.refresh();
    controller.sync_now();
    if is_visible() {
        controller.go_live();
    }
    let on_online = {
        let c = controller.clone();
        EventListener::new(&window, "online", move |_| {
            c.sync_now();
            if is_visible() {
                c.go_live();
            }
        })
    };
    let on_offline = {
        let c = controller.clone();
        EventListener::new(&window, "offline", move |_| c.refresh())
    };
    let on_visible = {
        let c = controller.clone();
        EventListener::new(&document, "visibilitychange", move |_| {
            if is_visible() {
                c.sync_now();
                c.go_live();
            } else {
                c.stop_live();
            }
        })
    };
    let interval = {
        let c = controller.clone();
        Interval::new(interval_ms, move || {
            if is_visible() {
                c.sync_now();
            }
        })
    };
    // Status changes made elsewhere: a round run by the worker or another tab, a sign-in.
    let notices = {
        let c = controller.clone();
        SyncNotices::subscribe(persistence.store(), move || c.refresh())
    };
    let writes_controller = controller.clone();
    let local_writes = persistence.on_local_write(Callback::from(move |_| {
        let controller = &writes_controller;
        if let Some(tag) = &background_sync_tag {
            request_background_sync(tag);
        }
        controller.refresh();
        // Leading edge: pushed now if no round runs; otherwise every change committed
        // during the round goes in the one round that follows it (`sync_now`).
        controller.sync_now();
    }));
    Triggers {
        _listeners: vec![on_online, on_offline, on_visible],
        _interval: interval,
        _notices: notices,
        _local_writes: local_writes,
        controller,
    }
}

fn is_visible() -> bool {
    gloo::utils::document().visibility_state() == web_sys::VisibilityState::Visible
}
