//! Sync notices to every context of the origin, on the BroadcastChannel
//! `cairn-sync:<db>` (through [`crate::broadcast`]): a round finished, or the session or
//! the collections kept off sync changed, so every open page shows current status
//! whoever made the change.

use wasm_bindgen::JsValue;

use super::LastSync;
use crate::broadcast::{self, Subscription};
use crate::codec::to_js;
use crate::Store;

/// The channel sync outcomes and session changes are announced on.
fn channel_name(store: &Store) -> String {
    format!("cairn-sync:{}", store.name())
}

/// Tells every context of the origin that sync status changed: a round finished (with
/// its outcome, `last`), or the session changed (`None`).
pub(super) fn announce(store: &Store, last: Option<&LastSync>) {
    let message = last.and_then(|l| to_js(l).ok()).unwrap_or(JsValue::NULL);
    broadcast::post(&channel_name(store), &message);
}

/// Calls `on_change` whenever a context (this one included) finishes a sync round or
/// changes the session or the collections kept off sync, until dropped.
pub struct SyncNotices {
    _subscription: Subscription,
}

impl SyncNotices {
    pub fn subscribe(store: &Store, mut on_change: impl FnMut() + 'static) -> Option<SyncNotices> {
        let subscription = broadcast::listen(&channel_name(store), move |_| on_change())?;
        Some(SyncNotices {
            _subscription: subscription,
        })
    }
}
