//! `cairn-yew`'s generic hooks bound to the app's collections, flows and waiver rules.

use cairn_client::SnapshotInfo;
use cairn_yew::{ExpandableCard, PersistentState, Progress, SnapshotSettings, VisibleComponent};
use cairn_yew::{Waiver, WaiverKind};
use yew::prelude::*;

use super::config::{PREFS, PROGRESS, UI, WAIVERS};

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

/// Progress through onboarding ([`ONBOARDING_STEPS`]).
#[hook]
pub fn use_onboarding() -> Progress {
    cairn_yew::use_progress(PROGRESS, "onboarding", ONBOARDING_STEPS)
}

/// Progress through the data-safety assessment ([`ASSESSMENT_STEPS`]).
#[hook]
pub fn use_assessment() -> Progress {
    cairn_yew::use_progress(PROGRESS, "assessment", ASSESSMENT_STEPS)
}

/// The user's signature of the waiver `kind` (collection `waivers`).
#[hook]
pub fn use_waiver(kind: WaiverKind) -> Waiver {
    cairn_yew::use_waiver(WAIVERS, kind)
}

/// Whether the card `id` is expanded (collection `ui`).
#[hook]
pub fn use_expandable_card(id: &str, default_open: bool) -> ExpandableCard {
    cairn_yew::use_expandable_card(UI, id, default_open)
}

/// Whether the component `id` is shown (collection `ui`).
#[hook]
pub fn use_visible_component(id: &str, default_visible: bool) -> VisibleComponent {
    cairn_yew::use_visible_component(UI, id, default_visible)
}

/// The snapshot settings (collection `prefs`).
#[hook]
pub fn use_snapshot_settings() -> PersistentState<SnapshotSettings> {
    cairn_yew::use_snapshot_settings(PREFS)
}

/// Takes the automatic snapshots as [`use_snapshot_settings`] says.
#[hook]
pub fn use_snapshot_scheduler(on_taken: Callback<SnapshotInfo>) {
    let settings = *use_snapshot_settings().value();
    cairn_yew::use_snapshot_scheduler(settings, on_taken);
}
