//! One session: its title, tags and star, its latest messages (older ones on request),
//! search among the messages shown, and the form that sends one.

use cairn_yew::{use_collection, use_collection_page, use_persistent_state};
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::browser::{iso_time, local_time, new_id, now_ms};
use crate::model::{parse_tags, Message, Session, MESSAGES, PAGE, PREFS, SESSIONS};

#[derive(Properties, PartialEq)]
pub struct ConversationProps {
    pub session_id: String,
}

#[function_component]
pub fn Conversation(props: &ConversationProps) -> Html {
    let id = props.session_id.clone();
    let sessions = use_collection::<Session>(SESSIONS);
    // The newest PAGE messages of this session, by [session, sent_at, id].
    let messages = use_collection_page::<Message, _>(MESSAGES, [id.clone()], PAGE);
    let author = use_persistent_state::<String>(PREFS, "author", String::new());
    let query = use_state(String::new);
    let text = use_node_ref();
    let tags_input = use_node_ref();

    let Some(session) = sessions.get(&id) else {
        return html! {
            if sessions.is_loaded() {
                <h2>{ "Session not found" }</h2>
                <p>{ "It may have been deleted on another device. Choose another from the list." }</p>
            } else {
                <p aria-busy="true">{ "Loading the session…" }</p>
            }
        };
    };

    let send = {
        let (messages, author, text, id) =
            (messages.clone(), author.clone(), text.clone(), id.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(field) = text.cast::<HtmlTextAreaElement>() else {
                return;
            };
            let typed = field.value();
            if typed.trim().is_empty() {
                return;
            }
            let name = match author.value().trim() {
                "" => "Me".to_owned(),
                name => name.to_owned(),
            };
            let message_id = new_id();
            // The field is cleared once the message is stored: if the write fails, what
            // was typed stays there, beside the error.
            let clear = Callback::from(move |_| field.set_value(""));
            messages.put(
                &message_id,
                Message::new(&id, &message_id, now_ms(), &name, &typed),
                clear,
            );
        })
    };
    let set_author = {
        let author = author.clone();
        Callback::from(move |e: InputEvent| {
            author.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let save_tags = {
        let (sessions, id, session, tags_input) = (
            sessions.clone(),
            id.clone(),
            session.clone(),
            tags_input.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(input) = tags_input.cast::<HtmlInputElement>() {
                let tags = parse_tags(&input.value());
                sessions.put(
                    &id,
                    Session {
                        tags,
                        ..session.clone()
                    },
                );
            }
        })
    };
    let star = {
        let (sessions, id, session) = (sessions.clone(), id.clone(), session.clone());
        Callback::from(move |_| {
            sessions.put(
                &id,
                Session {
                    starred: !session.starred,
                    ..session.clone()
                },
            )
        })
    };
    let search = {
        let query = query.clone();
        Callback::from(move |e: InputEvent| {
            query.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let older = {
        let messages = messages.clone();
        Callback::from(move |_| messages.load_older())
    };

    let loaded = messages.items();
    let shown: Vec<_> = loaded.iter().filter(|(_, m)| m.matches(&query)).collect();
    let me = author.value().trim().to_owned();
    let list = if !messages.is_loaded() {
        html! { <p aria-busy="true">{ "Loading messages…" }</p> }
    } else if loaded.is_empty() {
        html! { <p>{ "No messages yet. Write the first below." }</p> }
    } else {
        html! {
            <ol class="messages" aria-label="Messages">
                { for shown.iter().map(|(message_id, m)| html! {
                    <li key={message_id.clone()} class={classes!((!me.is_empty() && m.author == me).then_some("mine"))}>
                        <p class="meta">
                            <strong>{ &m.author }</strong>{ " · " }
                            <time datetime={iso_time(m.sent_at_ms())}>{ local_time(m.sent_at_ms()) }</time>
                        </p>
                        <p class="text">{ &m.text }</p>
                    </li>
                }) }
            </ol>
        }
    };
    html! {
        <section aria-labelledby="session-title">
            <h2 id="session-title">
                { &session.title }{ " " }
                <button type="button" class="star" aria-pressed={session.starred.to_string()}
                    aria-label={if session.starred { "Unstar this session" } else { "Star this session" }} onclick={star}>
                    { if session.starred { "★" } else { "☆" } }
                </button>
            </h2>
            <form onsubmit={save_tags}>
                <div class="field">
                    <label for="session-tags">{ "Tags (separated by commas)" }</label>
                    <input id="session-tags" key={session.tags.join(",")} ref={tags_input} type="text"
                        value={session.tags.join(", ")} />
                </div>
                <button type="submit">{ "Save tags" }</button>
            </form>
            <div class="field">
                <label for="message-search">{ "Search messages" }</label>
                <input id="message-search" type="search" value={(*query).clone()} oninput={search} />
            </div>
            if !query.is_empty() {
                <p role="status">
                    { format!("{} of the {} messages shown match.", shown.len(), loaded.len()) }
                    if messages.has_older() { { " Show older messages to search further back." } }
                </p>
            }
            if messages.has_older() {
                <button type="button" onclick={older} disabled={messages.is_loading_older()}>
                    { if messages.is_loading_older() { "Loading older messages…" } else { "Show older" } }
                </button>
            }
            { list }
            if let Some(error) = messages.error() {
                <p class="error" role="alert">{ error }</p>
            }
            <form onsubmit={send} aria-label="New message">
                <div class="field">
                    <label for="message-author">{ "Your name" }</label>
                    <input id="message-author" type="text" autocomplete="nickname" maxlength="80"
                        value={author.value().clone()} oninput={set_author} />
                </div>
                <div class="field">
                    <label for="message-text">{ "Message" }</label>
                    <textarea id="message-text" ref={text} rows="2" required=true />
                </div>
                <button type="submit" class="primary">{ "Send" }</button>
            </form>
        </section>
    }
}
