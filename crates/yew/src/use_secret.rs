use std::rc::Rc;

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::{use_persistence, Persistence};

/// What is known about a stored secret.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SecretView {
    /// Read from storage yet.
    pub loaded: bool,
    /// The last four characters of the stored value, to recognise it by.
    pub ends_with: Option<String>,
    /// What the last action did, or why it failed.
    pub message: Option<Result<String, String>>,
}

/// The handle returned by [`use_secret`].
pub struct Secret {
    name: &'static str,
    view: UseStateHandle<SecretView>,
    persistence: Persistence,
}

fn tail(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

impl Secret {
    pub fn view(&self) -> &SecretView {
        &self.view
    }

    /// Encrypts and stores `value` (never synced).
    pub fn save(&self, value: String) {
        let (name, view, persistence) = (self.name, self.view.clone(), self.persistence.clone());
        spawn_local(async move {
            let value = value.trim().to_owned();
            if value.is_empty() {
                view.set(SecretView {
                    message: Some(Err("Enter a key to save.".into())),
                    ..(*view).clone()
                });
                return;
            }
            let result = persistence.store().put_secret(name, &value).await;
            view.set(match result {
                Ok(()) => SecretView {
                    loaded: true,
                    ends_with: Some(tail(&value)),
                    message: Some(Ok("Saved, encrypted on this device.".into())),
                },
                Err(e) => SecretView {
                    message: Some(Err(e.to_string())),
                    ..(*view).clone()
                },
            });
        });
    }

    /// Deletes the stored value.
    pub fn remove(&self) {
        let (name, view, persistence) = (self.name, self.view.clone(), self.persistence.clone());
        spawn_local(async move {
            let result = persistence.store().delete_secret(name).await;
            view.set(match result {
                Ok(()) => SecretView {
                    loaded: true,
                    ends_with: None,
                    message: Some(Ok("Removed.".into())),
                },
                Err(e) => SecretView {
                    message: Some(Err(e.to_string())),
                    ..(*view).clone()
                },
            });
        });
    }
}

/// A secret kept on this device only, encrypted at rest with a non-extractable
/// AES-GCM key (`cairn_client::secrets`): never synced, exported only when asked, with a
/// passphrase.
#[hook]
pub fn use_secret(name: &'static str) -> Rc<Secret> {
    let persistence = use_persistence();
    let view = use_state(SecretView::default);
    {
        let (view, persistence) = (view.clone(), persistence.clone());
        use_effect_with(name, move |name| {
            let name = *name;
            spawn_local(async move {
                let stored = persistence.store().secret(name).await;
                view.set(match stored {
                    Ok(value) => SecretView {
                        loaded: true,
                        ends_with: value.as_deref().map(tail),
                        message: None,
                    },
                    Err(e) => SecretView {
                        loaded: true,
                        ends_with: None,
                        message: Some(Err(e.to_string())),
                    },
                });
            });
        });
    }
    Rc::new(Secret {
        name,
        view,
        persistence,
    })
}
