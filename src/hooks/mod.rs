//! The app's hooks: the only way components read and write stored state.
//!
//! The generic ones come from `cairn-yew` (re-exported here, some bound to the app's
//! collections in `wrappers.rs`); the domain hooks (notes, appearance, notifications)
//! are the app's own, on top of them. [`config`] holds what the app tells the crate.

pub mod config;
mod use_appearance;
mod use_note;
mod use_notes;
mod use_notifications;
mod wrappers;

pub use cairn_yew::{
    use_backup, use_blob_usage, use_persistence, use_persistent_state, use_persistent_state_with,
    use_secret, use_service_worker, use_sign_in, use_snapshots, use_storage, use_sync,
    AccountSwitch, BackupHandle, ExportRequest, ImportOutcome, ImportStage, PersistOptions,
    Persistence, PersistentState, Progress, ProgressRecord, ReadyImport, SaveStatus, Secret,
    SecretView, ServiceWorkerHandle, SessionInfo, SetAside, SignInProblem, SnapshotSettings,
    SnapshotsHandle, StorageHandle, StorageView, SyncContext, SyncController, SyncView, Waiver,
    WaiverKind, WaiverRecord, QUOTA_WARNING,
};
pub use use_appearance::{use_appearance, Appearance, AppearanceSettings, TextSize, Theme};
pub use use_note::{use_note, use_note_lookup, NoteHandle, NoteLookup, MAX_IMAGE_BYTES};
pub use use_notes::{use_notes, DeletedNote, Note, NoteImage, NotesHandle, NOTES};
pub use use_notifications::{
    notify_conflicts, use_notifications, NotificationAccess, Notifications,
};
pub use wrappers::{
    use_assessment, use_expandable_card, use_onboarding, use_snapshot_scheduler,
    use_snapshot_settings, use_visible_component, use_waiver, ASSESSMENT_STEPS, ONBOARDING_STEPS,
};
