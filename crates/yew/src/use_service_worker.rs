use std::cell::RefCell;
use std::rc::Rc;

use gloo::events::EventListener;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorker, ServiceWorkerRegistration, ServiceWorkerState};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::service_worker::container;

/// The message `sw.js` answers with `skipWaiting()`.
const SKIP_WAITING: &str = "SKIP_WAITING";

/// The handle returned by [`use_service_worker`].
///
/// ```no_run
/// use cairn_yew::use_service_worker;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn UpdateBanner() -> Html {
///     let worker = std::rc::Rc::new(use_service_worker());
///     if !worker.update_waiting() {
///         return html! {};
///     }
///     let apply = Callback::from(move |_| worker.apply_update());
///     html! { <button onclick={apply}>{ "Update now" }</button> }
/// }
/// ```
pub struct ServiceWorkerHandle {
    registration: UseStateHandle<Option<ServiceWorkerRegistration>>,
    waiting: UseStateHandle<Option<ServiceWorker>>,
}

impl ServiceWorkerHandle {
    /// A new version of the app is installed and waits for this page to let it take over.
    ///
    /// ```no_run
    /// # fn run(worker: cairn_yew::ServiceWorkerHandle) {
    /// let show_banner = worker.update_waiting();
    /// # }
    /// ```
    pub fn update_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// Lets the waiting version take over, and reloads this page into it once it controls
    /// the page.
    ///
    /// ```no_run
    /// # fn run(worker: cairn_yew::ServiceWorkerHandle) {
    /// worker.apply_update();
    /// # }
    /// ```
    pub fn apply_update(&self) {
        let (Some(waiting), Some(container)) = (&*self.waiting, container()) else {
            return;
        };
        EventListener::once(&container, "controllerchange", |_| {
            let _ = gloo::utils::window().location().reload();
        })
        .forget();
        let _ = waiting.post_message(&JsValue::from_str(SKIP_WAITING));
    }

    /// Asks the browser to look for a new version now (it also does on navigations).
    ///
    /// ```no_run
    /// # fn run(worker: cairn_yew::ServiceWorkerHandle) {
    /// worker.check_for_update();
    /// # }
    /// ```
    pub fn check_for_update(&self) {
        if let Some(registration) = &*self.registration {
            if let Ok(checked) = registration.update() {
                spawn_local(async move {
                    let _ = JsFuture::from(checked).await;
                });
            }
        }
    }
}

/// The app's service worker: whether an update waits, and applying it.
///
/// ```no_run
/// use cairn_yew::use_service_worker;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Version() -> Html {
///     let worker = use_service_worker();
///     html! { if worker.update_waiting() { <p>{ "A new version is ready." }</p> } }
/// }
/// ```
#[hook]
pub fn use_service_worker() -> ServiceWorkerHandle {
    let registration = use_state(|| None::<ServiceWorkerRegistration>);
    let waiting = use_state(|| None::<ServiceWorker>);
    {
        let (registration, waiting) = (registration.setter(), waiting.setter());
        use_effect_with((), move |_| {
            let listeners = Rc::new(RefCell::new(Vec::<EventListener>::new()));
            if let Some(container) = container() {
                let listeners = listeners.clone();
                spawn_local(async move {
                    let Ok(ready) = container.ready() else { return };
                    let Ok(found) = JsFuture::from(ready).await else {
                        return;
                    };
                    let found: ServiceWorkerRegistration = found.unchecked_into();
                    // Installed while no page of this version was open.
                    waiting.set(found.waiting());
                    let on_update_found = {
                        let (found, listeners_inner) = (found.clone(), listeners.clone());
                        EventListener::new(&found.clone(), "updatefound", move |_| {
                            let Some(installing) = found.installing() else {
                                return;
                            };
                            let (found, waiting, worker) =
                                (found.clone(), waiting.clone(), installing.clone());
                            let container = container.clone();
                            let on_state =
                                EventListener::new(&installing, "statechange", move |_| {
                                    // Installed while a page is controlled: an update, not the first install.
                                    if worker.state() == ServiceWorkerState::Installed
                                        && container.controller().is_some()
                                    {
                                        waiting.set(found.waiting());
                                    }
                                });
                            listeners_inner.borrow_mut().push(on_state);
                        })
                    };
                    listeners.borrow_mut().push(on_update_found);
                    registration.set(Some(found));
                });
            }
            move || drop(listeners)
        });
    }
    ServiceWorkerHandle {
        registration,
        waiting,
    }
}
