//! The data-safety check: its questions ([`questions`]), the advice from the answers
//! ([`scoring`]), and the page; the question and the results are components
//! ([`AssessmentQuestion`], [`AssessmentResults`]).

pub mod questions;
pub mod scoring;

use std::rc::Rc;

use yew::prelude::*;

use crate::components::{AssessmentQuestion, AssessmentResults, ProgressBar};
use crate::hooks::use_assessment;
use questions::QUESTIONS;

/// A short data-safety check: mixed question types, each answer saved as it is given,
/// a progress bar, and advice when done. Leaving and coming back resumes at the same
/// question with the same answers.
#[function_component]
pub fn Assessment() -> Html {
    let assessment = Rc::new(use_assessment());
    let answered = QUESTIONS
        .iter()
        .filter(|q| assessment.completed_steps().iter().any(|c| c == q.id))
        .count() as u32;
    let total = QUESTIONS.len() as u32;
    let Some(step) = assessment.current_step() else {
        return html! { <AssessmentResults assessment={assessment.clone()} /> };
    };
    let index = QUESTIONS.iter().position(|q| q.id == step).unwrap_or(0);
    html! {
        <section aria-labelledby="assessment-title">
            <h1 id="assessment-title">{ "Data-safety check" }</h1>
            <ProgressBar id="assessment-progress" label={format!("Question {} of {}", index + 1, total)} value={answered} max={total} />
            <AssessmentQuestion assessment={assessment.clone()} {index} />
        </section>
    }
}
