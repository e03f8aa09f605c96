use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{
    ApiKeySettings, AppearanceForm, NotificationSettings, PrivacySettings, SyncPanel,
};
use crate::hooks::{use_persistence, use_waiver};
use crate::pages::waiver::{local_date, DATA_CONSENT};
use crate::routes::Route;

/// Settings: appearance, notifications, privacy (what syncs), the account and sync, the
/// consent, and what this device is.
#[function_component]
pub fn Settings() -> Html {
    let persistence = use_persistence();
    html! {
        <section class="settings">
            <h1>{ "Settings" }</h1>
            <AppearanceForm />
            <NotificationSettings />
            <SyncPanel />
            <PrivacySettings />
            <ApiKeySettings />
            <ConsentSummary />
            <section aria-labelledby="device-title">
                <h2 id="device-title">{ "This device" }</h2>
                <dl>
                    <dt>{ "Device ID" }</dt>
                    <dd id="device-id"><code>{ persistence.device_id() }</code></dd>
                    <dt>{ "App version" }</dt>
                    <dd>{ env!("CARGO_PKG_VERSION") }</dd>
                </dl>
            </section>
        </section>
    }
}

/// Whether the consent waiver is signed, with a link to it.
#[function_component]
fn ConsentSummary() -> Html {
    let waiver = use_waiver(DATA_CONSENT);
    let state = match waiver.record() {
        Some(r) if waiver.is_valid() => {
            format!("Signed by {} on {}.", r.signer, local_date(r.signed_at))
        }
        Some(_) if waiver.needs_reconsent() => {
            "The text has changed: please consent again.".to_owned()
        }
        Some(_) => "Your consent has expired.".to_owned(),
        None => "Not signed yet.".to_owned(),
    };
    html! {
        <section aria-labelledby="consent-title">
            <h2 id="consent-title">{ "Consent" }</h2>
            <p id="consent-summary">{ state }{ " " }<Link<Route> to={Route::Waiver}>{ "Open the consent" }</Link<Route>></p>
        </section>
    }
}
