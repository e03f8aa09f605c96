use yew::prelude::*;
use yew_router::prelude::*;

use crate::format::time_of;
use crate::hooks::use_sync;
use crate::routes::Route;

/// One line of sync status, linking to where it can be acted on.
#[function_component]
pub fn SyncBadge() -> Html {
    let sync = use_sync();
    let (view, status) = (&sync.view, &sync.view.status);
    let waiting = match status.pending {
        0 => String::new(),
        1 => " · 1 change waiting".to_owned(),
        n => format!(" · {n} changes waiting"),
    };
    let text = if status.account.is_none() {
        "Sync is off: your data is on this device only".to_owned()
    } else if !status.online {
        format!("Offline{waiting}")
    } else if view.syncing {
        "Syncing…".to_owned()
    } else if let Some(error) = &status.last_error {
        format!("Sync failed: {error}")
    } else if let Some(at) = status.last_success_ms {
        format!("Synced {}{waiting}", time_of(at))
    } else {
        format!("Not synced yet{waiting}")
    };
    let conflicts = (!view.conflicts.is_empty())
        .then(|| format!(" · {} conflict(s) to review", view.conflicts.len()));
    html! {
        <p id="sync-badge" class="sync-badge" role="status">
            <Link<Route> to={Route::Settings}>{ text }{ conflicts.unwrap_or_default() }</Link<Route>>
        </p>
    }
}
