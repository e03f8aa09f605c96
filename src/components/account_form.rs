use web_sys::HtmlInputElement;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::hooks::use_sync;

/// Sign in to sync, or create an account: one form, two buttons.
#[function_component]
pub fn AccountForm() -> Html {
    let sync = use_sync();
    let email = use_node_ref();
    let password = use_node_ref();
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);

    let submit = |new_account: bool| {
        let (email, password) = (email.clone(), password.clone());
        let (error, busy, controller) = (error.clone(), busy.clone(), sync.controller.clone());
        move |e: SubmitEvent| {
            e.prevent_default();
            let value = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            let (email, password) = (value(&email), value(&password));
            let (error, busy, controller) = (error.clone(), busy.clone(), controller.clone());
            busy.set(true);
            spawn_local(async move {
                let result = controller.sign_in(&email, &password, new_account).await;
                busy.set(false);
                error.set(result.err());
            });
        }
    };
    // Which button submitted the form decides between signing in and registering.
    let onsubmit = {
        let (sign_in, sign_up) = (submit(false), submit(true));
        Callback::from(move |e: SubmitEvent| {
            let new_account = e.submitter().is_some_and(|b| b.id() == "sign-up");
            if new_account {
                sign_up(e)
            } else {
                sign_in(e)
            }
        })
    };
    html! {
        <form {onsubmit} class="account-form" aria-describedby="account-help">
            <p id="account-help">{ "Sign in to keep your data in sync across your devices. Everything stays on this device too." }</p>
            <label for="sync-email">{ "E-mail" }</label>
            <input id="sync-email" ref={email} type="email" autocomplete="username" required=true />
            <label for="sync-password">{ "Password" }</label>
            <input id="sync-password" ref={password} type="password" autocomplete="current-password" minlength="8" required=true />
            <div class="actions">
                <button id="sign-in" type="submit" disabled={*busy}>{ "Sign in" }</button>
                <button id="sign-up" type="submit" disabled={*busy}>{ "Create account" }</button>
            </div>
            if let Some(error) = &*error {
                <p id="account-error" role="alert" class="error">{ error }</p>
            }
        </form>
    }
}
