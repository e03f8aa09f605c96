//! The root: the providers, the header with the account, the list and the open session.

use cairn_yew::{PersistenceProvider, SyncProvider};
use yew::prelude::*;

use crate::account::AccountPanel;
use crate::browser::{open_session_in_url, set_open_session_in_url};
use crate::conversation::Conversation;
use crate::model::PREFS;
use crate::sessions::SessionList;

/// The IndexedDB database of this app: its own, beside Cairn's.
const DATABASE: &str = "cairn-conversations";

#[function_component]
pub fn App() -> Html {
    html! {
        <PersistenceProvider
            database={DATABASE}
            hydrate={vec![AttrValue::from(PREFS)]}
            app_version={env!("CARGO_PKG_VERSION")}
        >
            // The server that serves the page syncs it.
            <SyncProvider server="">
                <Frame />
            </SyncProvider>
        </PersistenceProvider>
    }
}

/// The page: the header, the sessions, and the open one. Which one is open is this
/// tab's, kept in the URL (`#session=<id>`) so a reload or a link reopens it.
#[function_component]
fn Frame() -> Html {
    let open = use_state(open_session_in_url);
    let on_open = {
        let open = open.clone();
        Callback::from(move |id: String| {
            set_open_session_in_url(&id);
            open.set(Some(id));
        })
    };
    html! {
        <>
            <header>
                <h1>{ "Conversations" }</h1>
                <AccountPanel />
            </header>
            <div class="layout">
                <SessionList open={(*open).clone()} {on_open} />
                <main>
                    if let Some(id) = (*open).clone() {
                        <Conversation key={id.clone()} session_id={id.clone()} />
                    } else {
                        <h2>{ "No session open" }</h2>
                        <p>{ "Create a session, or choose one from the list." }</p>
                    }
                </main>
            </div>
        </>
    }
}
