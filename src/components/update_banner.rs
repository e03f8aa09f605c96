use yew::prelude::*;

use crate::hooks::use_service_worker;

/// "A new version is available", with the button that switches to it.
#[function_component]
pub fn UpdateBanner() -> Html {
    let service_worker = std::rc::Rc::new(use_service_worker());
    if !service_worker.update_waiting() {
        return html! {};
    }
    let apply = Callback::from(move |_| service_worker.apply_update());
    html! {
        <div role="status" class="banner update-banner">
            { "A new version of Cairn is available. " }
            <button onclick={apply}>{ "Update" }</button>
        </div>
    }
}
