use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yew::prelude::*;

use super::{use_persistent_state, PersistOptions, PersistentState};

/// Steps of the onboarding flow, in order.
pub const ONBOARDING_STEPS: &[&str] = &["welcome", "profile", "preferences", "waiver"];
/// Questions of the data-safety assessment, in order.
pub const ASSESSMENT_STEPS: &[&str] = &[
    "devices",
    "shared_computer",
    "backups",
    "importance",
    "notes_count",
    "concerns",
];

/// Progress through a flow of steps, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressRecord {
    pub completed: Vec<String>,
    pub answers: BTreeMap<String, serde_json::Value>,
}

impl ProgressRecord {
    /// The first step of `steps` not completed yet: where the user resumes.
    pub fn current_step<'a>(&self, steps: &[&'a str]) -> Option<&'a str> {
        steps
            .iter()
            .copied()
            .find(|step| !self.completed.iter().any(|done| done == step))
    }
}

/// The handle returned by [`use_onboarding`] and [`use_assessment`].
pub struct Progress {
    steps: &'static [&'static str],
    record: PersistentState<ProgressRecord>,
}

impl Progress {
    pub fn steps(&self) -> &'static [&'static str] {
        self.steps
    }

    pub fn completed_steps(&self) -> &[String] {
        &self.record.value().completed
    }

    /// Where the user is: the first step not completed; `None` once all are.
    pub fn current_step(&self) -> Option<&'static str> {
        self.record.value().current_step(self.steps)
    }

    pub fn is_complete(&self) -> bool {
        self.current_step().is_none()
    }

    pub fn answer_to(&self, question: &str) -> Option<&serde_json::Value> {
        self.record.value().answers.get(question)
    }

    pub fn answers(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.record.value().answers
    }

    /// Records the answer to `question`.
    pub fn answer(&self, question: &str, answer: serde_json::Value) {
        self.record.update(|r| {
            let mut r = r.clone();
            r.answers.insert(question.to_owned(), answer);
            r
        });
    }

    /// Marks `step` not done (going back to it).
    pub fn reopen(&self, step: &str) {
        self.record.update(|r| {
            let mut r = r.clone();
            r.completed.retain(|s| s != step);
            r
        });
    }

    /// Marks `step` done.
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
    pub fn reset(&self) {
        self.record.set(ProgressRecord::default());
    }
}

#[hook]
fn use_progress(flow: &'static str, steps: &'static [&'static str]) -> Progress {
    let record = use_persistent_state(
        flow,
        ProgressRecord::default(),
        PersistOptions::default()
            .collection("progress")
            .debounce_ms(0),
    );
    Progress { steps, record }
}

/// Progress through onboarding ([`ONBOARDING_STEPS`]).
#[hook]
pub fn use_onboarding() -> Progress {
    use_progress("onboarding", ONBOARDING_STEPS)
}

/// Progress through the data-safety assessment ([`ASSESSMENT_STEPS`]).
#[hook]
pub fn use_assessment() -> Progress {
    use_progress("assessment", ASSESSMENT_STEPS)
}

#[cfg(test)]
mod tests {
    use super::*;

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
