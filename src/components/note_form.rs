use stylist::yew::styled_component;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::{NoteImages, NoteSaveStatus};
use crate::hooks::{use_note, Note};

#[derive(Properties, PartialEq)]
pub struct NoteFormProps {
    pub id: AttrValue,
    /// The note was deleted; gets it as it was, for Undo.
    pub on_deleted: Callback<Note>,
}

/// Editing one note: title, text and images, saved as they change, and deleting it.
#[styled_component]
pub fn NoteForm(props: &NoteFormProps) -> Html {
    let note = use_note(&props.id);
    let loaded = note.is_loaded();

    let on_title = {
        let note = note.clone();
        Callback::from(move |e: InputEvent| {
            note.set_title(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_body = {
        let note = note.clone();
        Callback::from(move |e: InputEvent| {
            note.set_body(e.target_unchecked_into::<HtmlTextAreaElement>().value())
        })
    };
    let on_add = {
        let note = note.clone();
        Callback::from(move |files| note.add_images(files))
    };
    let on_remove = {
        let note = note.clone();
        Callback::from(move |id: String| note.remove_image(&id))
    };
    let on_delete = {
        let (note, on_deleted) = (note.clone(), props.on_deleted.clone());
        Callback::from(move |_| note.delete(on_deleted.clone()))
    };
    // Enter in the title moves on instead of submitting anything.
    let onsubmit = {
        let note = note.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            note.save_now();
        })
    };

    let class = css!(
        r#"
        display: grid; gap: 0.25rem;
        label { font-weight: 600; }
        input[type=text], textarea {
            width: 100%; font: inherit; padding: 0.5rem 0.625rem; border-radius: 6px;
            border: 1px solid color-mix(in srgb, var(--fg) 35%, transparent);
            background: var(--bg); color: var(--fg);
        }
        input[type=text] { font-size: 1.25rem; font-weight: 600; }
        textarea { min-height: 14rem; resize: vertical; }
        input:focus-visible, textarea:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
        .note-save-status { min-height: 1.5em; margin: 0; color: var(--muted); }
        .note-save-status.error { color: #a4262c; }
        .danger {
            font: inherit; cursor: pointer; min-height: 2.75rem; padding: 0 1rem; border-radius: 6px;
            border: 1px solid #a4262c; color: #a4262c; background: transparent;
        }
        @media (prefers-color-scheme: dark) {
            .danger, .note-save-status.error { color: #ff8a8f; border-color: #ff8a8f; }
        }
        "#
    );
    let value = note.note();
    html! {
        <form {class} {onsubmit} aria-busy={(!loaded).to_string()}>
            <label for="note-title">{ "Title" }</label>
            <input id="note-title" type="text" value={value.title.clone()} disabled={!loaded}
                placeholder="Untitled note" autocomplete="off" oninput={on_title} />
            <label for="note-body">{ "Text" }</label>
            <textarea id="note-body" value={value.body.clone()} disabled={!loaded}
                placeholder="Write anything; it is saved on this device as you type." oninput={on_body} />
            <NoteSaveStatus status={note.status().clone()} dirty={note.is_dirty()} />
            <NoteImages images={value.images.clone()} {on_add} {on_remove}
                error={note.image_error()} adding={note.is_adding_images()} disabled={!loaded} />
            <div class="actions">
                <button type="button" class="danger" onclick={on_delete} disabled={!loaded}>{ "Delete note" }</button>
            </div>
        </form>
    }
}
