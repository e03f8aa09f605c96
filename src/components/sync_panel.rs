use yew::prelude::*;

use crate::components::{AccountForm, ConflictLog, SessionList, SetAsideList};
use crate::format::{pending_text, time_of};
use crate::hooks::use_sync;

/// The sync section of Settings: the account, sync status, "Sync now", and the conflict log.
#[function_component]
pub fn SyncPanel() -> Html {
    let sync = use_sync();
    let view = &sync.view;
    let status = &view.status;
    let Some(account) = status.account.clone() else {
        return html! {
            <section aria-labelledby="sync-title">
                <h2 id="sync-title">{ "Sync" }</h2>
                <AccountForm />
                <p id="sync-pending">{ pending_text(status.pending, status.set_aside) }</p>
                <SetAsideList />
                <ConflictLog />
            </section>
        };
    };
    let sync_now = {
        let c = sync.controller.clone();
        Callback::from(move |_| c.sync_now())
    };
    let sign_out = {
        let c = sync.controller.clone();
        Callback::from(move |_| c.sign_out())
    };
    let last = match status.last_success_ms {
        Some(ms) => format!("Last synced {}", time_of(ms)),
        None => "Not synced yet".to_owned(),
    };
    html! {
        <section aria-labelledby="sync-title">
            <h2 id="sync-title">{ "Sync" }</h2>
            <p>{ "Signed in as " }<strong id="sync-account">{ account }</strong></p>
            <ul class="sync-status" aria-live="polite">
                <li id="sync-online">{ if status.online { "Online" } else { "Offline: changes wait on this device" } }</li>
                <li id="sync-pending">{ pending_text(status.pending, status.set_aside) }</li>
                <li id="sync-last" data-last-success={status.last_success_ms.map(|ms| ms.to_string())}>{ if view.syncing { "Syncing…".to_owned() } else { last } }</li>
                if view.live {
                    <li id="sync-live">{ "Live: changes made on other devices show here as they are made" }</li>
                }
                if let Some(progress) = view.progress.filter(|p| p.total > p.pulled) {
                    <li id="sync-progress">
                        <label for="sync-progress-bar">{ format!("Receiving {} of {} changes", grouped(progress.pulled), grouped(progress.total)) }</label>
                        { " " }
                        <progress id="sync-progress-bar" max={progress.total.to_string()} value={progress.pulled.to_string()}></progress>
                    </li>
                }
                if let Some(error) = &status.last_error {
                    <li id="sync-error" role="alert" class="error">{ format!("Last sync failed: {error}") }</li>
                }
            </ul>
            <div class="actions">
                <button id="sync-now" onclick={sync_now} disabled={view.syncing}>{ "Sync now" }</button>
                <button id="sign-out" onclick={sign_out}>{ "Sign out" }</button>
            </div>
            <SessionList />
            <SetAsideList />
            <ConflictLog />
        </section>
    }
}

/// `n` with thousands separated: "12,000".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
