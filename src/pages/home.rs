use stylist::yew::styled_component;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::SaveStatusBadge;
use crate::hooks::{
    use_expandable_card, use_persistent_state, use_visible_component, PersistOptions,
};
use crate::routes::Route;

/// The home page: a note to self kept on this device as it is typed, a getting-started
/// panel the user can hide, and a card explaining how data is kept.
#[styled_component]
pub fn Home() -> Html {
    let note = use_persistent_state(
        "scratchpad",
        String::new(),
        PersistOptions::default().collection("notes"),
    );
    let getting_started = use_visible_component("getting-started", true);
    let how_it_works = use_expandable_card("how-cairn-keeps-data", false);

    let oninput = {
        let set = note.setter();
        Callback::from(move |e: InputEvent| {
            set.emit(e.target_unchecked_into::<HtmlTextAreaElement>().value())
        })
    };
    let class = css!(
        r#"
        label { display: block; font-weight: 600; margin-bottom: 0.25rem; }
        textarea { width: 100%; min-height: 10rem; font: inherit; padding: 0.5rem; }
        .save-status { display: block; min-height: 1.5em; color: GrayText; }
        .panel, .card { border: 1px solid #c9d6cf; border-radius: 6px; padding: 0.75rem 1rem; margin: 1rem 0; }
        .panel header, .card header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
        .panel h2, .card h2 { margin: 0; }
        button { font: inherit; cursor: pointer; }
        "#
    );

    let panel = if getting_started.is_visible() {
        let hide = Callback::from(move |_| getting_started.hide());
        html! {
            <section class="panel" id="getting-started" aria-labelledby="getting-started-title">
                <header>
                    <h2 id="getting-started-title">{ "Getting started" }</h2>
                    <button onclick={hide}>{ "Hide" }</button>
                </header>
                <ol>
                    <li><Link<Route> to={Route::Welcome}>{ "Take the short tour" }</Link<Route>></li>
                    <li><Link<Route> to={Route::Assessment}>{ "Check how safe your data is" }</Link<Route>></li>
                    <li><Link<Route> to={Route::Settings}>{ "Give your consent for data processing" }</Link<Route>></li>
                </ol>
            </section>
        }
    } else {
        let show = Callback::from(move |_| getting_started.show());
        html! { <p><button onclick={show}>{ "Show getting started" }</button></p> }
    };

    let open = how_it_works.is_open();
    let toggle = Callback::from(move |_| how_it_works.toggle());
    html! {
        <div {class}>
            <h1>{ "Notes to self" }</h1>
            { panel }
            <label for="scratchpad">{ "Note" }</label>
            <textarea
                id="scratchpad"
                value={note.value().clone()}
                disabled={!note.is_loaded()}
                placeholder="Type anything; it stays on this device, even offline."
                {oninput}
            />
            <SaveStatusBadge status={note.status().clone()} dirty={note.is_dirty()} />
            <section class="card" id="how-it-works">
                <header>
                    <h2>{ "How Cairn keeps your data" }</h2>
                    <button aria-expanded={open.to_string()} aria-controls="how-it-works-body" onclick={toggle}>
                        { if open { "Less" } else { "More" } }
                    </button>
                </header>
                if open {
                    <div id="how-it-works-body">
                        <p>{ "Everything you type is saved in this browser's database a moment after you stop typing, and at once when you press Ctrl+S (⌘S) or leave the page." }</p>
                        <p>{ "It stays here across reloads and without a network connection. Each change is also queued, so it can be synced to your other devices." }</p>
                    </div>
                }
            </section>
        </div>
    }
}
