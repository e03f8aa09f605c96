use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::{use_sign_in, AccountSwitch};

/// Sign in to sync, or create an account: one form, two buttons. Signing in to another
/// account than the one this device's data belongs to asks first what to do with it.
#[function_component]
pub fn AccountForm() -> Html {
    let sign_in = use_sign_in();
    let email = use_node_ref();
    let password = use_node_ref();
    // Which button submitted the form decides between signing in and registering.
    let onsubmit = {
        let (email, password, sign_in) = (email.clone(), password.clone(), sign_in.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let new_account = e.submitter().is_some_and(|b| b.id() == "sign-up");
            let value = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            sign_in.sign_in(value(&email), value(&password), new_account);
        })
    };
    let answer = |choice: Option<AccountSwitch>| {
        let sign_in = sign_in.clone();
        Callback::from(move |_: MouseEvent| match choice {
            Some(choice) => sign_in.answer(choice),
            None => sign_in.cancel(),
        })
    };
    let busy = sign_in.is_busy();
    html! {
        <form {onsubmit} class="account-form" aria-describedby="account-help">
            <p id="account-help">{ "Sign in to keep your data in sync across your devices. Everything stays on this device too." }</p>
            <label for="sync-email">{ "E-mail" }</label>
            <input id="sync-email" ref={email} type="email" autocomplete="username" required=true />
            <label for="sync-password">{ "Password" }</label>
            <input id="sync-password" ref={password} type="password" autocomplete="current-password" minlength="8" required=true />
            <div class="actions">
                <button id="sign-in" type="submit" disabled={busy}>{ "Sign in" }</button>
                <button id="sign-up" type="submit" disabled={busy}>{ "Create account" }</button>
            </div>
            if let Some(pending) = sign_in.pending_switch() {
                <div id="account-switch" role="alertdialog" aria-labelledby="account-switch-title" class="account-switch">
                    <p id="account-switch-title">
                        { format!("The data on this device belongs to {}. What should happen to it in {}?", pending.data_of(), pending.email()) }
                    </p>
                    <div class="actions">
                        <button id="switch-keep" type="button" disabled={busy} onclick={answer(Some(AccountSwitch::KeepData))}>
                            { format!("Keep it, and sync it to {}", pending.email()) }
                        </button>
                        <button id="switch-start-empty" type="button" disabled={busy} onclick={answer(Some(AccountSwitch::StartEmpty))}>
                            { format!("Start {} empty (this data is kept in a snapshot on the Storage page)", pending.email()) }
                        </button>
                        <button id="switch-cancel" type="button" disabled={busy} onclick={answer(None)}>{ "Cancel" }</button>
                    </div>
                </div>
            }
            if let Some(error) = sign_in.error() {
                <p id="account-error" role="alert" class="error">{ error }</p>
            }
        </form>
    }
}
