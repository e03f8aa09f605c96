use gloo::events::EventListener;
use yew::prelude::*;

/// "You are offline", while the browser says so. Everything keeps working; changes wait
/// on the device until the connection is back.
#[function_component]
pub fn OfflineBanner() -> Html {
    let online = use_state(|| gloo::utils::window().navigator().on_line());
    {
        let online = online.setter();
        use_effect_with((), move |_| {
            let window = gloo::utils::window();
            let listeners = ["online", "offline"].map(|event| {
                let online = online.clone();
                EventListener::new(&window, event, move |_| {
                    online.set(gloo::utils::window().navigator().on_line())
                })
            });
            move || drop(listeners)
        });
    }
    if *online {
        return html! {};
    }
    html! {
        <div role="status" class="banner offline-banner" id="offline-banner">
            { "You are offline. Everything you do is saved on this device and syncs when the connection is back." }
        </div>
    }
}
