use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{AppearanceForm, ProgressBar};
use crate::hooks::{use_onboarding, use_waiver, Progress};
use crate::pages::waiver::{SignForm, DATA_CONSENT, DATA_CONSENT_TEXT};
use crate::routes::Route;

/// The title of each onboarding step, in the order of `ONBOARDING_STEPS`.
fn title(step: &str) -> &'static str {
    match step {
        "welcome" => "Welcome to Cairn",
        "profile" => "What should Cairn call you?",
        "preferences" => "Make it comfortable",
        _ => "Your consent",
    }
}

/// Onboarding: welcome, profile name, preferences, the consent waiver, done. Every answer
/// is stored as it is given, so leaving and coming back resumes at the same step with the
/// same answers.
#[function_component]
pub fn Onboarding() -> Html {
    // One handle owns the progress record; steps get callbacks, so no two writers race.
    let onboarding = Rc::new(use_onboarding());
    let steps = onboarding.steps();
    let completed = steps
        .iter()
        .filter(|s| onboarding.completed_steps().iter().any(|c| c == *s))
        .count();
    let Some(step) = onboarding.current_step() else {
        return html! { <Finished onboarding={onboarding.clone()} /> };
    };
    let position = steps.iter().position(|s| *s == step).unwrap_or(0);
    let next = {
        let onboarding = onboarding.clone();
        Callback::from(move |_: MouseEvent| onboarding.complete(step))
    };
    let back = (position > 0).then(|| {
        let (onboarding, previous) = (onboarding.clone(), steps[position - 1]);
        Callback::from(move |_: MouseEvent| onboarding.reopen(previous))
    });
    let content = match step {
        "welcome" => html! {
            <>
                <p>{ "Cairn keeps your notes and settings on this device as you type them, so nothing is lost when the network drops or the page closes. Sign in later to sync them to your other devices." }</p>
                <div class="actions"><button onclick={next}>{ "Get started" }</button></div>
            </>
        },
        "profile" => {
            let name = onboarding
                .answer_to("name")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            let on_name = {
                let onboarding = onboarding.clone();
                Callback::from(move |value: String| onboarding.answer("name", value.into()))
            };
            html! { <ProfileStep {name} {on_name} {next} /> }
        }
        "preferences" => html! {
            <>
                <p>{ "Pick how Cairn looks. You can change this any time in Settings." }</p>
                <AppearanceForm />
                <div class="actions"><button onclick={next}>{ "Continue" }</button></div>
            </>
        },
        _ => html! { <WaiverStep {next} /> },
    };
    html! {
        <section aria-labelledby="onboarding-title">
            <ProgressBar id="onboarding-progress" label={format!("Step {} of {}", position + 1, steps.len())}
                value={completed as u32} max={steps.len() as u32} />
            <h1 id="onboarding-title">{ title(step) }</h1>
            { content }
            if let Some(back) = back {
                <div class="actions"><button class="secondary" onclick={back}>{ "Back" }</button></div>
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ProfileStepProps {
    name: String,
    on_name: Callback<String>,
    next: Callback<MouseEvent>,
}

#[function_component]
fn ProfileStep(props: &ProfileStepProps) -> Html {
    let oninput = props
        .on_name
        .reform(|e: InputEvent| e.target_unchecked_into::<HtmlInputElement>().value());
    html! {
        <>
            <label for="profile-name">{ "Your name" }</label>{ " " }
            <input id="profile-name" value={props.name.clone()} {oninput} autocomplete="given-name" />
            <div class="actions"><button onclick={props.next.clone()}>{ "Continue" }</button></div>
        </>
    }
}

#[derive(Properties, PartialEq)]
struct WaiverStepProps {
    next: Callback<MouseEvent>,
}

#[function_component]
fn WaiverStep(props: &WaiverStepProps) -> Html {
    let waiver = Rc::new(use_waiver(DATA_CONSENT));
    html! {
        <>
            <blockquote>{ DATA_CONSENT_TEXT }</blockquote>
            if waiver.is_valid() {
                <p id="consent-state">{ "Signed. Thank you." }</p>
                <div class="actions"><button onclick={props.next.clone()}>{ "Finish" }</button></div>
            } else {
                <SignForm waiver={waiver.clone()} />
                <div class="actions">
                    <button class="secondary" onclick={props.next.clone()}>{ "Skip for now" }</button>
                </div>
            }
        </>
    }
}

#[derive(Properties)]
struct FinishedProps {
    onboarding: Rc<Progress>,
}

impl PartialEq for FinishedProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.onboarding, &other.onboarding)
    }
}

#[function_component]
fn Finished(props: &FinishedProps) -> Html {
    let name = props
        .onboarding
        .answer_to("name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let restart = {
        let onboarding = props.onboarding.clone();
        Callback::from(move |_| onboarding.reset())
    };
    let greeting = if name.is_empty() {
        "You're all set.".to_owned()
    } else {
        format!("You're all set, {name}.")
    };
    let steps = props.onboarding.steps().len() as u32;
    html! {
        <section aria-labelledby="onboarding-title">
            <ProgressBar id="onboarding-progress" label="Done" value={steps} max={steps} />
            <h1 id="onboarding-title">{ greeting }</h1>
            <p>{ "Cairn works offline once loaded. Install it from your browser's menu to keep it on your home screen." }</p>
            <div class="actions">
                <Link<Route> to={Route::Home}>{ "Go to Home" }</Link<Route>>
                <button class="secondary" onclick={restart}>{ "Start onboarding again" }</button>
            </div>
        </section>
    }
}
