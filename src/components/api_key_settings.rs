use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::use_secret;

/// The name the API key is stored under.
pub const API_KEY: &str = "api_key";

/// An API key for an outside service: encrypted on this device, never synced.
#[function_component]
pub fn ApiKeySettings() -> Html {
    let secret = use_secret(API_KEY);
    let input = use_node_ref();
    let view = secret.view().clone();
    let onsubmit = {
        let (secret, input) = (secret.clone(), input.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(field) = input.cast::<HtmlInputElement>() {
                secret.save(field.value());
                field.set_value("");
            }
        })
    };
    let remove = {
        let secret = secret.clone();
        Callback::from(move |_| secret.remove())
    };
    let state = match (&view.ends_with, view.loaded) {
        (_, false) => "Reading…".to_owned(),
        (Some(tail), true) => format!("A key ending in “{tail}” is saved."),
        (None, true) => "No key saved.".to_owned(),
    };
    html! {
        <section aria-labelledby="api-key-title">
            <h2 id="api-key-title">{ "API key" }</h2>
            <p class="hint">{ "Kept encrypted on this device only. It is never synced, and a backup includes it only if you ask, protected by a passphrase." }</p>
            <p id="api-key-state">{ state }</p>
            <form {onsubmit} class="actions">
                <label for="api-key" class="visually-hidden">{ "API key" }</label>
                <input id="api-key" ref={input} type="password" autocomplete="off" placeholder="Paste a key" />
                <button type="submit">{ if view.ends_with.is_some() { "Replace key" } else { "Save key" } }</button>
                if view.ends_with.is_some() {
                    <button type="button" class="secondary" onclick={remove}>{ "Remove key" }</button>
                }
            </form>
            {
                match &view.message {
                    Some(Ok(text)) => html! { <p role="status" id="api-key-message">{ text }</p> },
                    Some(Err(text)) => html! { <p role="alert" class="error" id="api-key-message">{ text }</p> },
                    None => html! {},
                }
            }
        </section>
    }
}
