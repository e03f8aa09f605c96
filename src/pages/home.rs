use stylist::yew::styled_component;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{DashboardCard, SaveStatusBadge, SyncBadge};
use crate::hooks::{use_assessment, use_onboarding, use_persistent_state, NOTES};
use crate::routes::Route;

/// Home: the dashboard. Cards that expand and collapse, a Customize mode to choose which
/// are shown (both remembered), the sync status, and a prompt to finish onboarding.
#[styled_component]
pub fn Home() -> Html {
    let customizing = use_state(|| false);
    let onboarding = use_onboarding();
    let class = css!(
        r#"
        .toolbar { display: flex; justify-content: space-between; align-items: center; gap: 1rem; flex-wrap: wrap; }
        .card { border: 1px solid var(--border); border-radius: 6px; padding: 0.75rem 1rem; margin: 1rem 0; background: var(--surface); }
        .card header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
        .card h2 { margin: 0; }
        .card-hidden { opacity: 0.6; border-style: dashed; }
        .prompt { border-left: 4px solid var(--accent); padding: 0.5rem 0.75rem; background: var(--surface); }
        textarea { width: 100%; min-height: 8rem; padding: 0.5rem; }
        .save-status { display: block; min-height: 1.5em; color: var(--muted); }
        "#
    );
    let toggle_customize = {
        let customizing = customizing.clone();
        Callback::from(move |_| customizing.set(!*customizing))
    };
    let prompt = onboarding.current_step().map(|step| {
        let steps = onboarding.steps();
        let position = steps.iter().position(|s| *s == step).unwrap_or(0) + 1;
        html! {
            <p class="prompt" id="onboarding-prompt">
                { format!("Finish setting up Cairn (step {position} of {}). ", steps.len()) }
                <Link<Route> to={Route::Onboarding}>{ "Continue setup" }</Link<Route>>
            </p>
        }
    });
    let customizing = *customizing;
    html! {
        <div {class}>
            <div class="toolbar">
                <h1>{ "Home" }</h1>
                <button id="customize" aria-pressed={customizing.to_string()} onclick={toggle_customize}>
                    { if customizing { "Done" } else { "Customize" } }
                </button>
            </div>
            <SyncBadge />
            { prompt.unwrap_or_default() }
            if customizing {
                <p class="hint" id="customize-help">{ "Choose which cards Home shows. Hidden cards are kept, just not shown." }</p>
            }
            <DashboardCard id="quick-note" state_key="quick-note" title="Quick note" {customizing}>
                <QuickNote />
            </DashboardCard>
            <DashboardCard id="getting-started" state_key="getting-started" title="Getting started" {customizing}>
                <ul>
                    <li><Link<Route> to={Route::Onboarding}>{ "Set up Cairn" }</Link<Route>></li>
                    <li><Link<Route> to={Route::Notes}>{ "Write a note" }</Link<Route>></li>
                    <li><Link<Route> to={Route::Assessment}>{ "Check how safe your data is" }</Link<Route>></li>
                    <li><Link<Route> to={Route::Waiver}>{ "Give your consent for data processing" }</Link<Route>></li>
                </ul>
            </DashboardCard>
            <DashboardCard id="safety-check" state_key="safety-check" title="Data-safety check" {customizing}>
                <SafetyCheckSummary />
            </DashboardCard>
            <DashboardCard id="how-it-works" state_key="how-cairn-keeps-data" title="How Cairn keeps your data" default_open={false} {customizing}>
                <p>{ "Everything you type is saved in this browser's database a moment after you stop typing, and at once when you press Ctrl+S (⌘S) or leave the page." }</p>
                <p>{ "It stays here across reloads and without a network connection. Each change is also queued, so it can be synced to your other devices once you sign in." }</p>
            </DashboardCard>
        </div>
    }
}

/// A note to self, kept on this device as it is typed.
#[function_component]
fn QuickNote() -> Html {
    let note = use_persistent_state(NOTES, "scratchpad", String::new());
    let oninput = {
        let set = note.setter();
        Callback::from(move |e: InputEvent| {
            set.emit(e.target_unchecked_into::<HtmlTextAreaElement>().value())
        })
    };
    html! {
        <>
            <label for="scratchpad">{ "Note" }</label>
            <textarea
                id="scratchpad"
                value={note.value().clone()}
                disabled={!note.is_loaded()}
                placeholder="Type anything; it stays on this device, even offline."
                {oninput}
            />
            <SaveStatusBadge status={note.status().clone()} dirty={note.is_dirty()} />
        </>
    }
}

/// Where the user is in the data-safety check.
#[function_component]
fn SafetyCheckSummary() -> Html {
    let assessment = use_assessment();
    let answered = assessment
        .completed_steps()
        .len()
        .min(assessment.steps().len());
    let total = assessment.steps().len();
    let text = if assessment.is_complete() {
        "Done. See your advice.".to_owned()
    } else if answered == 0 {
        format!("{total} short questions about keeping your data safe.")
    } else {
        format!("{answered} of {total} questions answered.")
    };
    html! {
        <p>{ text }{ " " }<Link<Route> to={Route::Assessment}>{ if assessment.is_complete() { "Open" } else { "Go to the check" } }</Link<Route>></p>
    }
}
