use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::{use_notifications, NotificationAccess};

/// The notifications toggle, with what the browser allows.
#[function_component]
pub fn NotificationSettings() -> Html {
    let notifications = Rc::new(use_notifications());
    let onchange = {
        let notifications = notifications.clone();
        Callback::from(move |e: Event| {
            if e.target_unchecked_into::<HtmlInputElement>().checked() {
                notifications.enable();
            } else {
                notifications.disable();
            }
        })
    };
    let note = match notifications.access() {
        NotificationAccess::Denied => {
            Some("Notifications are blocked for this site in your browser's settings.")
        }
        NotificationAccess::Unsupported => Some("This browser cannot show notifications."),
        _ => None,
    };
    let unavailable = matches!(
        notifications.access(),
        NotificationAccess::Denied | NotificationAccess::Unsupported
    );
    html! {
        <section aria-labelledby="notifications-title">
            <h2 id="notifications-title">{ "Notifications" }</h2>
            <label for="notifications" class="choice">
                <input type="checkbox" id="notifications" checked={notifications.is_on()} disabled={unavailable} {onchange} />
                { "Tell me when a change of mine was overwritten by one made on another device" }
            </label>
            if let Some(note) = note {
                <p class="hint">{ note }</p>
            }
        </section>
    }
}
