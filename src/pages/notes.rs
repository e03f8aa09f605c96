use stylist::yew::styled_component;
use web_sys::HtmlInputElement;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{NoteList, NoteUndoToast};
use crate::hooks::{use_notes, DeletedNote};
use crate::routes::Route;

/// All notes, newest first, with instant search, "New note", and Undo right after a
/// note was deleted (the editor navigates here with the [`DeletedNote`] as history state).
#[styled_component]
pub fn Notes() -> Html {
    let notes = use_notes();
    let query = use_state(String::new);
    let navigator = use_navigator().expect("inside the router");
    let deleted = use_location().and_then(|l| l.state::<DeletedNote>());

    let on_new = {
        let (notes, navigator) = (notes.clone(), navigator.clone());
        Callback::from(move |_| {
            let navigator = navigator.clone();
            notes.create(Callback::from(move |id| {
                navigator.push(&Route::Note { id })
            }));
        })
    };
    let on_search = {
        let query = query.clone();
        Callback::from(move |e: InputEvent| {
            query.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };

    let toast = deleted.map(|deleted| {
        // Clearing the history state takes the toast away.
        let close = {
            let navigator = navigator.clone();
            Callback::from(move |_| navigator.replace(&Route::Notes))
        };
        let on_undo = {
            let (notes, deleted, close) = (notes.clone(), deleted.clone(), close.clone());
            Callback::from(move |_| {
                notes.restore((*deleted).clone());
                close.emit(());
            })
        };
        let on_discard = {
            let (notes, deleted) = (notes.clone(), deleted.clone());
            Callback::from(move |_| notes.discard_images(&deleted.note))
        };
        html! {
            <NoteUndoToast key={deleted.id.clone()} title={deleted.note.display_title().to_owned()}
                {on_undo} on_close={close} {on_discard} />
        }
    });

    let all = notes.all();
    let shown: Vec<_> = all
        .iter()
        .filter(|(_, note)| note.matches(&query))
        .cloned()
        .collect();
    let class = css!(
        r#"
        header { display: flex; align-items: center; justify-content: space-between; gap: 1rem; }
        header h1 { margin: 0.5rem 0; }
        .new-note {
            font: inherit; font-weight: 600; cursor: pointer; min-height: 2.75rem; padding: 0 1rem;
            border-radius: 6px; border: none; background: var(--button-bg); color: var(--button-fg);
        }
        .new-note:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
        .search { display: grid; gap: 0.25rem; margin: 1rem 0; }
        .search label { font-weight: 600; }
        .search input {
            width: 100%; font: inherit; padding: 0.5rem 0.625rem; border-radius: 6px;
            border: 1px solid color-mix(in srgb, var(--fg) 35%, transparent);
            background: var(--bg); color: var(--fg);
        }
        .empty { color: var(--muted); }
        "#
    );
    let body = if !notes.is_loaded() {
        html! { <p class="empty" aria-busy="true">{ "Loading notes…" }</p> }
    } else if all.is_empty() {
        html! {
            <p class="empty" id="notes-empty">
                { "No notes yet. Press “New note” to write one; it is kept on this device, even offline." }
            </p>
        }
    } else if shown.is_empty() {
        html! { <p class="empty" id="notes-no-match">{ format!("No notes match “{}”.", query.trim()) }</p> }
    } else {
        html! { <NoteList notes={shown.clone()} /> }
    };
    let count = if notes.is_loaded() && !query.trim().is_empty() {
        format!("{} of {} notes", shown.len(), all.len())
    } else {
        String::new()
    };
    html! {
        <div {class}>
            <header>
                <h1>{ "Notes" }</h1>
                <button type="button" class="new-note" onclick={on_new}>{ "New note" }</button>
            </header>
            if let Some(error) = notes.error() {
                <p class="error" role="alert">{ error }</p>
            }
            <div class="search" role="search">
                <label for="note-search">{ "Search notes" }</label>
                <input id="note-search" type="search" value={(*query).clone()} oninput={on_search}
                    placeholder="Title or text" autocomplete="off" aria-describedby="note-search-count" />
                <span id="note-search-count" class="empty" aria-live="polite">{ count }</span>
            </div>
            { body }
            { for toast }
        </div>
    }
}
