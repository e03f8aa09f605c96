//! One component per route.

mod assessment;
mod home;
mod not_found;
mod settings;
mod storage;
mod welcome;

pub use assessment::Assessment;
pub use home::Home;
pub use not_found::NotFound;
pub use settings::{Settings, DATA_CONSENT, DATA_CONSENT_TEXT};
pub use storage::Storage;
pub use welcome::Welcome;
