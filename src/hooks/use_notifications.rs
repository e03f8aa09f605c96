use wasm_bindgen_futures::JsFuture;
use web_sys::{Notification, NotificationOptions, NotificationPermission};
use yew::platform::spawn_local;
use yew::prelude::*;

use cairn_yew::{use_persistent_state_with, PersistOptions, Persistence, PersistentState};

use super::config::PREFS;

/// Where the setting is stored (collection `prefs`).
pub const NOTIFICATIONS_PREF: &str = "notifications";

/// What the browser allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationAccess {
    /// Not asked yet.
    Ask,
    Granted,
    /// Refused; only the browser's site settings can change it.
    Denied,
    /// The browser has no notifications.
    Unsupported,
}

fn access() -> NotificationAccess {
    let supported =
        js_sys::Reflect::has(&js_sys::global(), &"Notification".into()).unwrap_or(false);
    if !supported {
        return NotificationAccess::Unsupported;
    }
    match Notification::permission() {
        NotificationPermission::Granted => NotificationAccess::Granted,
        NotificationPermission::Denied => NotificationAccess::Denied,
        _ => NotificationAccess::Ask,
    }
}

/// The handle returned by [`use_notifications`].
pub struct Notifications {
    enabled: PersistentState<bool>,
    access: UseStateHandle<NotificationAccess>,
}

impl Notifications {
    /// The user wants notifications and the browser allows them.
    pub fn is_on(&self) -> bool {
        *self.enabled.value() && *self.access == NotificationAccess::Granted
    }

    pub fn access(&self) -> NotificationAccess {
        *self.access
    }

    /// Turns notifications on, asking the browser for permission first if needed.
    pub fn enable(&self) {
        let (enabled, access) = (self.enabled.setter(), self.access.clone());
        spawn_local(async move {
            if let Ok(asked) = Notification::request_permission() {
                let _ = JsFuture::from(asked).await;
            }
            let now = self::access();
            access.set(now);
            enabled.emit(now == NotificationAccess::Granted);
        });
    }

    pub fn disable(&self) {
        self.enabled.set(false);
    }
}

/// Whether the app may notify the user (of sync conflicts: a change of theirs was
/// overwritten by one made on another device).
#[hook]
pub fn use_notifications() -> Notifications {
    let enabled = use_persistent_state_with(
        PREFS,
        NOTIFICATIONS_PREF,
        false,
        PersistOptions::default().debounce_ms(0),
    );
    let access = use_state(access);
    Notifications { enabled, access }
}

/// Tells the user that a sync round replaced changes of theirs with newer ones from
/// another device (given to the sync provider as its `on_conflicts`).
pub fn notify_conflicts(persistence: &Persistence) {
    notify(
        persistence,
        "A change was overwritten",
        "A newer change from another device replaced one of yours. Your version is kept in the conflict log on the Storage page.",
    );
}

/// Shows a notification if the user turned them on and the browser allows it.
fn notify(persistence: &Persistence, title: &str, body: &str) {
    let key = cairn_protocol::RecordKey::new(PREFS, NOTIFICATIONS_PREF);
    let wanted = persistence
        .hydrated(&key)
        .is_some_and(|r| r.value == serde_json::Value::Bool(true));
    if wanted && access() == NotificationAccess::Granted {
        let options = NotificationOptions::new();
        options.set_body(body);
        options.set_tag("cairn-conflicts");
        let _ = Notification::new_with_options(title, &options);
    }
}
