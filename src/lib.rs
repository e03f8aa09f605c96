//! Cairn, the app: a Yew single-page app whose user state lives in IndexedDB.
//!
//! # Layout
//! - [`app`]: the root component: router, persistence provider, page frame.
//! - [`routes`]: the client-side routes.
//! - [`hooks`]: the persistence hooks; the only way components reach stored state.
//! - [`components`]: reusable components, one per file.
//! - [`pages`]: one component per route.
//! - [`service_worker`]: registration of the offline worker (`sw.js`).

pub mod app;
pub mod components;
pub mod hooks;
pub mod pages;
pub mod routes;
pub mod service_worker;

/// Starts the app in the page: renders it into `<body>` and registers the service worker.
/// Mounting empties `<body>` first, so the static shell of `index.html` (painted while
/// the wasm loaded, laid out like this first render) is replaced, not duplicated.
pub fn start() {
    yew::Renderer::<app::App>::new().render();
    service_worker::register();
}
