use cairn_yew::SyncProvider;
use yew::prelude::*;

use crate::hooks::config::{sync_interval_ms, SYNC_SERVER, SYNC_TAG};
use crate::hooks::{notify_conflicts, use_persistence};

#[derive(Properties, PartialEq)]
pub struct SyncRootProps {
    pub children: Html,
}

/// The app's sync: [`SyncProvider`] against the app's own origin, with the worker's
/// Background Sync tag, notifying the user (when allowed) of changes replaced by newer
/// ones from another device. Must sit inside the persistence provider.
#[function_component]
pub fn SyncRoot(props: &SyncRootProps) -> Html {
    let persistence = use_persistence();
    let interval_ms = *use_state(sync_interval_ms);
    let on_conflicts = Callback::from(move |_| notify_conflicts(&persistence));
    html! {
        <SyncProvider
            server={SYNC_SERVER}
            {interval_ms}
            background_sync_tag={AttrValue::Static(SYNC_TAG)}
            {on_conflicts}
        >
            { props.children.clone() }
        </SyncProvider>
    }
}
