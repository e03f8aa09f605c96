use std::rc::Rc;

use cairn_client::{Durability, Store, StoreError};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::hooks::StoreHandle;

#[derive(Properties, PartialEq)]
pub struct PersistenceProviderProps {
    pub children: Html,
}

/// Opens the local database and renders its children only once it is open, so that
/// nothing below it ever renders without access to stored state. Where IndexedDB cannot
/// be used, the app runs on a memory store under a visible warning.
#[function_component]
pub fn PersistenceProvider(props: &PersistenceProviderProps) -> Html {
    let opened = use_state(|| None::<Result<StoreHandle, StoreError>>);
    {
        let opened = opened.setter();
        use_effect_with((), move |_| {
            spawn_local(async move {
                let result = Store::open_or_memory(Store::APP_DB)
                    .await
                    .map(|store| StoreHandle(Rc::new(store)));
                opened.set(Some(result));
            });
        });
    }
    match &*opened {
        None => html! { <p aria-busy="true">{ "Opening your data…" }</p> },
        Some(Err(err)) => html! {
            <div role="alert">
                <h1>{ "Your data could not be opened" }</h1>
                <p>{ err.to_string() }</p>
            </div>
        },
        Some(Ok(store)) => {
            let warning = match store.durability() {
                Durability::Persistent => html! {},
                Durability::MemoryOnly { reason } => html! {
                    <p role="alert" class="storage-warning">
                        { "Changes will not be kept after you close this page: " }{ reason }
                    </p>
                },
            };
            html! {
                <ContextProvider<StoreHandle> context={store.clone()}>
                    { warning }
                    { props.children.clone() }
                </ContextProvider<StoreHandle>>
            }
        }
    }
}
