use cairn_yew::PersistenceProvider;
use yew::prelude::*;

use crate::hooks::config::{hydrated_collections, merge_rules, APP_VERSION, DATABASE};

#[derive(Properties, PartialEq)]
pub struct PersistenceRootProps {
    pub children: Html,
}

/// The app's [`PersistenceProvider`]: its database, hydrated collections, merge rules
/// and version.
#[function_component]
pub fn PersistenceRoot(props: &PersistenceRootProps) -> Html {
    let hydrate = use_memo((), |_| hydrated_collections());
    let merge_rules = use_memo((), |_| merge_rules());
    let blocked = html! {
        <p role="alert" aria-busy="true">
            { "Cairn is open in another tab with an older version. Close that tab (or reload it) to continue." }
        </p>
    };
    html! {
        <PersistenceProvider
            database={DATABASE}
            hydrate={(*hydrate).clone()}
            merge_rules={(*merge_rules).clone()}
            app_version={APP_VERSION}
            {blocked}
        >
            { props.children.clone() }
        </PersistenceProvider>
    }
}
