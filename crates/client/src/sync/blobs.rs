//! Blobs and the server: the upload phase before every push (each blob marked here →
//! `PUT /api/v1/blobs/{hash}`), fetching a blob this device lacks, and the account's
//! blob usage.
//!
//! A 2xx upload clears the blob's mark. `413 blob_too_large` and `507 quota_exceeded`
//! stop uploading for the rest of the round and are reported with the server's message
//! ([`SyncReport::upload_problem`]); another refusal of one blob (e.g. `400
//! hash_mismatch`) is reported and the others go on. Nothing is dropped: the mark and the
//! bytes stay, and the changes naming the blob stay queued (held back) until it is
//! uploaded. A failure that stops the whole round (offline, network, 5xx, 401) ends the
//! phase with that error; a crash mid-upload leaves the mark, and the next round uploads
//! again (PUT is idempotent).

use cairn_protocol::api::BlobUsage;
use cairn_protocol::blobs::{is_hash, short};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use super::http::{describe, js_error};
use super::{StoredSession, SyncEngine, SyncError, SyncReport};
use crate::global;
use crate::StoredBlob;

/// What the upload phase does after one blob's upload failed with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Stop uploading for this round (the account's quota, the per-file limit) and go on
    /// with the push of what is not held back.
    StopUploads,
    /// Report it and go on with the next blob (this one was refused on its own).
    NextBlob,
    /// End the phase with the error: the server cannot be reached or will not take this
    /// session, so the push would not get through either.
    Fail,
}

/// What follows a failed upload ([`AfterFailure`]).
pub(crate) fn after_failure(error: &SyncError) -> AfterFailure {
    match error {
        SyncError::Refused { status, code, .. }
            if *status == 413 || code == "blob_too_large" || code == "quota_exceeded" =>
        {
            AfterFailure::StopUploads
        }
        SyncError::Server { status: 507, .. } => AfterFailure::StopUploads,
        SyncError::Refused { .. } | SyncError::BadReply(_) => AfterFailure::NextBlob,
        _ => AfterFailure::Fail,
    }
}

/// A failed upload as the problem a round reports: a quota or size refusal keeps the
/// server's message, as a refusal (not a transient server failure).
fn as_problem(error: SyncError) -> SyncError {
    match error {
        SyncError::Server {
            status: 507,
            message,
        } => SyncError::Refused {
            status: 507,
            code: "quota_exceeded".into(),
            message,
        },
        other => other,
    }
}

impl SyncEngine<'_> {
    /// The upload phase: puts every blob marked here on the server, clearing each mark
    /// that a 2xx answers (see the module docs). Skipped once this round met a quota or
    /// size refusal.
    pub(super) async fn upload_marked(
        &self,
        session: &StoredSession,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        if report.uploads_stopped {
            return Ok(());
        }
        for hash in self.store.upload_marks().await? {
            let Some(stored) = self.store.get_blob(&hash).await? else {
                // Nothing left to upload (its row was deleted): a change naming it will
                // be refused by the server with the reason, and set aside.
                self.store.clear_upload_mark(&hash).await?;
                continue;
            };
            match self.upload(session, &hash, &stored.blob).await {
                Ok(_) => {
                    self.store.clear_upload_mark(&hash).await?;
                    report.uploaded += 1;
                }
                Err(e) => match after_failure(&e) {
                    AfterFailure::StopUploads => {
                        report.uploads_stopped = true;
                        report.upload_problem = Some(as_problem(e));
                        return Ok(());
                    }
                    AfterFailure::NextBlob => {
                        report.upload_problem.get_or_insert(e);
                    }
                    AfterFailure::Fail => return Err(e),
                },
            }
        }
        Ok(())
    }

    /// `PUT /api/v1/blobs/{hash}` with `blob`'s bytes and type.
    async fn upload(
        &self,
        session: &StoredSession,
        hash: &str,
        blob: &Blob,
    ) -> Result<(), SyncError> {
        let mime = blob.type_();
        let content_type = if mime.is_empty() {
            "application/octet-stream"
        } else {
            mime.as_str()
        };
        // A 2xx is the answer (`StoredBlob`, created or already held): its body is not
        // needed.
        self.send(
            "PUT",
            &format!("/api/v1/blobs/{hash}"),
            Some(&session.token),
            Some((blob.clone().into(), content_type)),
            "application/json",
        )
        .await?;
        Ok(())
    }

    /// The blob `hash`: this device's row if it has one, else fetched from the server
    /// (`GET /api/v1/blobs/{hash}` with the session), checked against its hash and
    /// stored here without an upload mark. Fails with [`SyncError::SignedOut`] when not
    /// signed in, [`SyncError::Offline`] when offline, and a [`SyncError::Refused`]
    /// (status 404, code `not_found`) saying the server does not have it.
    pub async fn fetch_blob(&self, hash: &str) -> Result<StoredBlob, SyncError> {
        if let Some(stored) = self.store.get_blob(hash).await? {
            return Ok(stored);
        }
        if !is_hash(hash) {
            return Err(SyncError::Refused {
                status: 400,
                code: "bad_request".into(),
                message: format!("“{hash}” is not the name of an image"),
            });
        }
        let session = self.session().await?.ok_or(SyncError::SignedOut)?;
        if !global::is_online() {
            return Err(SyncError::Offline);
        }
        let response = self
            .send(
                "GET",
                &format!("/api/v1/blobs/{hash}"),
                Some(&session.token),
                None,
                "*/*",
            )
            .await
            .map_err(|e| match e {
                SyncError::Refused { status: 404, .. } => SyncError::Refused {
                    status: 404,
                    code: "not_found".into(),
                    message: format!(
                        "the image {} is not on the sync server (the device that added it \
                         has not uploaded it yet)",
                        short(hash)
                    ),
                },
                other => other,
            })?;
        let blob: Blob = JsFuture::from(response.blob().map_err(js_error)?)
            .await
            .map_err(|e| SyncError::Network(describe(&e)))?
            .unchecked_into();
        let got = crate::hash_blob(&blob).await?;
        if got != hash {
            return Err(SyncError::BadReply(format!(
                "the server sent other bytes for the image {}",
                short(hash)
            )));
        }
        Ok(self.store.put_fetched_blob(hash, &blob).await?)
    }

    /// How much the signed-in account's blobs hold on the server, and its limits
    /// (`GET /api/v1/blobs`).
    pub async fn blob_usage(&self) -> Result<BlobUsage, SyncError> {
        let session = self.session().await?.ok_or(SyncError::SignedOut)?;
        if !global::is_online() {
            return Err(SyncError::Offline);
        }
        self.call("GET", "/api/v1/blobs", Some(&session.token), None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, code: &str) -> SyncError {
        SyncError::Refused {
            status,
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn quota_and_size_refusals_stop_the_uploads_of_the_round() {
        assert_eq!(
            after_failure(&refused(413, "blob_too_large")),
            AfterFailure::StopUploads
        );
        let full = SyncError::Server {
            status: 507,
            message: "used 1024 MB of 1024 MB".into(),
        };
        assert_eq!(after_failure(&full), AfterFailure::StopUploads);
        assert_eq!(
            as_problem(full),
            SyncError::Refused {
                status: 507,
                code: "quota_exceeded".into(),
                message: "used 1024 MB of 1024 MB".into()
            }
        );
    }

    #[test]
    fn a_refusal_of_one_blob_goes_on_with_the_next() {
        assert_eq!(
            after_failure(&refused(400, "hash_mismatch")),
            AfterFailure::NextBlob
        );
        assert_eq!(
            after_failure(&SyncError::BadReply("x".into())),
            AfterFailure::NextBlob
        );
    }

    #[test]
    fn unreachable_or_unauthorized_ends_the_phase() {
        for e in [
            SyncError::Offline,
            SyncError::Unauthorized,
            SyncError::Network("x".into()),
            SyncError::RateLimited { retry_after_s: 1 },
            SyncError::Server {
                status: 503,
                message: "x".into(),
            },
        ] {
            assert_eq!(after_failure(&e), AfterFailure::Fail, "{e:?}");
        }
    }
}
