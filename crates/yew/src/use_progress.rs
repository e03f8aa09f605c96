use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yew::prelude::*;

use crate::use_persistent_state::{use_persistent_state_with, PersistOptions, PersistentState};

/// Progress through a flow of steps, as stored.
///
/// ```
/// let record = cairn_yew::ProgressRecord::default();
/// assert!(record.completed.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressRecord {
    /// The steps completed, in the order they were.
    pub completed: Vec<String>,
    /// The answers given, by question.
    pub answers: BTreeMap<String, serde_json::Value>,
}

impl ProgressRecord {
    /// The first step of `steps` not completed yet: where the user resumes.
    ///
    /// ```
    /// let mut record = cairn_yew::ProgressRecord::default();
    /// record.completed.push("welcome".into());
    /// assert_eq!(record.current_step(&["welcome", "profile"]), Some("profile"));
    /// ```
    pub fn current_step<'a>(&self, steps: &[&'a str]) -> Option<&'a str> {
        steps
            .iter()
            .copied()
            .find(|step| !self.completed.iter().any(|done| done == step))
    }
}

/// The handle returned by [`use_progress`].
///
/// ```no_run
/// # fn run(onboarding: cairn_yew::Progress) {
/// let (done, all) = (onboarding.completed_steps().len(), onboarding.steps().len());
/// # }
/// ```
pub struct Progress {
    steps: &'static [&'static str],
    record: PersistentState<ProgressRecord>,
}

impl Progress {
    /// The flow's steps, in order.
    ///
    /// ```no_run
    /// # fn run(onboarding: cairn_yew::Progress) {
    /// let total = onboarding.steps().len();
    /// # }
    /// ```
    pub fn steps(&self) -> &'static [&'static str] {
        self.steps
    }

    /// The steps completed so far.
    ///
    /// ```no_run
    /// # fn run(onboarding: cairn_yew::Progress) {
    /// let done = onboarding.completed_steps().len();
    /// # }
    /// ```
    pub fn completed_steps(&self) -> &[String] {
        &self.record.value().completed
    }

    /// Where the user is: the first step not completed; `None` once all are.
    ///
    /// ```no_run
    /// # fn run(onboarding: cairn_yew::Progress) {
    /// match onboarding.current_step() {
    ///     Some("welcome") | None => {}
    ///     Some(_) => {}
    /// }
    /// # }
    /// ```
    pub fn current_step(&self) -> Option<&'static str> {
        self.record.value().current_step(self.steps)
    }

    /// Every step is completed.
    ///
    /// ```no_run
    /// # fn run(onboarding: cairn_yew::Progress) {
    /// let show_prompt = !onboarding.is_complete();
    /// # }
    /// ```
    pub fn is_complete(&self) -> bool {
        self.current_step().is_none()
    }

    /// The answer given to `question`, if any.
    ///
    /// ```no_run
    /// # fn run(check: cairn_yew::Progress) {
    /// let devices = check.answer_to("devices").and_then(|v| v.as_str());
    /// # }
    /// ```
    pub fn answer_to(&self, question: &str) -> Option<&serde_json::Value> {
        self.record.value().answers.get(question)
    }

    /// Every answer given, by question.
    ///
    /// ```no_run
    /// # fn run(check: cairn_yew::Progress) {
    /// let answered = check.answers().len();
    /// # }
    /// ```
    pub fn answers(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.record.value().answers
    }

    /// Records the answer to `question`.
    ///
    /// ```no_run
    /// # fn run(check: cairn_yew::Progress) {
    /// check.answer("devices", serde_json::json!("several"));
    /// # }
    /// ```
    pub fn answer(&self, question: &str, answer: serde_json::Value) {
        self.record.update(|r| {
            let mut r = r.clone();
            r.answers.insert(question.to_owned(), answer);
            r
        });
    }

    /// Marks `step` not done (going back to it).
    ///
    /// ```no_run
    /// # fn run(check: cairn_yew::Progress) {
    /// check.reopen("devices");
    /// # }
    /// ```
    pub fn reopen(&self, step: &str) {
        self.record.update(|r| {
            let mut r = r.clone();
            r.completed.retain(|s| s != step);
            r
        });
    }

    /// Marks `step` done.
    ///
    /// ```no_run
    /// # fn run(check: cairn_yew::Progress) {
    /// check.complete("devices");
    /// # }
    /// ```
    pub fn complete(&self, step: &str) {
        self.record.update(|r| {
            let mut r = r.clone();
            if !r.completed.iter().any(|s| s == step) {
                r.completed.push(step.to_owned());
            }
            r
        });
    }

    /// Starts over: no step completed, no answers.
    ///
    /// ```no_run
    /// # fn run(check: cairn_yew::Progress) {
    /// check.reset();
    /// # }
    /// ```
    pub fn reset(&self) {
        self.record.set(ProgressRecord::default());
    }
}

/// Progress through the flow `flow` of `steps` (in order), kept in the record
/// `collection`/`flow`: which steps are completed, and the answers given on the way.
///
/// ```no_run
/// use cairn_yew::use_progress;
/// use yew::prelude::*;
///
/// const STEPS: &[&str] = &["welcome", "profile", "done"];
///
/// #[function_component]
/// fn Onboarding() -> Html {
///     let progress = use_progress("progress", "onboarding", STEPS);
///     html! { <p>{ format!("Step: {:?}", progress.current_step()) }</p> }
/// }
/// ```
#[hook]
pub fn use_progress(
    collection: &str,
    flow: &'static str,
    steps: &'static [&'static str],
) -> Progress {
    let record = use_persistent_state_with(
        collection,
        flow,
        ProgressRecord::default(),
        PersistOptions::default().debounce_ms(0),
    );
    Progress { steps, record }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONBOARDING_STEPS: &[&str] = &["welcome", "profile", "preferences", "waiver"];

    #[test]
    fn resumes_at_the_first_step_not_completed() {
        let mut r = ProgressRecord::default();
        assert_eq!(r.current_step(ONBOARDING_STEPS), Some("welcome"));
        r.completed.push("welcome".into());
        assert_eq!(r.current_step(ONBOARDING_STEPS), Some("profile"));
        // Completed out of order: still the first gap.
        r.completed = vec!["preferences".into()];
        assert_eq!(r.current_step(ONBOARDING_STEPS), Some("welcome"));
        r.completed = ONBOARDING_STEPS.iter().map(|s| s.to_string()).collect();
        assert_eq!(r.current_step(ONBOARDING_STEPS), None);
    }
}
