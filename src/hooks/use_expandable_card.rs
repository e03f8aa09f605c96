use yew::prelude::*;

use super::{use_persistent_state, PersistOptions, PersistentState};

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
pub fn use_expandable_card(id: &str, default_open: bool) -> ExpandableCard {
    let open = use_persistent_state(
        &format!("card:{id}"),
        default_open,
        PersistOptions::default().collection("ui").debounce_ms(0),
    );
    ExpandableCard { open }
}
