use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yew::prelude::*;

use crate::use_persistent_state::{use_persistent_state_with, PersistOptions, PersistentState};

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

/// The handle returned by [`use_progress`].
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

/// Progress through the flow `flow` of `steps` (in order), kept in the record
/// `collection`/`flow`: which steps are completed, and the answers given on the way.
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
