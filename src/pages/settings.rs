use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{SaveStatusBadge, SyncPanel};
use crate::hooks::{use_persistence, use_waiver, WaiverKind};

/// Consent to storing and syncing the user's data. Raise `text_version` whenever
/// [`DATA_CONSENT_TEXT`] changes: everyone is then asked to consent again.
pub const DATA_CONSENT: WaiverKind = WaiverKind {
    id: "data-processing",
    text_version: 1,
    valid_for_days: Some(365),
};

pub const DATA_CONSENT_TEXT: &str = "I agree that Cairn stores what I enter in this browser and, once I sign in to sync, \
     on the Cairn sync server, so that it is available on my other devices. I can withdraw this consent here at any time.";

/// Settings: what this device is, sync and the account, and the user's consent.
#[function_component]
pub fn Settings() -> Html {
    let persistence = use_persistence();
    html! {
        <section>
            <h1>{ "Settings" }</h1>
            <h2>{ "This device" }</h2>
            <dl>
                <dt>{ "Device ID" }</dt>
                <dd id="device-id"><code>{ persistence.device_id() }</code></dd>
                <dt>{ "App version" }</dt>
                <dd>{ env!("CARGO_PKG_VERSION") }</dd>
            </dl>
            <SyncPanel />
            <DataConsent />
        </section>
    }
}

#[function_component]
fn DataConsent() -> Html {
    let waiver = Rc::new(use_waiver(DATA_CONSENT));
    let name = use_state(String::new);
    let date = |ms: f64| {
        String::from(
            js_sys::Date::new(&ms.into()).to_locale_date_string("default", &Default::default()),
        )
    };

    let body = match waiver.record().cloned() {
        Some(record) if waiver.is_valid() => {
            let until = record
                .expires_at
                .map(|e| format!(", valid until {}", date(e)))
                .unwrap_or_default();
            let revoke = {
                let waiver = waiver.clone();
                Callback::from(move |_| waiver.revoke())
            };
            html! {
                <>
                    <p id="consent-state">{ format!("Signed by {} on {}{until}.", record.signer, date(record.signed_at)) }</p>
                    <button onclick={revoke}>{ "Withdraw consent" }</button>
                </>
            }
        }
        record => {
            let notice = match record {
                Some(_) if waiver.needs_reconsent() => {
                    "The text has changed since you signed. Please read it and sign again."
                }
                Some(_) => "Your consent has expired. Please sign again.",
                None => "Not signed yet.",
            };
            let oninput = {
                let name = name.clone();
                Callback::from(move |e: InputEvent| {
                    name.set(e.target_unchecked_into::<HtmlInputElement>().value())
                })
            };
            let status = waiver.status().clone();
            let onsubmit = {
                let (name, waiver) = (name.clone(), waiver.clone());
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    waiver.sign(&name);
                })
            };
            html! {
                <>
                    <p id="consent-state">{ notice }</p>
                    <form {onsubmit}>
                        <label for="signer">{ "Your full name" }</label>{ " " }
                        <input id="signer" value={(*name).clone()} {oninput} autocomplete="name" />{ " " }
                        <button type="submit">{ "Sign" }</button>
                    </form>
                    <SaveStatusBadge {status} />
                </>
            }
        }
    };
    html! {
        <section aria-labelledby="consent-title">
            <h2 id="consent-title">{ "Consent to data processing" }</h2>
            <blockquote>{ DATA_CONSENT_TEXT }</blockquote>
            { body }
        </section>
    }
}
