//! Showing a blob (a note's image): from this device, or fetched from the server the
//! first time it is shown and kept for offline use ([`use_blob`]); the blobs' bytes here
//! and on the server ([`use_blob_usage`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cairn_client::{SyncEngine, SyncError};
use cairn_protocol::api::BlobUsage;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::use_persistence;
use crate::use_sync::SyncContext;

/// What a blob can show ([`use_blob`]).
///
/// ```
/// use cairn_yew::BlobView;
/// let alt = |view: &BlobView| match view {
///     BlobView::Ready(_) => "",
///     BlobView::Loading => "Loading image…",
///     BlobView::Unavailable(_) | BlobView::Failed(_) => "Image not available",
/// };
/// assert_eq!(alt(&BlobView::Loading), "Loading image…");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum BlobView {
    /// Being read here or fetched from the server.
    Loading,
    /// An object URL of the bytes (for an `<img src>`); revoked when the component
    /// unmounts or the hash changes.
    Ready(String),
    /// Not on this device, and it cannot be fetched now: why, as a sentence (offline,
    /// signed out, not on the server). Tried again after each successful sync round.
    Unavailable(String),
    /// Reading or fetching failed: why.
    Failed(String),
}

/// The blob `hash` as an object URL: read from this device, else fetched from the sync
/// server (inside a [`SyncProvider`](crate::SyncProvider), signed in) and kept here, so
/// it shows offline afterwards. A blob that cannot be fetched now is tried again after
/// each successful sync round.
///
/// ```no_run
/// use cairn_yew::{use_blob, BlobView};
/// use yew::prelude::*;
///
/// #[derive(Properties, PartialEq)]
/// struct Props { hash: AttrValue, name: AttrValue }
///
/// #[function_component]
/// fn Picture(props: &Props) -> Html {
///     match use_blob(&props.hash) {
///         BlobView::Ready(url) => html! { <img src={url} alt={props.name.clone()} /> },
///         BlobView::Loading => html! { <p aria-busy="true">{ "Loading image…" }</p> },
///         BlobView::Unavailable(why) | BlobView::Failed(why) => html! { <p>{ why }</p> },
///     }
/// }
/// ```
#[hook]
pub fn use_blob(hash: &str) -> BlobView {
    let persistence = use_persistence();
    let sync = use_context::<SyncContext>();
    let view = use_state(|| BlobView::Loading);
    // Fetching again is worth it after a round succeeded (signed in, online, the device
    // that added it may have uploaded it since).
    let round = sync
        .as_ref()
        .and_then(|s| s.view.status.last_success_ms)
        .unwrap_or(0);
    let server = sync.as_ref().map(|s| s.controller.server().to_owned());
    // Bumped by a round that ends while the blob cannot be shown: it is tried again. (Not
    // a dependency on the round itself, which would replace a URL in use.)
    let attempt = use_state(|| 0u32);
    {
        let attempt = attempt.clone();
        let retry = matches!(*view, BlobView::Unavailable(_) | BlobView::Failed(_));
        use_effect_with(round, move |_| {
            if retry {
                attempt.set(*attempt + 1);
            }
        });
    }
    {
        let view = view.setter();
        let deps = (hash.to_owned(), *attempt);
        use_effect_with(deps, move |(hash, _)| {
            let alive = Rc::new(Cell::new(true));
            let url: Rc<RefCell<Option<String>>> = Rc::default();
            {
                let (alive, url, hash) = (alive.clone(), url.clone(), hash.clone());
                spawn_local(async move {
                    let store = persistence.store();
                    let found = match store.get_blob(&hash).await {
                        Ok(Some(stored)) => Ok(stored),
                        Ok(None) => match &server {
                            // Only a hash names a blob the server can hold.
                            Some(server) if cairn_protocol::blobs::is_hash(&hash) => {
                                SyncEngine::new(store, server)
                                    .fetch_blob(&hash)
                                    .await
                                    .map_err(unavailable)
                            }
                            _ => Err(BlobView::Unavailable(
                                "This image is stored on another device.".into(),
                            )),
                        },
                        Err(e) => Err(BlobView::Failed(e.to_string())),
                    };
                    if !alive.get() {
                        return;
                    }
                    view.set(match found {
                        Ok(stored) => match web_sys::Url::create_object_url_with_blob(&stored.blob)
                        {
                            Ok(created) => {
                                *url.borrow_mut() = Some(created.clone());
                                BlobView::Ready(created)
                            }
                            Err(e) => BlobView::Failed(format!("{e:?}")),
                        },
                        Err(view) => view,
                    });
                });
            }
            move || {
                alive.set(false);
                if let Some(url) = url.borrow_mut().take() {
                    let _ = web_sys::Url::revoke_object_url(&url);
                }
            }
        });
    }
    (*view).clone()
}

/// Why a blob could not be fetched, for the user.
fn unavailable(error: SyncError) -> BlobView {
    match error {
        SyncError::Offline | SyncError::Network(_) => BlobView::Unavailable(
            "This image is on the server; it shows once this device is online.".into(),
        ),
        SyncError::SignedOut | SyncError::Unauthorized => BlobView::Unavailable(
            "This image is on the server; sign in to see it here.".into(),
        ),
        SyncError::Refused { status: 404, .. } => BlobView::Unavailable(
            "This image is not on the server yet: it shows once the device that added it has synced."
                .into(),
        ),
        other => BlobView::Failed(other.to_string()),
    }
}

/// The bytes of blobs on this device and on the server ([`use_blob_usage`]).
///
/// ```
/// let usage = cairn_yew::BlobUsageView::default();
/// assert!(usage.server.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlobUsageView {
    /// Bytes of the blobs kept on this device; `None` until read.
    pub local_bytes: Option<Result<f64, String>>,
    /// The account's blobs on the server and its quota; `None` until asked or where
    /// there is no server (signed out, offline: the error says which).
    pub server: Option<Result<BlobUsage, String>>,
}

/// The bytes of blobs on this device and, inside a signed-in
/// [`SyncProvider`](crate::SyncProvider), on the server with the account's quota. Read
/// again after each sync round and when `revision` changes.
///
/// ```no_run
/// use cairn_yew::{human_bytes, use_blob_usage};
/// use yew::prelude::*;
///
/// #[function_component]
/// fn ImagesUsage() -> Html {
///     let usage = use_blob_usage(0);
///     match usage.local_bytes {
///         Some(Ok(bytes)) => html! { <p>{ format!("Images here: {}", human_bytes(bytes)) }</p> },
///         _ => html! {},
///     }
/// }
/// ```
#[hook]
pub fn use_blob_usage(revision: u32) -> BlobUsageView {
    let persistence = use_persistence();
    let sync = use_context::<SyncContext>();
    let view = use_state(BlobUsageView::default);
    let status = sync.as_ref().map(|s| s.view.status.clone());
    let server = sync.as_ref().map(|s| s.controller.server().to_owned());
    {
        let view = view.setter();
        let deps = (
            revision,
            status.as_ref().and_then(|s| s.last_success_ms),
            status.as_ref().map(|s| s.pending),
            status.as_ref().and_then(|s| s.account.clone()),
        );
        use_effect_with(deps, move |(_, _, _, account)| {
            let signed_in = account.is_some();
            spawn_local(async move {
                let store = persistence.store();
                let local_bytes = Some(store.local_blob_bytes().await.map_err(|e| e.to_string()));
                let server = match (&server, signed_in) {
                    (Some(server), true) => Some(
                        SyncEngine::new(store, server)
                            .blob_usage()
                            .await
                            .map_err(|e| e.to_string()),
                    ),
                    _ => None,
                };
                view.set(BlobUsageView {
                    local_bytes,
                    server,
                });
            });
        });
    }
    (*view).clone()
}
