use yew::prelude::*;

use crate::hooks::SaveStatus;

#[derive(Properties, PartialEq)]
pub struct SaveStatusBadgeProps {
    pub status: SaveStatus,
    /// A change is waiting to be written.
    #[prop_or_default]
    pub dirty: bool,
}

/// Tells the user whether what they typed is safely stored.
#[function_component]
pub fn SaveStatusBadge(props: &SaveStatusBadgeProps) -> Html {
    let text = match &props.status {
        SaveStatus::Error(msg) => format!("Not saved: {msg}"),
        SaveStatus::Saving => "Saving…".to_owned(),
        _ if props.dirty => "Unsaved changes".to_owned(),
        SaveStatus::Saved(at) => {
            let time = js_sys::Date::new(&(*at).into()).to_locale_time_string("default");
            format!("Saved at {time}")
        }
        SaveStatus::Idle => String::new(),
    };
    let role = matches!(props.status, SaveStatus::Error(_)).then_some("alert");
    html! { <span class="save-status" role={role} aria-live="polite">{ text }</span> }
}
