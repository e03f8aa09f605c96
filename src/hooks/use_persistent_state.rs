use std::rc::Rc;

use cairn_protocol::RecordKey;
use serde::de::DeserializeOwned;
use serde::Serialize;
use yew::platform::spawn_local;
use yew::prelude::*;

use super::use_store;

/// Whether the latest value is safely stored.
#[derive(Debug, Clone, PartialEq)]
pub enum SaveStatus {
    /// Nothing changed since the value was loaded.
    Idle,
    Saving,
    Saved,
    Error(String),
}

/// The handle returned by [`use_persistent_state`].
pub struct PersistentState<T> {
    value: UseStateHandle<Rc<T>>,
    loaded: UseStateHandle<bool>,
    status: UseStateHandle<SaveStatus>,
    set: Callback<T>,
}

impl<T> PersistentState<T> {
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Replaces the value and stores it.
    pub fn set(&self, value: T) {
        self.set.emit(value);
    }

    /// [`Self::set`] as a callback, for event handlers.
    pub fn setter(&self) -> Callback<T> {
        self.set.clone()
    }

    /// False until the stored value (if any) has been read.
    pub fn is_loaded(&self) -> bool {
        *self.loaded
    }

    pub fn status(&self) -> &SaveStatus {
        &self.status
    }
}

/// State of type `T` kept in the record `collection`/`id`: read from the store when the
/// component mounts (`default` until then, and when nothing is stored), and written to
/// the store on every [`PersistentState::set`].
#[hook]
pub fn use_persistent_state<T>(collection: &'static str, id: &str, default: T) -> PersistentState<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    let store = use_store();
    let key = RecordKey::new(collection, id);
    let value = use_state(|| Rc::new(default));
    let loaded = use_state(|| false);
    let status = use_state(|| SaveStatus::Idle);

    {
        let (store, value, loaded, status) = (
            store.clone(),
            value.setter(),
            loaded.setter(),
            status.setter(),
        );
        use_effect_with(key.clone(), move |key| {
            let key = key.clone();
            spawn_local(async move {
                match store.get(&key).await {
                    Ok(Some(record)) => match serde_json::from_value::<T>(record.value) {
                        Ok(stored) => value.set(Rc::new(stored)),
                        Err(e) => status.set(SaveStatus::Error(format!(
                            "the stored value could not be read ({e})"
                        ))),
                    },
                    Ok(None) => {}
                    Err(e) => status.set(SaveStatus::Error(e.to_string())),
                }
                loaded.set(true);
            });
        });
    }

    let set = {
        let (value, status) = (value.setter(), status.setter());
        Callback::from(move |new: T| {
            let json = serde_json::to_value(&new);
            value.set(Rc::new(new));
            let json = match json {
                Ok(json) => json,
                Err(e) => return status.set(SaveStatus::Error(e.to_string())),
            };
            status.set(SaveStatus::Saving);
            let (store, key, status) = (store.clone(), key.clone(), status.clone());
            spawn_local(async move {
                match store.write(key, json).await {
                    Ok(_) => status.set(SaveStatus::Saved),
                    Err(e) => status.set(SaveStatus::Error(e.to_string())),
                }
            });
        })
    };

    PersistentState {
        value,
        loaded,
        status,
        set,
    }
}
