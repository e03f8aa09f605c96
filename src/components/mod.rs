//! Reusable components, one per file.

mod account_form;
mod appearance_root;
mod appearance_settings;
mod conflict_log;
mod dashboard_card;
mod nav_bar;
mod notification_settings;
mod offline_banner;
mod persistence_provider;
mod privacy_settings;
mod progress_bar;
mod save_status_badge;
mod sync_badge;
pub(crate) mod sync_panel;
mod sync_provider;
mod update_banner;

pub use account_form::AccountForm;
pub use appearance_root::AppearanceRoot;
pub use appearance_settings::AppearanceForm;
pub use conflict_log::ConflictLog;
pub use dashboard_card::DashboardCard;
pub use nav_bar::NavBar;
pub use notification_settings::NotificationSettings;
pub use offline_banner::OfflineBanner;
pub use persistence_provider::PersistenceProvider;
pub use privacy_settings::PrivacySettings;
pub use progress_bar::ProgressBar;
pub use save_status_badge::SaveStatusBadge;
pub use sync_badge::SyncBadge;
pub use sync_panel::SyncPanel;
pub use sync_provider::SyncProvider;
pub use update_banner::UpdateBanner;
