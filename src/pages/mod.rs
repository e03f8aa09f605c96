//! One component per route.

mod assessment;
mod home;
mod not_found;
mod note_editor;
mod notes;
mod settings;
mod welcome;

pub use assessment::Assessment;
pub use home::Home;
pub use not_found::NotFound;
pub use note_editor::NoteEditor;
pub use notes::Notes;
pub use settings::{Settings, DATA_CONSENT, DATA_CONSENT_TEXT};
pub use welcome::Welcome;
