use stylist::yew::styled_component;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::NoteForm;
use crate::hooks::{use_note_lookup, DeletedNote, Note, NoteLookup};
use crate::routes::Route;

#[derive(Properties, PartialEq)]
pub struct NoteEditorProps {
    pub id: AttrValue,
}

/// One note (`/notes/:id`): the editor, or a way back when there is no such note here.
#[styled_component]
pub fn NoteEditor(props: &NoteEditorProps) -> Html {
    let lookup = use_note_lookup(&props.id);
    let navigator = use_navigator().expect("inside the router");
    let on_deleted = {
        let id = props.id.to_string();
        Callback::from(move |note: Note| {
            let deleted = DeletedNote {
                id: id.clone(),
                note,
            };
            navigator.push_with_state(&Route::Notes, deleted);
        })
    };
    let class = css!(
        r#"
        .back { display: inline-block; margin: 0.25rem 0 0.5rem; color: inherit; }
        h1 { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
        .missing h1 { position: static; width: auto; height: auto; clip-path: none; }
        "#
    );
    let back =
        html! { <Link<Route> classes="back" to={Route::Notes}>{ "← All notes" }</Link<Route>> };
    let content = match lookup {
        NoteLookup::Loading => html! { <p aria-busy="true">{ "Loading note…" }</p> },
        NoteLookup::Found => html! {
            <>
                <h1>{ "Edit note" }</h1>
                <NoteForm key={props.id.to_string()} id={props.id.clone()} {on_deleted} />
            </>
        },
        NoteLookup::Missing | NoteLookup::Deleted | NoteLookup::Failed(_) => {
            let why = match lookup {
                NoteLookup::Deleted => "This note was deleted.".to_owned(),
                NoteLookup::Failed(e) => format!("It could not be read: {e}"),
                _ => "There is no such note on this device. If you wrote it on another device, sync there and here, then look again.".to_owned(),
            };
            html! {
                <section class="missing" id="note-not-found">
                    <h1>{ "Note not found" }</h1>
                    <p>{ why }</p>
                    <p><Link<Route> to={Route::Notes}>{ "Back to all notes" }</Link<Route>></p>
                </section>
            }
        }
    };
    html! {
        <div {class}>
            { back }
            { content }
        </div>
    }
}
