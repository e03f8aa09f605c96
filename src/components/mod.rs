//! Reusable components, one per file.

mod account_form;
mod conflict_log;
mod nav_bar;
mod persistence_provider;
mod save_status_badge;
mod sync_panel;
mod sync_provider;
mod update_banner;

pub use account_form::AccountForm;
pub use conflict_log::ConflictLog;
pub use nav_bar::NavBar;
pub use persistence_provider::PersistenceProvider;
pub use save_status_badge::SaveStatusBadge;
pub use sync_panel::SyncPanel;
pub use sync_provider::SyncProvider;
pub use update_banner::UpdateBanner;
