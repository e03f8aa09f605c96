use stylist::yew::styled_component;
use yew::prelude::*;
use yew_router::prelude::*;

use super::note_save_status::hh_mm;
use crate::hooks::Note;
use crate::routes::Route;

#[derive(Properties, PartialEq)]
pub struct NoteListProps {
    /// `(id, note)`, in the order to show.
    pub notes: Vec<(String, Note)>,
}

/// The notes as a list of links, each with its title, the start of its text and when it
/// was last changed.
#[styled_component]
pub fn NoteList(props: &NoteListProps) -> Html {
    let class = css!(
        r#"
        list-style: none; margin: 0; padding: 0; display: grid; gap: 0.5rem;
        grid-template-columns: minmax(0, 1fr);
        a {
            display: block; padding: 0.75rem 1rem; border-radius: 8px;
            border: 1px solid color-mix(in srgb, var(--fg) 20%, transparent);
            color: inherit; text-decoration: none;
        }
        a:hover, a:focus-visible { border-color: var(--accent); }
        a:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
        .note-title { display: block; font-weight: 600; overflow-wrap: anywhere; }
        .note-snippet {
            display: block; color: var(--muted); overflow: hidden; text-overflow: ellipsis;
            white-space: nowrap;
        }
        .note-meta { display: block; font-size: 0.875rem; color: var(--muted); }
        "#
    );
    html! {
        <ul {class} id="note-list" aria-label="Notes">
            { for props.notes.iter().map(|(id, note)| {
                let snippet: String = note.body.chars().take(120).collect();
                let images = match note.images.len() {
                    0 => String::new(),
                    1 => " · 1 image".to_owned(),
                    n => format!(" · {n} images"),
                };
                html! {
                    <li key={id.clone()} class="note-item" data-note-id={id.clone()}>
                        <Link<Route> to={Route::Note { id: id.clone() }}>
                            <span class="note-title">{ note.display_title() }</span>
                            if !snippet.trim().is_empty() {
                                <span class="note-snippet">{ snippet }</span>
                            }
                            <span class="note-meta">{ format!("Edited {}{images}", when(note.updated_at)) }</span>
                        </Link<Route>>
                    </li>
                }
            }) }
        </ul>
    }
}

/// `HH:MM` for today, the local date otherwise.
fn when(ms: f64) -> String {
    let date = js_sys::Date::new(&ms.into());
    if date.to_date_string() == js_sys::Date::new_0().to_date_string() {
        hh_mm(ms)
    } else {
        String::from(date.to_locale_date_string("default", &wasm_bindgen::JsValue::UNDEFINED))
    }
}
