//! Conversations: a second app on `cairn-yew`, using only its public API.
//!
//! Sessions (a title, tags and a star) and their messages are kept in IndexedDB on the
//! device (database `cairn-conversations`) and synced through the Cairn server that
//! serves the page. A session opens on its latest messages, read through an index
//! ([`cairn_yew::use_collection_page`]), however many it holds.
//!
//! - `app`: the providers and the page frame.
//! - `account`: signing up, in and out ([`cairn_yew::use_sync`]).
//! - `sessions`: the list of sessions, search, creating one, the star.
//! - `conversation`: one session's messages, tags, search and the message form.
//! - `model`: what is stored, and how search matches it.
//! - `browser`: the clock, random ids and dates, from the browser.

mod account;
mod app;
mod browser;
mod conversation;
mod model;
mod sessions;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
