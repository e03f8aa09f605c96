//! Reusable components, one per file.

mod nav_bar;
mod persistence_provider;
mod save_status_badge;
mod update_banner;

pub use nav_bar::NavBar;
pub use persistence_provider::PersistenceProvider;
pub use save_status_badge::SaveStatusBadge;
pub use update_banner::UpdateBanner;
