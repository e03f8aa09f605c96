use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::SaveStatusBadge;
use crate::hooks::{use_waiver, Waiver, WaiverKind};

/// Consent to storing and syncing the user's data. Raise `text_version` whenever
/// [`DATA_CONSENT_TEXT`] changes: everyone is then asked to consent again.
pub const DATA_CONSENT: WaiverKind = WaiverKind {
    id: "data-processing",
    text_version: 1,
    valid_for_days: Some(365),
};

pub const DATA_CONSENT_TEXT: &str = "I agree that Cairn stores what I enter in this browser and, once I sign in to sync, \
     on the Cairn sync server, so that it is available on my other devices. I can withdraw this consent here at any time.";

/// `ms` since the epoch as a local date.
pub fn local_date(ms: f64) -> String {
    String::from(
        js_sys::Date::new(&ms.into()).to_locale_date_string("default", &Default::default()),
    )
}

/// The consent waiver: its text and version, signing (full name and a ticked box), the
/// signature with its expiry, and revoking it.
#[function_component]
pub fn WaiverPage() -> Html {
    let waiver = Rc::new(use_waiver(DATA_CONSENT));
    html! {
        <section aria-labelledby="waiver-title">
            <h1 id="waiver-title">{ "Consent to data processing" }</h1>
            <p class="hint" id="waiver-version">{ format!("Text version {}", DATA_CONSENT.text_version) }</p>
            <blockquote id="waiver-text">{ DATA_CONSENT_TEXT }</blockquote>
            if waiver.is_valid() {
                <Signed waiver={waiver.clone()} />
            } else {
                <SignForm waiver={waiver.clone()} />
            }
        </section>
    }
}

#[derive(Properties)]
pub struct WaiverProps {
    pub waiver: Rc<Waiver>,
}

impl PartialEq for WaiverProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.waiver, &other.waiver)
    }
}

#[function_component]
fn Signed(props: &WaiverProps) -> Html {
    let Some(record) = props.waiver.record().cloned() else {
        return html! {};
    };
    let until = record
        .expires_at
        .map(|e| format!(" It is valid until {}.", local_date(e)))
        .unwrap_or_default();
    let revoke = {
        let waiver = props.waiver.clone();
        Callback::from(move |_| waiver.revoke())
    };
    html! {
        <>
            <p id="consent-state">{ format!("Signed by {} on {}.{until}", record.signer, local_date(record.signed_at)) }</p>
            <button onclick={revoke}>{ "Withdraw consent" }</button>
        </>
    }
}

/// Signing: the full name, a ticked box, and the save status.
#[function_component]
pub fn SignForm(props: &WaiverProps) -> Html {
    let waiver = &props.waiver;
    let name = use_state(String::new);
    let agreed = use_state(|| false);
    let problem = use_state(|| None::<&'static str>);
    let notice = match waiver.record() {
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
    let onchange = {
        let agreed = agreed.clone();
        Callback::from(move |e: Event| {
            agreed.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let onsubmit = {
        let (name, agreed, problem, waiver) = (
            name.clone(),
            agreed.clone(),
            problem.clone(),
            waiver.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if !*agreed {
                problem.set(Some("Tick the box to agree to the text above."));
                return;
            }
            problem.set(None);
            waiver.sign(&name);
        })
    };
    html! {
        <>
            <p id="consent-state">{ notice }</p>
            <form {onsubmit} class="waiver-form">
                <label for="signer">{ "Your full name" }</label>{ " " }
                <input id="signer" value={(*name).clone()} {oninput} autocomplete="name" />
                <label for="consent" class="choice">
                    <input type="checkbox" id="consent" checked={*agreed} {onchange} />
                    { "I have read the text above and I agree to it" }
                </label>
                <button type="submit">{ "Sign" }</button>
            </form>
            if let Some(problem) = *problem {
                <p role="alert" class="error" id="waiver-problem">{ problem }</p>
            }
            <SaveStatusBadge status={waiver.status().clone()} />
        </>
    }
}
