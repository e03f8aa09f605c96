use yew::prelude::*;

use crate::hooks::SaveStatus;

#[derive(Properties, PartialEq)]
pub struct NoteSaveStatusProps {
    pub status: SaveStatus,
    /// A change is waiting to be written.
    #[prop_or_default]
    pub dirty: bool,
}

/// Whether the note is stored: "Saving…", "Saved 12:03" (local time), or why not.
/// Announced politely to screen readers.
#[function_component]
pub fn NoteSaveStatus(props: &NoteSaveStatusProps) -> Html {
    let (text, class) = match &props.status {
        SaveStatus::Error(msg) => (format!("Not saved: {msg}"), "note-save-status error"),
        SaveStatus::Saving => ("Saving…".to_owned(), "note-save-status"),
        _ if props.dirty => ("Unsaved changes".to_owned(), "note-save-status"),
        SaveStatus::Saved(at) => (format!("Saved {}", hh_mm(*at)), "note-save-status"),
        SaveStatus::Idle => (String::new(), "note-save-status"),
    };
    html! { <p {class} role="status" aria-live="polite">{ text }</p> }
}

/// `ms` since the epoch as local `HH:MM`.
pub fn hh_mm(ms: f64) -> String {
    let date = js_sys::Date::new(&ms.into());
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
