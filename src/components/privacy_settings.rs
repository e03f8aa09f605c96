use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::use_sync;

/// The collections that can be kept off sync, with what each holds.
pub const SYNCABLE: &[(&str, &str)] = &[
    ("notes", "Notes"),
    ("prefs", "Settings (appearance, notifications)"),
    ("ui", "Layout (open cards, hidden panels)"),
    ("waivers", "Consents"),
    ("progress", "Onboarding and check-up progress"),
];

/// Which collections this device syncs.
#[function_component]
pub fn PrivacySettings() -> Html {
    let sync = use_sync();
    let boxes = SYNCABLE.iter().map(|&(collection, label)| {
        let synced = !sync.view.excluded.iter().any(|c| c == collection);
        let controller = sync.controller.clone();
        let onchange = Callback::from(move |e: Event| {
            let on = e.target_unchecked_into::<HtmlInputElement>().checked();
            controller.set_synced(collection, on);
        });
        let id = format!("sync-{collection}");
        html! {
            <label for={id.clone()} class="choice">
                <input type="checkbox" {id} checked={synced} {onchange} />{ label }
            </label>
        }
    });
    html! {
        <section aria-labelledby="privacy-title">
            <h2 id="privacy-title">{ "Privacy" }</h2>
            <fieldset>
                <legend>{ "Sync these to my other devices" }</legend>
                { for boxes }
            </fieldset>
            <p class="hint">{ "Unticked data stays on this device only. Secrets, such as your API key, never leave it." }</p>
        </section>
    }
}
