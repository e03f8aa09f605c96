use yew::prelude::*;

use crate::use_persistent_state::{use_persistent_state_with, PersistOptions, PersistentState};

/// The handle returned by [`use_visible_component`].
pub struct VisibleComponent {
    visible: PersistentState<bool>,
}

impl VisibleComponent {
    pub fn is_visible(&self) -> bool {
        *self.visible.value()
    }

    pub fn show(&self) {
        self.visible.set(true);
    }

    pub fn hide(&self) {
        self.visible.set(false);
    }

    pub fn toggle(&self) {
        self.visible.update(|visible| !visible);
    }
}

/// Whether the component `id` is shown, remembered across reloads and tabs.
#[hook]
pub fn use_visible_component(
    collection: &str,
    id: &str,
    default_visible: bool,
) -> VisibleComponent {
    let visible = use_persistent_state_with(
        collection,
        &format!("visible:{id}"),
        default_visible,
        PersistOptions::default().debounce_ms(0),
    );
    VisibleComponent { visible }
}
