use yew::prelude::*;

use crate::hooks::use_assessment;

struct Question {
    id: &'static str,
    text: &'static str,
    options: &'static [(&'static str, &'static str)],
}

/// The questions, in the order of [`crate::hooks::ASSESSMENT_STEPS`].
const QUESTIONS: &[Question] = &[
    Question {
        id: "devices",
        text: "On how many devices do you use Cairn?",
        options: &[("one", "Just this one"), ("several", "Two or more")],
    },
    Question {
        id: "shared_computer",
        text: "Do other people use this computer or browser?",
        options: &[("no", "No, it is mine"), ("yes", "Yes, it is shared")],
    },
    Question {
        id: "backups",
        text: "How often do you want to keep a backup copy of your data?",
        options: &[
            ("weekly", "Weekly"),
            ("monthly", "Monthly"),
            ("never", "Never"),
        ],
    },
];

/// A short data-safety check. Answers are kept as they are given, so leaving and coming
/// back resumes at the next unanswered question.
#[function_component]
pub fn Assessment() -> Html {
    let assessment = std::rc::Rc::new(use_assessment());
    let Some(step) = assessment.current_step() else {
        let answer = |q: &str| {
            assessment
                .answer_to(q)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let advice = advice(
            &answer("devices"),
            &answer("shared_computer"),
            &answer("backups"),
        );
        let retake = Callback::from(move |_| assessment.reset());
        return html! {
            <section>
                <h1>{ "Your data-safety check" }</h1>
                <ul id="advice">{ for advice.into_iter().map(|a| html! { <li>{ a }</li> }) }</ul>
                <button onclick={retake}>{ "Take the check again" }</button>
            </section>
        };
    };
    let index = QUESTIONS.iter().position(|q| q.id == step).unwrap_or(0);
    let question = &QUESTIONS[index];
    let options = question.options.iter().map(|(value, label)| {
        let assessment = assessment.clone();
        let onclick = Callback::from(move |_| {
            assessment.answer(question.id, (*value).into());
            assessment.complete(question.id);
        });
        html! { <li><button {onclick}>{ *label }</button></li> }
    });
    html! {
        <section>
            <h1>{ "Data-safety check" }</h1>
            <p>{ format!("Question {} of {}", index + 1, QUESTIONS.len()) }</p>
            <h2 id="question">{ question.text }</h2>
            <ul class="options">{ for options }</ul>
        </section>
    }
}

/// What to do, given the answers.
fn advice(devices: &str, shared: &str, backups: &str) -> Vec<&'static str> {
    let mut advice = Vec::new();
    if devices == "several" {
        advice
            .push("Sign in to sync on each device, so every one of them has your latest changes.");
    } else {
        advice.push("Everything is kept on this device; nothing depends on a network connection.");
    }
    if shared == "yes" {
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
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_follows_the_answers() {
        let shared = advice("several", "yes", "weekly");
        assert_eq!(shared.len(), 3);
        assert!(shared[0].contains("sync"));
        assert!(shared[1].contains("shared"));
        assert!(advice("one", "no", "never")[1].contains("Without backups"));
    }

    #[test]
    fn questions_follow_the_assessment_steps() {
        let ids: Vec<_> = QUESTIONS.iter().map(|q| q.id).collect();
        assert_eq!(ids, crate::hooks::ASSESSMENT_STEPS);
    }
}
