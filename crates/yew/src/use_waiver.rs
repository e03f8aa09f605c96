use serde::{Deserialize, Serialize};
use yew::prelude::*;

use crate::saver::SaveStatus;
use crate::use_persistent_state::{use_persistent_state_with, PersistOptions, PersistentState};

const DAY_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;

/// A waiver or consent the user can sign: its id, and the version of its current text.
/// Changing the text means a new `text_version`, which makes earlier signatures invalid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaiverKind {
    pub id: &'static str,
    pub text_version: u32,
    /// How long a signature is valid; `None` for no expiry.
    pub valid_for_days: Option<u32>,
}

/// A signature, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaiverRecord {
    pub text_version: u32,
    pub signer: String,
    /// ms since the epoch.
    pub signed_at: f64,
    pub expires_at: Option<f64>,
}

impl WaiverRecord {
    /// Valid at `now` for the waiver text `current_version`: not expired, and signed for
    /// that very text.
    pub fn is_valid_at(&self, current_version: u32, now: f64) -> bool {
        self.text_version == current_version && self.expires_at.is_none_or(|expires| now < expires)
    }
}

/// The handle returned by [`use_waiver`].
pub struct Waiver {
    kind: WaiverKind,
    record: PersistentState<Option<WaiverRecord>>,
}

impl Waiver {
    /// The signature, if any (valid or not). A record without a signer, refused by the
    /// validator and never stored, is no signature.
    pub fn record(&self) -> Option<&WaiverRecord> {
        self.record
            .value()
            .as_ref()
            .filter(|r| !r.signer.is_empty())
    }

    /// Signs the current text as `signer` (refused, with the status saying why, when the
    /// name is empty).
    pub fn sign(&self, signer: &str) {
        let now = js_sys::Date::now();
        self.record.set(Some(WaiverRecord {
            text_version: self.kind.text_version,
            signer: signer.trim().to_owned(),
            signed_at: now,
            expires_at: self
                .kind
                .valid_for_days
                .map(|days| now + f64::from(days) * DAY_MS),
        }));
    }

    pub fn revoke(&self) {
        self.record.set(None);
    }

    /// Signed for the current text and not expired.
    pub fn is_valid(&self) -> bool {
        self.record()
            .is_some_and(|r| r.is_valid_at(self.kind.text_version, js_sys::Date::now()))
    }

    /// Signed, but for an older text: the user must consent again.
    pub fn needs_reconsent(&self) -> bool {
        self.record()
            .is_some_and(|r| r.text_version != self.kind.text_version)
    }

    pub fn status(&self) -> &SaveStatus {
        self.record.status()
    }
}

/// The user's signature of the waiver `kind`, kept in the record `collection`/`kind.id`.
#[hook]
pub fn use_waiver(collection: &str, kind: WaiverKind) -> Waiver {
    let record = use_persistent_state_with(
        collection,
        kind.id,
        None,
        PersistOptions::default()
            .debounce_ms(0)
            .validate(|record: &Option<WaiverRecord>| match record {
                Some(r) if r.signer.is_empty() => Err("Type your full name to sign.".into()),
                _ => Ok(()),
            }),
    );
    Waiver { kind, record }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(version: u32, expires_at: Option<f64>) -> WaiverRecord {
        WaiverRecord {
            text_version: version,
            signer: "Ada".into(),
            signed_at: 1_000.0,
            expires_at,
        }
    }

    #[test]
    fn valid_until_it_expires() {
        let r = signed(2, Some(5_000.0));
        assert!(r.is_valid_at(2, 4_999.0));
        assert!(!r.is_valid_at(2, 5_000.0));
    }

    #[test]
    fn without_expiry_it_stays_valid() {
        assert!(signed(2, None).is_valid_at(2, f64::MAX));
    }

    #[test]
    fn a_new_text_version_needs_consent_again() {
        assert!(!signed(1, None).is_valid_at(2, 2_000.0));
    }
}
