//! The account: a sign-up / sign-in form while signed out; who is signed in, how sync
//! stands, and signing out while signed in.

use cairn_yew::{use_sign_in, use_sync, AccountSwitch};
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[function_component]
pub fn AccountPanel() -> Html {
    let sync = use_sync();
    let status = &sync.view.status;
    match &status.account {
        Some(account) => {
            let sign_out = {
                let controller = sync.controller.clone();
                Callback::from(move |_| controller.sign_out())
            };
            let state = if sync.view.syncing {
                "Syncing…".to_owned()
            } else if let Some(error) = &status.last_error {
                format!("Sync failed: {error}")
            } else if status.pending > 0 {
                format!("{} changes waiting to sync", status.pending)
            } else {
                "Everything is synced".to_owned()
            };
            html! {
                <section aria-label="Account" class="account">
                    <p>{ "Signed in as " }<strong>{ account }</strong></p>
                    <p role="status">{ state }</p>
                    <button type="button" onclick={sign_out}>{ "Sign out" }</button>
                </section>
            }
        }
        None => html! { <SignInForm /> },
    }
}

#[function_component]
fn SignInForm() -> Html {
    let sign_in = use_sign_in();
    let email = use_node_ref();
    let password = use_node_ref();
    // The button that submitted the form says whether to create the account.
    let onsubmit = {
        let (email, password, sign_in) = (email.clone(), password.clone(), sign_in.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let new_account = e
                .submitter()
                .is_some_and(|b| b.get_attribute("value").as_deref() == Some("create"));
            let value = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            sign_in.sign_in(value(&email), value(&password), new_account);
        })
    };
    let answer = |choice: AccountSwitch| {
        let sign_in = sign_in.clone();
        Callback::from(move |_| sign_in.answer(choice))
    };
    let busy = sign_in.is_busy();
    html! {
        <section aria-label="Account" class="account">
            <form {onsubmit} aria-describedby="account-help">
                <p id="account-help" class="sr-only">{ "Sign in to sync your conversations between devices." }</p>
                <div class="field">
                    <label for="account-email">{ "Email" }</label>
                    <input id="account-email" ref={email} type="email" autocomplete="username" required=true />
                </div>
                <div class="field">
                    <label for="account-password">{ "Password" }</label>
                    <input id="account-password" ref={password} type="password" autocomplete="current-password" minlength="8" required=true />
                </div>
                <button type="submit" value="sign-in" class="primary" disabled={busy}>{ "Sign in" }</button>
                <button type="submit" value="create" disabled={busy}>{ "Create account" }</button>
            </form>
            if let Some(message) = sign_in.error() {
                <p class="error" role="alert">{ message }</p>
            }
            if let Some(p) = sign_in.pending_switch() {
                <div role="alertdialog" aria-labelledby="switch-question">
                    <p id="switch-question">
                        { format!("The conversations on this device belong to {}. What should happen to them?", p.data_of()) }
                    </p>
                    <button type="button" onclick={answer(AccountSwitch::KeepData)}>
                        { format!("Keep them, in {}", p.email()) }
                    </button>
                    <button type="button" onclick={answer(AccountSwitch::StartEmpty)}>
                        { "Start empty (they are kept in a local snapshot)" }
                    </button>
                </div>
            }
        </section>
    }
}
