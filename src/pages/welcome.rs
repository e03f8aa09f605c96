use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::hooks::use_onboarding;
use crate::routes::Route;

/// The onboarding tour. Reopening it resumes at the first step not completed.
#[function_component]
pub fn Welcome() -> Html {
    // One handle owns the progress record; the steps get callbacks, so no two writers race.
    let onboarding = Rc::new(use_onboarding());
    let name = onboarding
        .answer_to("name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();

    let Some(step) = onboarding.current_step() else {
        let restart = Callback::from(move |_| onboarding.reset());
        let greeting = if name.is_empty() {
            "You're all set.".to_owned()
        } else {
            format!("You're all set, {name}.")
        };
        return html! {
            <section>
                <h1>{ greeting }</h1>
                <p><Link<Route> to={Route::Home}>{ "Start writing" }</Link<Route>></p>
                <button onclick={restart}>{ "Take the tour again" }</button>
            </section>
        };
    };
    let steps = onboarding.steps();
    let position = steps.iter().position(|s| *s == step).unwrap_or(0) + 1;
    let next = {
        let onboarding = onboarding.clone();
        Callback::from(move |_: MouseEvent| onboarding.complete(step))
    };
    let content = match step {
        "welcome" => html! {
            <>
                <h1>{ "Welcome to Cairn" }</h1>
                <p>{ "Cairn keeps your notes on this device as you type them, so nothing is lost when the network drops or the page closes." }</p>
                <button onclick={next}>{ "Next" }</button>
            </>
        },
        "name" => {
            let on_name =
                Callback::from(move |value: String| onboarding.answer("name", value.into()));
            html! { <NameStep {name} {on_name} {next} /> }
        }
        _ => html! {
            <>
                <h1>{ "Works offline" }</h1>
                <p>{ "Once loaded, Cairn opens without a connection. Install it from your browser's menu to keep it on your home screen." }</p>
                <button onclick={next}>{ "Finish" }</button>
            </>
        },
    };
    html! {
        <section>
            <p id="tour-step">{ format!("Step {position} of {}", steps.len()) }</p>
            { content }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct NameStepProps {
    name: String,
    on_name: Callback<String>,
    next: Callback<MouseEvent>,
}

#[function_component]
fn NameStep(props: &NameStepProps) -> Html {
    let oninput = props
        .on_name
        .reform(|e: InputEvent| e.target_unchecked_into::<HtmlInputElement>().value());
    html! {
        <>
            <h1>{ "What should Cairn call you?" }</h1>
            <label for="tour-name">{ "Your name" }</label>{ " " }
            <input id="tour-name" value={props.name.clone()} {oninput} autocomplete="given-name" />{ " " }
            <button onclick={props.next.clone()}>{ "Continue" }</button>
        </>
    }
}
