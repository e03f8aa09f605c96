use yew::prelude::*;

use crate::format::time_of;
use crate::hooks::use_sync;

/// The account's signed-in sessions (this device first marked), with "Sign out
/// everywhere else" for a lost phone or a borrowed computer.
#[function_component]
pub fn SessionList() -> Html {
    let sync = use_sync();
    {
        let controller = sync.controller.clone();
        use_effect_with((), move |_| controller.load_sessions());
    }
    let end_others = {
        let controller = sync.controller.clone();
        Callback::from(move |_| controller.end_other_sessions())
    };
    let body = match &sync.view.sessions {
        None => html! { <p>{ "Loading the signed-in devices…" }</p> },
        Some(Err(error)) => html! { <p class="error" role="alert">{ error }</p> },
        Some(Ok(sessions)) => {
            let others = sessions.iter().filter(|s| !s.current).count();
            let rows = sessions.iter().map(|s| {
                let device = s.device.clone().unwrap_or_else(|| "Unknown device".to_owned());
                html! {
                    <li key={s.id.clone()} class={classes!("session", s.current.then_some("current"))}>
                        <strong>{ if s.current { "This device" } else { "Another device" } }</strong>
                        { format!(" — last used {}", time_of(s.last_used_at)) }
                        <br />
                        <span class="session-device">{ device }</span>
                    </li>
                }
            });
            html! {
                <>
                    <ul id="session-list">{ for rows }</ul>
                    <button id="end-other-sessions" onclick={end_others} disabled={others == 0}>
                        { "Sign out everywhere else" }
                    </button>
                </>
            }
        }
    };
    html! {
        <section aria-labelledby="sessions-title">
            <h3 id="sessions-title">{ "Signed-in devices" }</h3>
            { body }
        </section>
    }
}
