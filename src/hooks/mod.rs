//! Persistence hooks: the only way components read and write stored state.
//!
//! Each hook returns a handle struct with intent-named methods. All of them sit on
//! [`use_persistent_state`], which sits on the [`Persistence`] context that
//! [`PersistenceProvider`](crate::components::PersistenceProvider) provides.

mod persistence;
mod use_appearance;
mod use_backup;
mod use_expandable_card;
mod use_note;
mod use_notes;
mod use_notifications;
mod use_persistent_state;
mod use_progress;
mod use_secret;
mod use_service_worker;
mod use_snapshots;
mod use_storage;
mod use_sync;
mod use_visible_component;
mod use_waiver;

/// What the hooks hand to views about sync, as `cairn-client` defines it.
pub use cairn_client::{AccountSwitch, SetAside};
/// One of the account's sessions, as the server lists it.
pub use cairn_protocol::api::SessionInfo;
pub use persistence::{use_persistence, Persistence, Registration, HYDRATED_COLLECTIONS};
pub use use_appearance::{use_appearance, Appearance, AppearanceSettings, TextSize, Theme};
pub use use_backup::{
    human_bytes, use_backup, BackupHandle, ExportRequest, ImportOutcome, ImportStage, ReadyImport,
    APP_VERSION,
};
pub use use_expandable_card::{use_expandable_card, ExpandableCard};
pub use use_note::{
    use_note, use_note_image, use_note_lookup, NoteHandle, NoteImageView, NoteLookup,
    MAX_IMAGE_BYTES,
};
pub use use_notes::{use_notes, DeletedNote, Note, NoteImage, NotesHandle, NOTES};
pub use use_notifications::{use_notifications, NotificationAccess, Notifications};
pub use use_persistent_state::{
    use_persistent_state, PersistOptions, PersistentState, SaveStatus, Validator, FIRST_RETRY_MS,
    MAX_ATTEMPTS,
};
pub use use_progress::{
    use_assessment, use_onboarding, Progress, ProgressRecord, ASSESSMENT_STEPS, ONBOARDING_STEPS,
};
pub use use_secret::{use_secret, Secret, SecretView};
pub use use_service_worker::{use_service_worker, ServiceWorkerHandle};
pub use use_snapshots::{
    use_snapshot_scheduler, use_snapshot_settings, use_snapshots, SnapshotSettings, SnapshotsHandle,
};
pub use use_storage::{use_storage, StorageHandle, StorageView, QUOTA_WARNING};
pub use use_sync::{use_sync, SignInProblem, SyncContext, SyncController, SyncView};
pub use use_visible_component::{use_visible_component, VisibleComponent};
pub use use_waiver::{use_waiver, Waiver, WaiverKind, WaiverRecord};
