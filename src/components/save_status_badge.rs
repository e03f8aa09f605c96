use yew::prelude::*;

use crate::hooks::SaveStatus;

#[derive(Properties, PartialEq)]
pub struct SaveStatusBadgeProps {
    pub status: SaveStatus,
}

/// Tells the user whether what they typed is safely stored.
#[function_component]
pub fn SaveStatusBadge(props: &SaveStatusBadgeProps) -> Html {
    let text = match &props.status {
        SaveStatus::Idle => String::new(),
        SaveStatus::Saving => "Saving…".to_owned(),
        SaveStatus::Saved => "Saved".to_owned(),
        SaveStatus::Error(msg) => format!("Not saved: {msg}"),
    };
    let role = matches!(props.status, SaveStatus::Error(_)).then_some("alert");
    html! { <span class="save-status" role={role} aria-live="polite">{ text }</span> }
}
