use cairn_client::{Durability, StoreError};
use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::hooks::Persistence;

/// User Timing measure of opening the store and loading the small collections.
pub const HYDRATE: &str = "cairn:hydrate";
const HYDRATE_START: &str = "cairn:hydrate:start";

#[derive(Properties, PartialEq)]
pub struct PersistenceProviderProps {
    pub children: Html,
}

/// Opens the local database, runs its migrations and loads the small collections before
/// rendering its children, so persisted views never show defaults first. While mounted it
/// writes pending changes at once when the page is hidden or closed, and on Ctrl+S / Cmd+S.
/// Where IndexedDB cannot be used, the app runs on a memory store under a visible warning.
#[function_component]
pub fn PersistenceProvider(props: &PersistenceProviderProps) -> Html {
    let opened = use_state(|| None::<Result<Persistence, StoreError>>);
    let blocked = use_state(|| false);
    {
        let (opened, blocked) = (opened.setter(), blocked.setter());
        use_effect_with((), move |_| {
            spawn_local(async move {
                let on_blocked = move || blocked.set(true);
                let performance = web_sys::window().and_then(|w| w.performance());
                if let Some(p) = &performance {
                    let _ = p.mark(HYDRATE_START);
                }
                let persistence = Persistence::open(cairn_client::Store::APP_DB, on_blocked).await;
                // Visible in the browser's performance tools, and read by `cargo xtask bench`.
                if let Some(p) = &performance {
                    let _ = p.measure_with_start_mark(HYDRATE, HYDRATE_START);
                }
                opened.set(Some(persistence));
            });
        });
    }
    let persistence = match &*opened {
        Some(Ok(p)) => Some(p.clone()),
        _ => None,
    };
    use_effect_with(persistence, |persistence| {
        let listeners = persistence.clone().map(flush_triggers);
        move || drop(listeners)
    });

    match &*opened {
        None if *blocked => html! {
            <p role="alert" aria-busy="true">
                { "Cairn is open in another tab with an older version. Close that tab (or reload it) to continue." }
            </p>
        },
        None => html! { <p aria-busy="true">{ "Opening your data…" }</p> },
        Some(Err(err)) => html! {
            <div role="alert">
                <h1>{ "Your data could not be opened" }</h1>
                <p>{ err.to_string() }</p>
            </div>
        },
        Some(Ok(persistence)) => {
            let durability = match persistence.store().durability() {
                Durability::Persistent => html! {},
                Durability::MemoryOnly { reason } => html! {
                    <p role="alert" class="storage-warning">
                        { "Changes will not be kept after you close this page: " }{ reason }
                    </p>
                },
            };
            let quarantined = match persistence.quarantined().len() {
                0 => html! {},
                n => html! {
                    <p role="alert" class="storage-warning">
                        { format!("{n} saved item(s) could not be read and were set aside; the rest of your data loaded normally.") }
                    </p>
                },
            };
            html! {
                <ContextProvider<Persistence> context={persistence.clone()}>
                    { durability }
                    { quarantined }
                    { props.children.clone() }
                </ContextProvider<Persistence>>
            }
        }
    }
}

/// Flushes pending writes on `pagehide`, when the page becomes hidden, and on Ctrl/Cmd+S.
fn flush_triggers(persistence: Persistence) -> Vec<EventListener> {
    let (window, document) = (gloo::utils::window(), gloo::utils::document());
    let on_pagehide = {
        let p = persistence.clone();
        EventListener::new(&window, "pagehide", move |_| p.flush_all())
    };
    let on_hidden = {
        let p = persistence.clone();
        EventListener::new(&document, "visibilitychange", move |_| {
            if gloo::utils::document().visibility_state() == web_sys::VisibilityState::Hidden {
                p.flush_all();
            }
        })
    };
    let on_save_key = EventListener::new_with_options(
        &window,
        "keydown",
        EventListenerOptions::enable_prevent_default(),
        move |event| {
            let Some(key) = event.dyn_ref::<KeyboardEvent>() else {
                return;
            };
            if (key.ctrl_key() || key.meta_key()) && key.key().eq_ignore_ascii_case("s") {
                key.prevent_default();
                persistence.flush_all();
            }
        },
    );
    vec![on_pagehide, on_hidden, on_save_key]
}
