use std::rc::Rc;

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::{use_persistence, Persistence};

/// What is known about a stored secret.
///
/// ```no_run
/// # fn run(key: std::rc::Rc<cairn_yew::Secret>) {
/// let hint = key.view().ends_with.as_deref().map(|tail| format!("…{tail}"));
/// # }
/// ```
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
///
/// ```no_run
/// # fn run(key: std::rc::Rc<cairn_yew::Secret>) {
/// key.save("sk-live-1234".to_owned());
/// # }
/// ```
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
    /// What is known about the stored secret.
    ///
    /// ```no_run
    /// # fn run(key: std::rc::Rc<cairn_yew::Secret>) {
    /// let stored = key.view().ends_with.is_some();
    /// # }
    /// ```
    pub fn view(&self) -> &SecretView {
        &self.view
    }

    /// Encrypts and stores `value` (never synced).
    ///
    /// ```no_run
    /// # fn run(key: std::rc::Rc<cairn_yew::Secret>) {
    /// key.save("sk-live-1234".to_owned());
    /// # }
    /// ```
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
    ///
    /// ```no_run
    /// # fn run(key: std::rc::Rc<cairn_yew::Secret>) {
    /// key.remove();
    /// # }
    /// ```
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
///
/// ```no_run
/// use cairn_yew::use_secret;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn ApiKey() -> Html {
///     let key = use_secret("api-key");
///     match &key.view().ends_with {
///         Some(tail) => html! { <p>{ format!("Key ending in {tail}") }</p> },
///         None => html! { <p>{ "No key saved." }</p> },
///     }
/// }
/// ```
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
