use serde::{Deserialize, Serialize};
use yew::prelude::*;

use crate::saver::SaveStatus;
use crate::use_persistent_state::{use_persistent_state_with, PersistOptions, PersistentState};

const DAY_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;

/// A waiver or consent the user can sign: its id, and the version of its current text.
/// Changing the text means a new `text_version`, which makes earlier signatures invalid.
///
/// ```
/// use cairn_yew::WaiverKind;
///
/// const TERMS: WaiverKind = WaiverKind { id: "terms", text_version: 3, valid_for_days: Some(365) };
/// assert_eq!(TERMS.text_version, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaiverKind {
    /// The id of its record.
    pub id: &'static str,
    /// The version of the text signatures are valid for.
    pub text_version: u32,
    /// How long a signature is valid; `None` for no expiry.
    pub valid_for_days: Option<u32>,
}

/// A signature, as stored.
///
/// ```
/// let signature = cairn_yew::WaiverRecord {
///     text_version: 3,
///     signer: "Ada Lovelace".into(),
///     signed_at: 1_000.0,
///     expires_at: None,
/// };
/// assert!(signature.is_valid_at(3, 2_000.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaiverRecord {
    /// The version of the text that was signed.
    pub text_version: u32,
    /// The name typed to sign.
    pub signer: String,
    /// ms since the epoch.
    pub signed_at: f64,
    /// When the signature stops being valid (ms since the epoch); `None` for never.
    pub expires_at: Option<f64>,
}

impl WaiverRecord {
    /// Valid at `now` for the waiver text `current_version`: not expired, and signed for
    /// that very text.
    ///
    /// ```
    /// let signature = cairn_yew::WaiverRecord {
    ///     text_version: 2, signer: "Ada".into(), signed_at: 0.0, expires_at: Some(5_000.0),
    /// };
    /// assert!(signature.is_valid_at(2, 4_999.0));
    /// assert!(!signature.is_valid_at(2, 5_000.0), "expired");
    /// assert!(!signature.is_valid_at(3, 0.0), "signed for an older text");
    /// ```
    pub fn is_valid_at(&self, current_version: u32, now: f64) -> bool {
        self.text_version == current_version && self.expires_at.is_none_or(|expires| now < expires)
    }
}

/// The handle returned by [`use_waiver`].
///
/// ```no_run
/// # fn run(terms: cairn_yew::Waiver) {
/// if terms.needs_reconsent() { /* show what changed */ }
/// # }
/// ```
pub struct Waiver {
    kind: WaiverKind,
    record: PersistentState<Option<WaiverRecord>>,
}

impl Waiver {
    /// The signature, if any (valid or not). A record without a signer, refused by the
    /// validator and never stored, is no signature.
    ///
    /// ```no_run
    /// # fn run(terms: cairn_yew::Waiver) {
    /// let signed_by = terms.record().map(|r| r.signer.clone());
    /// # }
    /// ```
    pub fn record(&self) -> Option<&WaiverRecord> {
        self.record
            .value()
            .as_ref()
            .filter(|r| !r.signer.is_empty())
    }

    /// Signs the current text as `signer` (refused, with the status saying why, when the
    /// name is empty).
    ///
    /// ```no_run
    /// # fn run(terms: cairn_yew::Waiver) {
    /// terms.sign("Ada Lovelace");
    /// # }
    /// ```
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

    /// Withdraws the signature (stores none).
    ///
    /// ```no_run
    /// # fn run(terms: cairn_yew::Waiver) {
    /// terms.revoke();
    /// # }
    /// ```
    pub fn revoke(&self) {
        self.record.set(None);
    }

    /// Signed for the current text and not expired.
    ///
    /// ```no_run
    /// # fn run(terms: cairn_yew::Waiver) {
    /// let may_continue = terms.is_valid();
    /// # }
    /// ```
    pub fn is_valid(&self) -> bool {
        self.record()
            .is_some_and(|r| r.is_valid_at(self.kind.text_version, js_sys::Date::now()))
    }

    /// Signed, but for an older text: the user must consent again.
    ///
    /// ```no_run
    /// # fn run(terms: cairn_yew::Waiver) {
    /// let ask_again = terms.needs_reconsent();
    /// # }
    /// ```
    pub fn needs_reconsent(&self) -> bool {
        self.record()
            .is_some_and(|r| r.text_version != self.kind.text_version)
    }

    /// Whether the signature (or its withdrawal) is stored, or why it was refused.
    ///
    /// ```no_run
    /// # fn run(terms: cairn_yew::Waiver) {
    /// if let cairn_yew::SaveStatus::Error(why) = terms.status() { gloo::console::warn!(why.clone()); }
    /// # }
    /// ```
    pub fn status(&self) -> &SaveStatus {
        self.record.status()
    }
}

/// The user's signature of the waiver `kind`, kept in the record `collection`/`kind.id`.
///
/// ```no_run
/// use cairn_yew::{use_waiver, WaiverKind};
/// use yew::prelude::*;
///
/// const TERMS: WaiverKind = WaiverKind { id: "terms", text_version: 1, valid_for_days: None };
///
/// #[function_component]
/// fn Terms() -> Html {
///     let terms = std::rc::Rc::new(use_waiver("waivers", TERMS));
///     let sign = {
///         let terms = terms.clone();
///         Callback::from(move |_| terms.sign("Ada"))
///     };
///     html! { if !terms.is_valid() { <button onclick={sign}>{ "I agree" }</button> } }
/// }
/// ```
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
