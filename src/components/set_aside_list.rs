use yew::prelude::*;

use crate::format::time_of;
use crate::hooks::use_sync;

/// Local changes the server refused, kept out of sync with the reason: each can be tried
/// again (e.g. once the device's clock is right) or dismissed (it stays on this device).
#[function_component]
pub fn SetAsideList() -> Html {
    let sync = use_sync();
    let items = &sync.view.set_aside;
    if items.is_empty() {
        return html! {};
    }
    let rows = items.iter().map(|item| {
        let retry = {
            let (controller, item) = (sync.controller.clone(), item.clone());
            Callback::from(move |_| controller.retry_set_aside(item.clone()))
        };
        let dismiss = {
            let (controller, item) = (sync.controller.clone(), item.clone());
            Callback::from(move |_| controller.dismiss_set_aside(item.clone()))
        };
        let r = &item.record;
        html! {
            <li class="set-aside" key={format!("{}/{}", r.collection, r.id)}>
                <p>
                    <strong>{ format!("{} / {}", r.collection, r.id) }</strong>
                    { format!(" — set aside {}", time_of(item.set_aside_at_ms)) }
                </p>
                <p class="set-aside-reason">{ &item.reason }</p>
                <button class="retry" onclick={retry}>{ "Try again" }</button>{ " " }
                <button class="dismiss" onclick={dismiss}>{ "Keep on this device only" }</button>
            </li>
        }
    });
    html! {
        <section aria-labelledby="set-aside-title">
            <h3 id="set-aside-title">{ format!("Not synced ({})", items.len()) }</h3>
            <p>{ "The sync server refused these changes. They are still on this device; everything else syncs. Fix the cause (for example this device's clock), then try again." }</p>
            <ul id="set-aside-list">{ for rows }</ul>
        </section>
    }
}
