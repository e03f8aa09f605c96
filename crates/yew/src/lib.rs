//! Offline-first persistence for Yew apps: every piece of user state kept in the
//! browser's IndexedDB, written there first, and synced through a Cairn server.
//!
//! Put a [`PersistenceProvider`] (and, to sync, a [`SyncProvider`]) at the root, then
//! use the hooks anywhere below it, as with any context-based state library:
//!
//! ```no_run
//! use cairn_yew::{use_persistent_state, PersistenceProvider, SaveStatus, SyncProvider};
//! use yew::prelude::*;
//!
//! #[function_component]
//! fn Draft() -> Html {
//!     let draft = use_persistent_state("drafts", "letter", String::new());
//!     let oninput = {
//!         let draft = draft.clone();
//!         Callback::from(move |e: InputEvent| {
//!             draft.set(e.target_unchecked_into::<web_sys::HtmlTextAreaElement>().value())
//!         })
//!     };
//!     let saved = matches!(draft.status(), SaveStatus::Saved(_));
//!     html! {
//!         <>
//!             <textarea value={draft.value().clone()} {oninput} />
//!             if saved { <span>{ "Saved" }</span> }
//!         </>
//!     }
//! }
//!
//! #[function_component]
//! fn App() -> Html {
//!     html! {
//!         <PersistenceProvider database="letters" hydrate={vec![AttrValue::from("drafts")]}>
//!             <SyncProvider server="https://sync.example.com">
//!                 <Draft />
//!             </SyncProvider>
//!         </PersistenceProvider>
//!     }
//! }
//!
//! fn main() {
//!     yew::Renderer::<App>::new().render();
//! }
//! ```
//!
//! # The model
//!
//! **Records.** All state is a set of records, each a JSON value at a key: a
//! *collection* (`"prefs"`, `"notes"`) and an *id* within it. A hook names the record it
//! keeps ([`use_persistent_state`]`(collection, id, default)`) or the collection it
//! lists ([`use_collection`]). Every version of a record carries a hybrid logical clock
//! value (wall time, counter, device), which orders versions across devices. Deleting
//! writes a *tombstone*: a hook reads a deleted record as its default.
//!
//! **The outbox.** A local write stores the new version and an outbox entry (the change
//! to push, with the version it was made from) in one IndexedDB transaction: the change
//! is durable and queued for sync, or not made at all. Writes never wait for the
//! network. [`use_persistent_state`] debounces changes (1 s by default), never writes
//! one key twice at once, retries a failed write ([`MAX_ATTEMPTS`], backing off from
//! [`FIRST_RETRY_MS`]), and writes what is pending when the component unmounts, when
//! the page is hidden or closed, and on Ctrl+S / Cmd+S. The rules are the [`saver`]
//! state machine's.
//!
//! **Hydration.** [`PersistenceProvider`] opens the database (migrating it) and loads
//! the collections named in its `hydrate` prop before it renders its children, so views
//! of them start from the stored value and never show defaults first. Keep hydrated
//! collections small (preferences, UI state); other collections load when a hook asks,
//! and say so (`is_loaded`). Where IndexedDB cannot be used (some private modes), the
//! app runs on a memory store under a visible warning; records that cannot be read are
//! set aside (quarantined), not lost.
//!
//! **Sync.** Inside a [`SyncProvider`], once the user signs in
//! ([`SyncController::sign_in`]), a round pushes the outbox and pulls other devices'
//! changes: at start, when the browser comes online, when the page becomes visible,
//! when the server's change stream says another device pushed, periodically, and right
//! after each local change. The server stores a change only over the version it was
//! made from; concurrent versions are merged on the device by the collection's
//! [`MergeRule`] (three-way over JSON objects, or
//! last-writer-wins), and a version that lost is kept in the conflict log
//! ([`SyncView::conflicts`]), restorable. Every hook follows changes made elsewhere
//! (other tabs, other devices) as they arrive, unless a local change is pending; the
//! pending change then replaces them, and they go to the conflict log.
//!
//! **What "Saved" promises.** [`SaveStatus::Saved`] means the value is committed to
//! IndexedDB on this device, with its outbox entry: it survives a reload, a closed tab
//! and a killed browser, and will be pushed at the next sync round. It does not mean the
//! server has it: [`SyncView::status`] says what is still waiting to sync. Until then,
//! [`PersistentState::is_dirty`] is true and the value is only in memory.
//!
//! # Layout
//!
//! - [`PersistenceProvider`] (`persistence_provider.rs`) and [`Persistence`]
//!   (`persistence.rs`): opening and hydrating the store, the context every hook works
//!   through (watchers per record and per collection, the flush registry, local-write
//!   listeners).
//! - [`use_persistent_state`] (`use_persistent_state.rs`) on the [`saver`] state
//!   machine (`saver.rs`, plain Rust, tested natively); built on it:
//!   [`use_expandable_card`], [`use_visible_component`], [`use_waiver`],
//!   [`use_progress`], [`use_snapshot_settings`].
//! - [`use_collection`] (`use_collection.rs`): every item of a collection, kept current.
//! - [`SyncProvider`] (`sync_provider.rs`, when rounds run) and [`use_sync`]
//!   (`use_sync.rs`: the [`SyncView`] and the [`SyncController`]); [`use_sign_in`]
//!   (`use_sign_in.rs`): a sign-in form's state, with the question asked when this
//!   device's data belongs to another account.
//! - [`use_storage`], [`use_backup`], [`use_snapshots`] and [`use_snapshot_scheduler`],
//!   [`use_secret`]: usage and quota, export and import, local snapshots, secrets kept
//!   encrypted on the device.
//! - [`use_blob`] and [`use_blob_usage`] (`use_blob.rs`): showing a blob (a note's
//!   image) from this device or fetched from the server and kept, and the bytes of blobs
//!   here and on the server.
//! - [`use_service_worker`] and [`register_service_worker`] /
//!   [`request_background_sync`] (`service_worker.rs`): the app's worker, its updates,
//!   and Background Sync.
//!
//! - [`yaml`] (`yaml.rs`): backup files in YAML, read and written here with the `yaml`
//!   feature, or by an on-demand module without it.
//!
//! # Features
//! - `yaml` (default): YAML backup files are read and written in your app's module
//!   (about 32 KiB of gzipped wasm). Turn it off (`default-features = false`) to keep
//!   that out of your first load: the first YAML file imported or exported then
//!   imports the ES module at [`yaml::YAML_MODULE`], which you build from the
//!   `cairn-yaml-module` crate beside your app (trunk: `<link data-trunk rel="rust"
//!   href="…/crates/yaml-module/Cargo.toml" data-type="worker"
//!   data-bindgen-target="web" data-bin="cairn_yaml" />`, as Cairn's `index.html` does).
//!
//! The store itself (IndexedDB, the outbox, the sync engine) is `cairn-client`; records,
//! clocks and merge rules are `cairn-protocol`. This crate is the Yew layer over them:
//! views never touch the store, only hooks do.

#![warn(missing_docs)]

mod persistence;
mod persistence_provider;
pub mod saver;
mod service_worker;
mod sync_provider;
mod use_backup;
mod use_blob;
mod use_collection;
mod use_collection_page;
mod use_expandable_card;
mod use_persistent_state;
mod use_progress;
mod use_secret;
mod use_service_worker;
mod use_sign_in;
mod use_snapshots;
mod use_storage;
mod use_sync;
mod use_visible_component;
mod use_waiver;
pub mod yaml;

/// The store's and the protocol's types that appear in this crate's API, so an app
/// needs no other dependency to name them.
pub use cairn_client::{
    AccountSwitch, Quarantined, SetAside, SnapshotInfo, Store, StoreError, StoredConflict,
    SyncStatus, Usage,
};
pub use cairn_protocol::api::{BlobUsage, SessionInfo};
pub use cairn_protocol::backup::{FileFormat, ImportMode, Plan};
pub use cairn_protocol::{MergeRule, MergeRules, Record, RecordKey};
pub use persistence::{use_persistence, Persistence, PersistenceConfig, Registration};
pub use persistence_provider::{PersistenceProvider, PersistenceProviderProps, HYDRATE};
pub use saver::{SaveStatus, FIRST_RETRY_MS, MAX_ATTEMPTS};
pub use service_worker::{register_service_worker, request_background_sync};
pub use sync_provider::{SyncProvider, SyncProviderProps};
pub use use_backup::{
    human_bytes, use_backup, BackupHandle, ExportRequest, ImportOutcome, ImportStage, ReadyImport,
};
pub use use_blob::{use_blob, use_blob_usage, BlobUsageView, BlobView};
pub use use_collection::{use_collection, CollectionHandle, Deleted};
pub use use_collection_page::{use_collection_page, CollectionPage};
pub use use_expandable_card::{use_expandable_card, ExpandableCard};
pub use use_persistent_state::{
    use_persistent_state, use_persistent_state_with, PersistOptions, PersistentState, Validator,
};
pub use use_progress::{use_progress, Progress, ProgressRecord};
pub use use_secret::{use_secret, Secret, SecretView};
pub use use_service_worker::{use_service_worker, ServiceWorkerHandle};
pub use use_sign_in::{use_sign_in, PendingSwitch, SignIn};
pub use use_snapshots::{
    use_snapshot_scheduler, use_snapshot_settings, use_snapshots, SnapshotSettings,
    SnapshotsHandle, SNAPSHOT_SETTINGS_ID,
};
pub use use_storage::{use_storage, StorageHandle, StorageView, QUOTA_WARNING};
pub use use_sync::{use_sync, SignInProblem, SyncContext, SyncController, SyncView};
pub use use_visible_component::{use_visible_component, VisibleComponent};
pub use use_waiver::{use_waiver, Waiver, WaiverKind, WaiverRecord};
