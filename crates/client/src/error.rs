//! What can go wrong with local storage, as values the UI can show.

use wasm_bindgen::JsCast;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// IndexedDB cannot be used here (private mode in some browsers, disabled storage).
    #[error("local storage is unavailable: {0}")]
    Unavailable(String),
    /// The device's storage quota for this site is used up; nothing of this write was kept.
    #[error("this device's storage for Cairn is full; free some space or delete old data")]
    QuotaExceeded,
    /// The database was written by a newer version of Cairn; it is left untouched.
    #[error(
        "your data was saved by a newer version of Cairn (schema {found}, this app knows {supported}); reload to update the app"
    )]
    NewerSchema { found: u32, supported: u32 },
    /// A stored value failed to decode.
    #[error("stored data for {collection}/{id} is unreadable: {reason}")]
    Corrupt {
        collection: String,
        id: String,
        reason: String,
    },
    /// A value could not be encoded for storage.
    #[error("could not encode the value: {0}")]
    Encode(String),
    /// The clock refused to issue a timestamp.
    #[error("clock error: {0}")]
    Clock(#[from] cairn_protocol::HlcError),
    /// Any other IndexedDB failure; the transaction did not commit.
    #[error("storage error: {0}")]
    Storage(String),
}

impl From<rexie::Error> for StoreError {
    fn from(err: rexie::Error) -> Self {
        match dom_exception_name(&err).as_deref() {
            Some("QuotaExceededError") => StoreError::QuotaExceeded,
            _ => StoreError::Storage(err_text(&err)),
        }
    }
}

/// The name of the DOMException inside a rexie error, if there is one.
pub(crate) fn dom_exception_name(err: &rexie::Error) -> Option<String> {
    use idb::Error as E;
    let rexie::Error::IdbError(err) = err else {
        return None;
    };
    let value = match err {
        E::DomException(e) => return Some(e.name()),
        E::AddFailed(v)
        | E::UpdateFailed(v)
        | E::DeleteFailed(v)
        | E::ClearFailed(v)
        | E::GetFailed(v)
        | E::GetAllFailed(v)
        | E::IndexedDbOpenFailed(v)
        | E::IndexedDbNotFound(v)
        | E::TransactionOpenFailed(v)
        | E::TransactionAbortError(v)
        | E::TransactionCommitError(v)
        | E::ObjectStoreCreateFailed(v) => v,
        _ => return None,
    };
    value
        .dyn_ref::<web_sys::DomException>()
        .map(web_sys::DomException::name)
}

pub(crate) fn err_text(err: &rexie::Error) -> String {
    match err {
        rexie::Error::IdbError(e) => e.to_string(),
        other => other.to_string(),
    }
}
