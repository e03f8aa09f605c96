use yew::prelude::*;

use crate::hooks::use_store;

/// Settings: what this device is, as the app knows it.
#[function_component]
pub fn Settings() -> Html {
    let store = use_store();
    html! {
        <section>
            <h1>{ "Settings" }</h1>
            <h2>{ "This device" }</h2>
            <dl>
                <dt>{ "Device ID" }</dt>
                <dd id="device-id"><code>{ store.device_id().to_string() }</code></dd>
                <dt>{ "App version" }</dt>
                <dd>{ env!("CARGO_PKG_VERSION") }</dd>
            </dl>
        </section>
    }
}
