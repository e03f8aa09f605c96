//! Reusable components, one per file.

mod account_form;
mod conflict_log;
mod nav_bar;
mod note_form;
mod note_image;
mod note_images;
mod note_list;
mod note_save_status;
mod note_undo_toast;
mod persistence_provider;
mod save_status_badge;
mod sync_panel;
mod sync_provider;
mod update_banner;

pub use account_form::AccountForm;
pub use conflict_log::ConflictLog;
pub use nav_bar::NavBar;
pub use note_form::NoteForm;
pub use note_image::NoteImageFigure;
pub use note_images::NoteImages;
pub use note_list::NoteList;
pub use note_save_status::NoteSaveStatus;
pub use note_undo_toast::NoteUndoToast;
pub use persistence_provider::PersistenceProvider;
pub use save_status_badge::SaveStatusBadge;
pub use sync_panel::SyncPanel;
pub use sync_provider::SyncProvider;
pub use update_banner::UpdateBanner;
