use cairn_client::{Durability, StoreError};
use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;
use yew::platform::spawn_local;
use yew::prelude::*;

use cairn_protocol::MergeRules;

use crate::persistence::{Persistence, PersistenceConfig};

/// User Timing measure of opening the store and loading the hydrated collections
/// (visible in the browser's performance tools).
///
/// ```no_run
/// let measures = gloo::utils::window()
///     .performance()
///     .map(|p| p.get_entries_by_name(cairn_yew::HYDRATE));
/// ```
pub const HYDRATE: &str = "cairn:hydrate";
const HYDRATE_START: &str = "cairn:hydrate:start";

/// The props of [`PersistenceProvider`].
///
/// ```no_run
/// use cairn_yew::PersistenceProvider;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn App() -> Html {
///     html! {
///         <PersistenceProvider
///             database="my-app"
///             loading={html! { <p>{ "Loading…" }</p> }}
///             failed={Callback::from(|e: cairn_yew::StoreError| html! { <p>{ e.to_string() }</p> })}
///         >
///             <p>{ "Ready." }</p>
///         </PersistenceProvider>
///     }
/// }
/// ```
#[derive(Properties, PartialEq)]
pub struct PersistenceProviderProps {
    /// The IndexedDB database's name.
    pub database: AttrValue,
    /// Collections loaded in full before the children render, so views of them never
    /// show defaults first (keep them small). Others load when a hook asks.
    #[prop_or_default]
    pub hydrate: Vec<AttrValue>,
    /// How each collection combines concurrent edits; by default the newer version
    /// wins whole and the other goes to the conflict log.
    #[prop_or_default]
    pub merge_rules: MergeRules,
    /// Written into backups and snapshots (e.g. `env!("CARGO_PKG_VERSION")`).
    #[prop_or_default]
    pub app_version: AttrValue,
    /// Shown while the store opens (default: "Opening your data…").
    #[prop_or_default]
    pub loading: Option<Html>,
    /// Shown while another tab keeps an older version of the database open (default: a
    /// sentence asking to close or reload that tab).
    #[prop_or_default]
    pub blocked: Option<Html>,
    /// Renders why the store could not be opened (default: a heading and the error).
    #[prop_or_default]
    pub failed: Option<Callback<StoreError, Html>>,
    /// What renders once the store is open.
    pub children: Html,
}

/// Opens the local database, runs its migrations and loads the hydrated collections
/// before rendering its children, so persisted views never show defaults first. While
/// mounted it writes pending changes at once when the page is hidden or closed, and on
/// Ctrl+S / Cmd+S. Where IndexedDB cannot be used, the app runs on a memory store under a
/// visible warning, and records that could not be read are counted in another.
///
/// Every other hook of this crate must be used inside it.
///
/// The props are read once, when the provider mounts: the hooks below keep the store it
/// opened. To open another database (one per account, say), give the provider a `key`
/// that changes with it, so that it and everything below it mount anew.
///
/// ```no_run
/// use cairn_yew::{MergeRule, MergeRules, PersistenceProvider};
/// use yew::prelude::*;
///
/// #[function_component]
/// fn App() -> Html {
///     let merge_rules = MergeRules::new().with("notes", MergeRule::three_way(["updated_at"]));
///     html! {
///         <PersistenceProvider
///             database="my-app"
///             hydrate={vec![AttrValue::from("prefs")]}
///             {merge_rules}
///             app_version={env!("CARGO_PKG_VERSION")}
///         >
///             <p>{ "Persisted views go here." }</p>
///         </PersistenceProvider>
///     }
/// }
/// ```
#[function_component]
pub fn PersistenceProvider(props: &PersistenceProviderProps) -> Html {
    let opened = use_state(|| None::<Result<Persistence, StoreError>>);
    let blocked = use_state(|| false);
    {
        let (opened, blocked) = (opened.setter(), blocked.setter());
        let config = PersistenceConfig {
            database: props.database.to_string(),
            hydrate: props.hydrate.iter().map(|c| c.to_string()).collect(),
            merge_rules: props.merge_rules.clone(),
            app_version: props.app_version.to_string(),
        };
        // Opened once: hooks below hold this store (see the doc above on `key`).
        use_effect_with((), move |_| {
            spawn_local(async move {
                let on_blocked = move || blocked.set(true);
                let performance = web_sys::window().and_then(|w| w.performance());
                if let Some(p) = &performance {
                    let _ = p.mark(HYDRATE_START);
                }
                let persistence = Persistence::open(&config, on_blocked).await;
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
        None if *blocked => props.blocked.clone().unwrap_or_else(|| html! {
            <p role="alert" aria-busy="true">
                { "This app is open in another tab with an older version. Close that tab (or reload it) to continue." }
            </p>
        }),
        None => props
            .loading
            .clone()
            .unwrap_or_else(|| html! { <p aria-busy="true">{ "Opening your data…" }</p> }),
        Some(Err(err)) => match &props.failed {
            Some(failed) => failed.emit(err.clone()),
            None => html! {
                <div role="alert">
                    <h1>{ "Your data could not be opened" }</h1>
                    <p>{ err.to_string() }</p>
                </div>
            },
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
