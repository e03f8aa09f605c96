//! Cairn, the app: a Yew single-page app whose user state lives in IndexedDB.
//!
//! # Layout
//! - [`app`]: the root component: router, persistence provider, page frame.
//! - [`routes`]: the client-side routes.
//! - [`hooks`]: the app's hooks (`cairn-yew`'s, bound to the app's collections, and the
//!   domain hooks); the only way components reach stored state.
//! - [`components`]: reusable components, one per file.
//! - [`format`](mod@format): the formatters several components share (times, sizes, summaries).
//! - [`pages`]: one component per route.

pub mod app;
pub mod components;
pub mod format;
pub mod hooks;
pub mod pages;
pub mod routes;

/// Starts the app in the page: renders it into `<body>` and registers the service worker.
/// Mounting empties `<body>` first, so the static shell of `index.html` (painted while
/// the wasm loaded, laid out like this first render) is replaced, not duplicated.
pub fn start() {
    yew::Renderer::<app::App>::new().render();
    cairn_yew::register_service_worker("/sw.js");
}
