//! One component per route.

pub mod assessment;
mod home;
mod not_found;
mod note_editor;
mod notes;
mod onboarding;
mod settings;
mod storage;
pub mod waiver;

pub use assessment::Assessment;
pub use home::Home;
pub use not_found::NotFound;
pub use note_editor::NoteEditor;
pub use notes::Notes;
pub use onboarding::Onboarding;
pub use settings::Settings;
pub use storage::Storage;
pub use waiver::{WaiverPage, DATA_CONSENT, DATA_CONSENT_TEXT};
