//! Offline-first persistence for Yew apps (model and layout docs follow).

mod persistence;
mod persistence_provider;
pub mod saver;
mod service_worker;
mod sync_provider;
mod use_backup;
mod use_collection;
mod use_collection_page;
mod use_expandable_card;
mod use_persistent_state;
mod use_progress;
mod use_secret;
mod use_service_worker;
mod use_snapshots;
mod use_storage;
mod use_sync;
mod use_visible_component;
mod use_waiver;

pub use cairn_client::{AccountSwitch, SetAside, SnapshotInfo, StoredConflict, SyncStatus};
pub use cairn_protocol::api::SessionInfo;
pub use persistence::{use_persistence, Persistence, PersistenceConfig, Registration};
pub use persistence_provider::{PersistenceProvider, PersistenceProviderProps, HYDRATE};
pub use saver::{SaveStatus, FIRST_RETRY_MS, MAX_ATTEMPTS};
pub use service_worker::{register_service_worker, request_background_sync};
pub use sync_provider::{SyncProvider, SyncProviderProps};
pub use use_backup::{
    human_bytes, use_backup, BackupHandle, ExportRequest, ImportOutcome, ImportStage, ReadyImport,
};
pub use use_collection::{use_collection, CollectionHandle, Deleted};
pub use use_collection_page::{use_collection_page, CollectionPage};
pub use use_expandable_card::{use_expandable_card, ExpandableCard};
pub use use_persistent_state::{
    use_persistent_state, use_persistent_state_with, PersistOptions, PersistentState, Validator,
};
pub use use_progress::{use_progress, Progress, ProgressRecord};
pub use use_secret::{use_secret, Secret, SecretView};
pub use use_service_worker::{use_service_worker, ServiceWorkerHandle};
pub use use_snapshots::{
    use_snapshot_scheduler, use_snapshot_settings, use_snapshots, SnapshotSettings,
    SnapshotsHandle, SNAPSHOT_SETTINGS_ID,
};
pub use use_storage::{use_storage, StorageHandle, StorageView, QUOTA_WARNING};
pub use use_sync::{use_sync, SignInProblem, SyncContext, SyncController, SyncView};
pub use use_visible_component::{use_visible_component, VisibleComponent};
pub use use_waiver::{use_waiver, Waiver, WaiverKind, WaiverRecord};
