//! Reusable components, one per file.

mod account_form;
mod clear_data;
mod conflict_log;
mod export_form;
mod import_form;
mod import_progress;
mod nav_bar;
mod persistence_provider;
mod save_status_badge;
mod snapshot_list;
mod snapshot_scheduler;
mod storage_sync;
mod storage_usage;
mod sync_panel;
mod sync_provider;
mod update_banner;

pub use account_form::AccountForm;
pub use clear_data::ClearData;
pub use conflict_log::ConflictLog;
pub use export_form::ExportForm;
pub use import_form::ImportForm;
pub use import_progress::ImportProgress;
pub use nav_bar::NavBar;
pub use persistence_provider::PersistenceProvider;
pub use save_status_badge::SaveStatusBadge;
pub use snapshot_list::SnapshotList;
pub use snapshot_scheduler::SnapshotScheduler;
pub use storage_sync::StorageSync;
pub use storage_usage::StorageUsage;
pub use sync_panel::SyncPanel;
pub use sync_provider::SyncProvider;
pub use update_banner::UpdateBanner;
