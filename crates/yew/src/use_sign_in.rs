//! The state of a sign-in form: signing in or creating the account, and the question
//! asked when this device's data belongs to another account.

use std::rc::Rc;

use cairn_client::AccountSwitch;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::use_sync::{use_sync, SignInProblem};

/// A sign-in waiting for the user's answer: this device's data belongs to another
/// account than the one signed in to ([`SignIn::answer`] goes on, [`SignIn::cancel`]
/// drops it).
#[derive(Clone, PartialEq)]
pub struct PendingSwitch {
    data_of: String,
    email: String,
    password: String,
    new_account: bool,
}

impl PendingSwitch {
    /// The account this device's data belongs to now.
    pub fn data_of(&self) -> &str {
        &self.data_of
    }

    /// The account being signed in to.
    pub fn email(&self) -> &str {
        &self.email
    }
}

/// What [`use_sign_in`] returns: whether a sign-in is running, its error, the question
/// waiting for an answer, and the actions.
#[derive(Clone)]
pub struct SignIn {
    busy: UseStateHandle<bool>,
    error: UseStateHandle<Option<String>>,
    pending: UseStateHandle<Option<PendingSwitch>>,
    run: Rc<dyn Fn(PendingSwitch, Option<AccountSwitch>)>,
}

impl PartialEq for SignIn {
    fn eq(&self, other: &Self) -> bool {
        *self.busy == *other.busy && *self.error == *other.error && *self.pending == *other.pending
    }
}

impl SignIn {
    /// Whether a sign-in is running (disable the form's buttons meanwhile).
    pub fn is_busy(&self) -> bool {
        *self.busy
    }

    /// Why the last sign-in failed, as a sentence for the user.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The question to ask before the sign-in can go on, if any.
    pub fn pending_switch(&self) -> Option<&PendingSwitch> {
        self.pending.as_ref()
    }

    /// Signs in to `email` (or creates that account, when `new_account`). If this
    /// device's data belongs to another account, nothing changes yet:
    /// [`SignIn::pending_switch`] then holds the question.
    pub fn sign_in(&self, email: String, password: String, new_account: bool) {
        let attempt = PendingSwitch {
            data_of: String::new(),
            email,
            password,
            new_account,
        };
        (self.run)(attempt, None);
    }

    /// Goes on with the pending sign-in, doing `choice` with this device's data.
    pub fn answer(&self, choice: AccountSwitch) {
        if let Some(pending) = (*self.pending).clone() {
            (self.run)(pending, Some(choice));
        }
    }

    /// Drops the pending sign-in; nothing changes.
    pub fn cancel(&self) {
        self.pending.set(None);
    }
}

/// The state of a sign-in form, inside a [`SyncProvider`](crate::SyncProvider): call
/// [`SignIn::sign_in`] on submit, show [`SignIn::error`], and when
/// [`SignIn::pending_switch`] is set ask whether to keep this device's data in the
/// account signed in to ([`AccountSwitch::KeepData`]) or start it empty
/// ([`AccountSwitch::StartEmpty`], the data kept in a local snapshot).
///
/// ```no_run
/// use cairn_yew::{use_sign_in, AccountSwitch};
/// use yew::prelude::*;
///
/// #[function_component]
/// fn SignInButton() -> Html {
///     let sign_in = use_sign_in();
///     let onclick = {
///         let sign_in = sign_in.clone();
///         Callback::from(move |_| sign_in.sign_in("ada@example.com".into(), "correct horse".into(), false))
///     };
///     let keep = {
///         let sign_in = sign_in.clone();
///         Callback::from(move |_| sign_in.answer(AccountSwitch::KeepData))
///     };
///     html! {
///         <>
///             <button {onclick} disabled={sign_in.is_busy()}>{ "Sign in" }</button>
///             if let Some(error) = sign_in.error() { <p role="alert">{ error }</p> }
///             if let Some(switch) = sign_in.pending_switch() {
///                 <button onclick={keep}>{ format!("Keep this device's data in {}", switch.email()) }</button>
///             }
///         </>
///     }
/// }
/// ```
#[hook]
pub fn use_sign_in() -> SignIn {
    let controller = use_sync().controller;
    let busy = use_state(|| false);
    let error = use_state(|| None::<String>);
    let pending = use_state(|| None::<PendingSwitch>);
    let run = {
        let (busy, error, pending) = (busy.clone(), error.clone(), pending.clone());
        Rc::new(
            move |attempt: PendingSwitch, choice: Option<AccountSwitch>| {
                let (busy, error, pending, controller) = (
                    busy.clone(),
                    error.clone(),
                    pending.clone(),
                    controller.clone(),
                );
                busy.set(true);
                spawn_local(async move {
                    let result = controller
                        .sign_in(
                            &attempt.email,
                            &attempt.password,
                            attempt.new_account,
                            choice,
                        )
                        .await;
                    busy.set(false);
                    match result {
                        Ok(()) => {
                            error.set(None);
                            pending.set(None);
                        }
                        Err(SignInProblem::DataOfAnotherAccount { account }) => {
                            error.set(None);
                            pending.set(Some(PendingSwitch {
                                data_of: account,
                                ..attempt
                            }));
                        }
                        Err(SignInProblem::Failed(message)) => {
                            pending.set(None);
                            error.set(Some(message));
                        }
                    }
                });
            },
        )
    };
    SignIn {
        busy,
        error,
        pending,
        run,
    }
}
