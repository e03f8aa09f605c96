use std::rc::Rc;

use cairn_client::SyncNotices;
use gloo::events::EventListener;
use gloo::timers::callback::Interval;
use yew::prelude::*;

use crate::hooks::{use_persistence, SyncContext, SyncController, SyncView};
use crate::service_worker::request_background_sync;

/// How often the page syncs while visible, as the fallback of the change stream.
const EVERY_MS: u32 = 60_000;
/// A test setting (in `localStorage`): the periodic round's interval in ms, so a test can
/// tell a change that arrived live from one the timer fetched.
const EVERY_MS_SETTING: &str = "cairn.sync_every_ms";

#[derive(Properties, PartialEq)]
pub struct SyncProviderProps {
    pub children: Html,
}

/// Provides [`SyncContext`] and runs sync rounds when they are due: at start, on
/// `online`, when the page becomes visible, when the server's change stream (held while
/// the page is visible) says another device pushed, every minute while visible, and
/// after each local change (which also registers a Background Sync for the service
/// worker): at once when no round is running, else in one round right after the
/// running one, so changes made during a round go together.
/// Must sit inside `PersistenceProvider`.
#[function_component]
pub fn SyncProvider(props: &SyncProviderProps) -> Html {
    let persistence = use_persistence();
    let view = use_state(SyncView::default);
    let controller = {
        let publish = {
            let view = view.setter();
            Callback::from(move |v| view.set(v))
        };
        use_memo(persistence.clone(), move |p| {
            SyncController::new(p.clone(), publish)
        })
    };
    {
        let controller = (*controller).clone();
        use_effect_with(persistence, move |persistence| {
            let triggers = triggers(persistence, controller);
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
    _local_writes: crate::hooks::Registration,
    controller: Rc<SyncController>,
}

impl Drop for Triggers {
    fn drop(&mut self) {
        self.controller.stop_live();
    }
}

/// The periodic round's interval: [`EVERY_MS`], unless the test setting says otherwise.
fn every_ms() -> u32 {
    gloo::utils::window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|storage| storage.get_item(EVERY_MS_SETTING).ok().flatten())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(EVERY_MS)
}

fn triggers(persistence: &crate::hooks::Persistence, controller: Rc<SyncController>) -> Triggers {
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
        Interval::new(every_ms(), move || {
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
        request_background_sync();
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
