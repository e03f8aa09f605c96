use yew::prelude::*;

use crate::use_persistent_state::{use_persistent_state_with, PersistOptions, PersistentState};

/// The handle returned by [`use_expandable_card`].
pub struct ExpandableCard {
    open: PersistentState<bool>,
}

impl ExpandableCard {
    pub fn is_open(&self) -> bool {
        *self.open.value()
    }

    pub fn open(&self) {
        self.open.set(true);
    }

    pub fn close(&self) {
        self.open.set(false);
    }

    pub fn toggle(&self) {
        self.open.update(|open| !open);
    }
}

/// Whether the card `id` is expanded, remembered across reloads and tabs.
#[hook]
pub fn use_expandable_card(collection: &str, id: &str, default_open: bool) -> ExpandableCard {
    let open = use_persistent_state_with(
        collection,
        &format!("card:{id}"),
        default_open,
        PersistOptions::default().debounce_ms(0),
    );
    ExpandableCard { open }
}
