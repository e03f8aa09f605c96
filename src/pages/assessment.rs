use std::rc::Rc;

use serde_json::Value;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::components::ProgressBar;
use crate::hooks::{use_assessment, Progress};

/// How a question is answered.
#[derive(PartialEq)]
enum Kind {
    /// One of several options.
    Choice(&'static [(&'static str, &'static str)]),
    /// Yes or no.
    YesNo,
    /// 1 to 5, from `low` to `high`.
    Scale {
        low: &'static str,
        high: &'static str,
    },
    /// A whole number in `0..=max`.
    Number { max: u32 },
    /// Free text, optional.
    Text,
}

struct Question {
    id: &'static str,
    text: &'static str,
    kind: Kind,
}

/// The questions, in the order of [`crate::hooks::ASSESSMENT_STEPS`].
const QUESTIONS: &[Question] = &[
    Question {
        id: "devices",
        text: "On how many devices do you use Cairn?",
        kind: Kind::Choice(&[("one", "Just this one"), ("several", "Two or more")]),
    },
    Question {
        id: "shared_computer",
        text: "Do other people use this computer or browser?",
        kind: Kind::YesNo,
    },
    Question {
        id: "backups",
        text: "How often do you want to keep a backup copy of your data?",
        kind: Kind::Choice(&[
            ("weekly", "Weekly"),
            ("monthly", "Monthly"),
            ("never", "Never"),
        ]),
    },
    Question {
        id: "importance",
        text: "How much would it hurt to lose what you keep in Cairn?",
        kind: Kind::Scale {
            low: "Not at all",
            high: "A lot",
        },
    },
    Question {
        id: "notes_count",
        text: "About how many notes do you keep?",
        kind: Kind::Number { max: 1_000_000 },
    },
    Question {
        id: "concerns",
        text: "Is there anything you especially want to keep safe? (optional)",
        kind: Kind::Text,
    },
];

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
        return html! { <Results assessment={assessment.clone()} /> };
    };
    let index = QUESTIONS.iter().position(|q| q.id == step).unwrap_or(0);
    html! {
        <section aria-labelledby="assessment-title">
            <h1 id="assessment-title">{ "Data-safety check" }</h1>
            <ProgressBar id="assessment-progress" label={format!("Question {} of {}", index + 1, total)} value={answered} max={total} />
            <QuestionView assessment={assessment.clone()} {index} />
        </section>
    }
}

#[derive(Properties)]
struct QuestionProps {
    assessment: Rc<Progress>,
    index: usize,
}

impl PartialEq for QuestionProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.assessment, &other.assessment) && self.index == other.index
    }
}

#[function_component]
fn QuestionView(props: &QuestionProps) -> Html {
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

/// Whether `answer` answers a question of `kind`.
fn validate(kind: &Kind, answer: Option<&Value>) -> Result<(), String> {
    match (kind, answer) {
        (Kind::Text, _) => Ok(()),
        (Kind::Number { max }, Some(Value::Number(n)))
            if n.as_u64().is_some_and(|n| n <= *max as u64) =>
        {
            Ok(())
        }
        (Kind::Number { max }, _) => Err(format!("Enter a whole number from 0 to {max}.")),
        (_, Some(_)) => Ok(()),
        (_, None) => Err("Choose an answer to continue.".into()),
    }
}

#[derive(Properties)]
struct ResultsProps {
    assessment: Rc<Progress>,
}

impl PartialEq for ResultsProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.assessment, &other.assessment)
    }
}

#[function_component]
fn Results(props: &ResultsProps) -> Html {
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

/// What to do, given the answers.
fn advice(devices: &str, shared: bool, backups: &str, importance: u64) -> Vec<&'static str> {
    let mut advice = Vec::new();
    if devices == "several" {
        advice
            .push("Sign in to sync on each device, so every one of them has your latest changes.");
    } else {
        advice.push("Everything is kept on this device; nothing depends on a network connection.");
    }
    if shared {
        advice.push("This browser is shared: don't keep private notes here, and clear this site's data when you are done.");
    }
    advice.push(match backups {
        "weekly" => {
            "Keep a backup copy every week, so a lost device costs at most a week of notes."
        }
        "monthly" => {
            "Keep a backup copy every month, so a lost device costs at most a month of notes."
        }
        _ => "Without backups, clearing this browser's data deletes notes that were never synced.",
    });
    if importance >= 4 {
        advice.push("Your data matters a lot to you: ask the browser to keep it (Storage page, \"Keep my data\"), and export a backup now and then.");
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn advice_follows_the_answers() {
        let shared = advice("several", true, "weekly", 5);
        assert_eq!(shared.len(), 4);
        assert!(shared[0].contains("sync"));
        assert!(shared[1].contains("shared"));
        assert!(shared[3].contains("keep it"));
        assert!(advice("one", false, "never", 1)[1].contains("Without backups"));
    }

    #[test]
    fn questions_follow_the_assessment_steps() {
        let ids: Vec<_> = QUESTIONS.iter().map(|q| q.id).collect();
        assert_eq!(ids, crate::hooks::ASSESSMENT_STEPS);
    }

    #[test]
    fn answers_are_checked_by_kind() {
        assert!(validate(&Kind::YesNo, None).is_err());
        assert!(validate(&Kind::YesNo, Some(&json!(false))).is_ok());
        assert!(validate(&Kind::Text, None).is_ok());
        assert!(validate(&Kind::Number { max: 10 }, Some(&json!(10))).is_ok());
        assert!(validate(&Kind::Number { max: 10 }, Some(&json!(11))).is_err());
        assert!(validate(&Kind::Number { max: 10 }, Some(&json!("ten"))).is_err());
    }
}
