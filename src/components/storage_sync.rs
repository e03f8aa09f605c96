use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{ConflictLog, SetAsideList};
use crate::format::{pending_text, time_of};
use crate::hooks::use_sync;
use crate::routes::Route;

/// Sync as the Storage page shows it: online or not, changes waiting, the last sync and
/// its error, "Sync now", and the conflict log. The account itself is on Settings.
#[function_component]
pub fn StorageSync() -> Html {
    let sync = use_sync();
    let (view, status) = (&sync.view, &sync.view.status);
    let sync_now = {
        let c = sync.controller.clone();
        Callback::from(move |_| c.sync_now())
    };
    let pending = pending_text(status.pending, status.set_aside);
    let last = if view.syncing {
        "Syncing…".to_owned()
    } else {
        match status.last_success_ms {
            Some(ms) => format!("Last synced {}", time_of(ms)),
            None => "Not synced yet".to_owned(),
        }
    };
    html! {
        <section aria-labelledby="storage-sync-title" class="storage-section">
            <h2 id="storage-sync-title">{ "Sync" }</h2>
            <ul class="sync-status" aria-live="polite">
                <li id="storage-sync-online">{ if status.online { "Online" } else { "Offline: changes wait on this device" } }</li>
                <li id="storage-sync-pending">{ pending }</li>
                <li id="storage-sync-last" data-last-success={status.last_success_ms.map(|ms| ms.to_string())}>{ last }</li>
                if let Some(error) = &status.last_error {
                    <li id="storage-sync-error" role="alert" class="error">{ format!("Last sync failed: {error}") }</li>
                }
            </ul>
            if let Some(account) = &status.account {
                <p>{ "Signed in as " }<strong>{ account }</strong></p>
                <button id="storage-sync-now" onclick={sync_now} disabled={view.syncing}>{ "Sync now" }</button>
            } else {
                <p>{ "Not signed in: data stays on this device. " }<Link<Route> to={Route::Settings}>{ "Sign in on Settings" }</Link<Route>>{ " to sync it." }</p>
            }
            <SetAsideList />
            <ConflictLog />
        </section>
    }
}
