//! The list of sessions: search over titles and tags, creating a session, the star.

use cairn_yew::use_collection;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::browser::now_ms;
use crate::model::{listed, Session, SESSIONS};

#[derive(Properties, PartialEq)]
pub struct SessionListProps {
    /// The open session's id.
    pub open: Option<String>,
    /// Opens the session with this id.
    pub on_open: Callback<String>,
}

#[function_component]
pub fn SessionList(props: &SessionListProps) -> Html {
    let sessions = use_collection::<Session>(SESSIONS);
    let query = use_state(String::new);
    let title = use_node_ref();

    let create = {
        let (sessions, title, on_open) = (sessions.clone(), title.clone(), props.on_open.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(input) = title.cast::<HtmlInputElement>() else {
                return;
            };
            let typed = input.value();
            if typed.trim().is_empty() {
                return;
            }
            // The title is cleared once the session is stored, not before.
            let on_open = on_open.clone();
            let opened = Callback::from(move |id| {
                input.set_value("");
                on_open.emit(id);
            });
            sessions.create(Session::new(&typed, now_ms()), opened);
        })
    };
    let search = {
        let query = query.clone();
        Callback::from(move |e: InputEvent| {
            query.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let shown = listed(sessions.all(), &query);
    let body = if !sessions.is_loaded() {
        html! { <p aria-busy="true">{ "Loading sessions…" }</p> }
    } else if shown.is_empty() && query.is_empty() {
        html! { <p>{ "No sessions yet." }</p> }
    } else if shown.is_empty() {
        html! { <p role="status">{ format!("No session matches “{}”.", *query) }</p> }
    } else {
        html! {
            <ul class="sessions">
                { for shown.into_iter().map(|(id, session)| {
                    let current = props.open.as_deref() == Some(id.as_str());
                    let open = props.on_open.reform({ let id = id.clone(); move |_| id.clone() });
                    let star = {
                        let (sessions, id, session) = (sessions.clone(), id.clone(), session.clone());
                        Callback::from(move |_| {
                            sessions.put(&id, Session { starred: !session.starred, ..session.clone() })
                        })
                    };
                    html! {
                        <li key={id.clone()}>
                            <button type="button" class="open" aria-current={current.to_string()} onclick={open}>
                                { &session.title }
                                if !session.tags.is_empty() {
                                    <span class="tags">{ format!(" · {}", session.tags.join(", ")) }</span>
                                }
                            </button>
                            <button type="button" class="star" aria-pressed={session.starred.to_string()}
                                aria-label={format!("Star “{}”", session.title)} onclick={star}>
                                { if session.starred { "★" } else { "☆" } }
                            </button>
                        </li>
                    }
                }) }
            </ul>
        }
    };
    html! {
        <nav aria-label="Sessions">
            <form onsubmit={create}>
                <div class="field">
                    <label for="new-session-title">{ "New session title" }</label>
                    <input id="new-session-title" ref={title} type="text" maxlength="200" required=true />
                </div>
                <button type="submit" class="primary">{ "Create session" }</button>
            </form>
            <div class="field">
                <label for="session-search">{ "Search sessions (titles and tags)" }</label>
                <input id="session-search" type="search" value={(*query).clone()} oninput={search} />
            </div>
            <h2 class="sr-only">{ "Sessions" }</h2>
            { body }
            if let Some(error) = sessions.error() {
                <p class="error" role="alert">{ error }</p>
            }
        </nav>
    }
}
