use std::rc::Rc;

use serde_json::Value;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::hooks::Progress;
use crate::pages::assessment::questions::{validate, Kind, QUESTIONS};

#[derive(Properties)]
pub struct AssessmentQuestionProps {
    pub assessment: Rc<Progress>,
    /// The question's place in [`QUESTIONS`].
    pub index: usize,
}

impl PartialEq for AssessmentQuestionProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.assessment, &other.assessment) && self.index == other.index
    }
}

/// One question of the data-safety check: its input by kind, Back and Next (which
/// checks the answer first). Each answer is saved as it is given.
#[function_component]
pub fn AssessmentQuestion(props: &AssessmentQuestionProps) -> Html {
    let question = &QUESTIONS[props.index];
    let assessment = props.assessment.clone();
    let answer = assessment.answer_to(question.id).cloned();
    let set = {
        let assessment = assessment.clone();
        Callback::from(move |value: Value| assessment.answer(question.id, value))
    };
    let problem = use_state(|| None::<String>);
    let next = {
        let (assessment, answer, problem) = (assessment.clone(), answer.clone(), problem.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match validate(&question.kind, answer.as_ref()) {
                Ok(()) => {
                    problem.set(None);
                    assessment.complete(question.id);
                }
                Err(reason) => problem.set(Some(reason)),
            }
        })
    };
    let back = (props.index > 0).then(|| {
        let (assessment, previous) = (assessment.clone(), QUESTIONS[props.index - 1].id);
        Callback::from(move |_: MouseEvent| assessment.reopen(previous))
    });
    let name = format!("q-{}", question.id);
    let radio = |value: Value, label: &str| {
        let checked = answer.as_ref() == Some(&value);
        let id = format!("{name}-{}", value.to_string().trim_matches('"'));
        let onchange = {
            let (set, value) = (set.clone(), value.clone());
            Callback::from(move |_| set.emit(value.clone()))
        };
        html! {
            <label for={id.clone()} class="choice">
                <input type="radio" {id} name={name.clone()} {checked} {onchange} />{ label.to_owned() }
            </label>
        }
    };
    let input = match &question.kind {
        Kind::Choice(options) => html! {
            <>{ for options.iter().map(|(value, label)| radio(Value::from(*value), label)) }</>
        },
        Kind::YesNo => {
            html! { <>{ radio(Value::Bool(true), "Yes") }{ radio(Value::Bool(false), "No") }</> }
        }
        Kind::Scale { low, high } => html! {
            <>
                <span class="hint">{ format!("1 = {low}, 5 = {high}") }</span>
                <div class="scale">{ for (1..=5).map(|n| radio(Value::from(n), &n.to_string())) }</div>
            </>
        },
        Kind::Number { max } => {
            let oninput = {
                let set = set.clone();
                Callback::from(move |e: InputEvent| {
                    let text = e.target_unchecked_into::<HtmlInputElement>().value();
                    set.emit(
                        text.trim()
                            .parse::<u64>()
                            .map_or(Value::from(text), Value::from),
                    );
                })
            };
            let value = answer
                .as_ref()
                .map(|v| v.to_string().trim_matches('"').to_owned())
                .unwrap_or_default();
            html! {
                <input type="number" id={name.clone()} aria-labelledby="question" min="0" max={max.to_string()}
                    inputmode="numeric" {value} {oninput} />
            }
        }
        Kind::Text => {
            let oninput = {
                let set = set.clone();
                Callback::from(move |e: InputEvent| {
                    set.emit(Value::from(
                        e.target_unchecked_into::<HtmlTextAreaElement>().value(),
                    ))
                })
            };
            let value = answer
                .as_ref()
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            html! { <textarea id={name.clone()} aria-labelledby="question" rows="3" {value} {oninput} /> }
        }
    };
    let last = props.index + 1 == QUESTIONS.len();
    html! {
        <form onsubmit={next} class="question">
            <fieldset>
                <legend id="question">{ question.text }</legend>
                { input }
            </fieldset>
            if let Some(problem) = &*problem {
                <p role="alert" class="error">{ problem }</p>
            }
            <div class="actions">
                if let Some(back) = back {
                    <button type="button" class="secondary" onclick={back}>{ "Back" }</button>
                }
                <button type="submit">{ if last { "See my results" } else { "Next" } }</button>
            </div>
        </form>
    }
}
