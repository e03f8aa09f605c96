//! What the app tells `cairn-yew`: its database, the collections it keeps and how they
//! merge, its version, and how sync runs.

use cairn_protocol::{MergeRule, MergeRules};
use yew::AttrValue;

/// The IndexedDB database (shared with the service worker's sync module).
pub const DATABASE: &str = cairn_client::Store::APP_DB;

/// User preferences (appearance, notifications, snapshot settings).
pub const PREFS: &str = "prefs";
/// Which cards are open and which components are shown.
pub const UI: &str = "ui";
/// Signatures of the app's waivers.
pub const WAIVERS: &str = "waivers";
/// Progress through onboarding and the assessment.
pub const PROGRESS: &str = "progress";

/// Collections small enough to load in full before the first render, so views of them
/// never show defaults first. Larger ones (notes) load on demand.
pub const HYDRATED_COLLECTIONS: &[&str] = &[PREFS, UI, WAIVERS, PROGRESS];

/// [`HYDRATED_COLLECTIONS`], as the persistence provider takes them.
pub fn hydrated_collections() -> Vec<AttrValue> {
    HYDRATED_COLLECTIONS
        .iter()
        .map(|c| AttrValue::Static(c))
        .collect()
}

/// How the app's collections combine concurrent edits ([`cairn_protocol::three_way`]):
/// notes and preferences merge field by field (a note's text line by line; its
/// `updated_at` takes the newer edit's); the others (waivers, progress, ui) keep the
/// newer version whole, the other one going to the conflict log.
pub fn merge_rules() -> MergeRules {
    MergeRules::new()
        .with(super::NOTES, MergeRule::three_way(["updated_at"]))
        .with(PREFS, MergeRule::three_way::<&str>([]))
}

/// The app version written into backups and snapshots.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The sync server: the app is served by the sync server itself (the page's origin).
pub const SYNC_SERVER: &str = "";

/// The Background Sync tag the worker's `sync` handler answers (see `sw/`).
pub const SYNC_TAG: &str = "cairn-sync";

/// How often the page syncs while visible, as the fallback of the change stream.
const SYNC_EVERY_MS: u32 = 60_000;
/// A test setting (in `localStorage`): the periodic round's interval in ms, so a test can
/// tell a change that arrived live from one the timer fetched.
const SYNC_EVERY_MS_SETTING: &str = "cairn.sync_every_ms";

/// The periodic sync round's interval: `SYNC_EVERY_MS`, unless the test setting says
/// otherwise.
pub fn sync_interval_ms() -> u32 {
    gloo::utils::window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|storage| storage.get_item(SYNC_EVERY_MS_SETTING).ok().flatten())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(SYNC_EVERY_MS)
}
