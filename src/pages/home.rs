use stylist::yew::styled_component;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::components::SaveStatusBadge;
use crate::hooks::use_persistent_state;

/// The home page: a note to self, kept on this device as it is typed.
#[styled_component]
pub fn Home() -> Html {
    let note = use_persistent_state("notes", "scratchpad", String::new());
    let oninput = {
        let note_setter = note.setter();
        Callback::from(move |e: InputEvent| {
            note_setter.emit(e.target_unchecked_into::<HtmlTextAreaElement>().value());
        })
    };
    let class = css!(
        r#"
        label { display: block; font-weight: 600; margin-bottom: 0.25rem; }
        textarea { width: 100%; min-height: 10rem; font: inherit; padding: 0.5rem; }
        .save-status { display: block; min-height: 1.5em; color: GrayText; }
        "#
    );
    html! {
        <section {class}>
            <h1>{ "Notes to self" }</h1>
            <label for="scratchpad">{ "Note" }</label>
            <textarea
                id="scratchpad"
                value={note.value().clone()}
                disabled={!note.is_loaded()}
                placeholder="Type anything; it stays on this device, even offline."
                {oninput}
            />
            <SaveStatusBadge status={note.status().clone()} />
        </section>
    }
}
