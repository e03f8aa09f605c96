use std::rc::Rc;

use serde_json::Value;
use yew::prelude::*;

use crate::components::ProgressBar;
use crate::hooks::Progress;
use crate::pages::assessment::questions::QUESTIONS;
use crate::pages::assessment::scoring::advice;

#[derive(Properties)]
pub struct AssessmentResultsProps {
    pub assessment: Rc<Progress>,
}

impl PartialEq for AssessmentResultsProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.assessment, &other.assessment)
    }
}

/// The data-safety check's results: the advice from the answers, and starting over.
#[function_component]
pub fn AssessmentResults(props: &AssessmentResultsProps) -> Html {
    let a = &props.assessment;
    let text = |q: &str| {
        a.answer_to(q)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let advice = advice(
        &text("devices"),
        a.answer_to("shared_computer")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        &text("backups"),
        a.answer_to("importance")
            .and_then(Value::as_u64)
            .unwrap_or(3),
    );
    let retake = {
        let a = a.clone();
        Callback::from(move |_| a.reset())
    };
    let total = QUESTIONS.len() as u32;
    html! {
        <section aria-labelledby="assessment-title">
            <h1 id="assessment-title">{ "Your data-safety check" }</h1>
            <ProgressBar id="assessment-progress" label="All questions answered" value={total} max={total} />
            <ul id="advice">{ for advice.into_iter().map(|a| html! { <li>{ a }</li> }) }</ul>
            if !text("concerns").trim().is_empty() {
                <p>{ "You said you especially want to keep this safe: " }<q>{ text("concerns") }</q>
                   { ". Consider a backup from the Storage page after changing it." }</p>
            }
            <button onclick={retake}>{ "Take the check again" }</button>
        </section>
    }
}
