//! The account on this device: signing up, in and out, what happens to this device's data
//! when the account changes ([`AccountSwitch`]), and the account's sessions on the
//! server.

use cairn_protocol::api::{Credentials, EndedSessions, Session, SessionInfo};
use cairn_protocol::limits;

use super::http::json_body;
use super::notices::announce;
use super::{StoredSession, SyncEngine, SyncError};
use crate::codec::now_ms;
use crate::StoreError;

/// What to do with this device's data when signing in to an account other than the one
/// it belongs to (the account it last synced with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSwitch {
    /// Push everything this device holds into the new account too.
    KeepData,
    /// Start the new account empty here: a local snapshot keeps the old account's data
    /// (restorable from the Storage page), then it is cleared from this device.
    StartEmpty,
}

impl SyncEngine<'_> {
    /// The signed-in account, if any (an expired session counts as signed out).
    pub async fn session(&self) -> Result<Option<StoredSession>, StoreError> {
        let session = self.stored_session().await?;
        Ok(session.filter(|s| s.expires_at > now_ms()))
    }

    /// Registers an account and signs in to it. Fails with
    /// [`SyncError::DataOfAnotherAccount`] (creating nothing) when this device's data
    /// belongs to another account: then ask, and call [`SyncEngine::sign_up_with`].
    pub async fn sign_up(&self, email: &str, password: &str) -> Result<StoredSession, SyncError> {
        self.start_session("/api/v1/accounts", email, password, None)
            .await
    }

    /// Signs in to an existing account. Fails with [`SyncError::DataOfAnotherAccount`]
    /// when this device's data belongs to another account: then ask, and call
    /// [`SyncEngine::sign_in_with`].
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<StoredSession, SyncError> {
        self.start_session("/api/v1/sessions", email, password, None)
            .await
    }

    /// [`SyncEngine::sign_in`], with the user's answer for this device's data.
    pub async fn sign_in_with(
        &self,
        email: &str,
        password: &str,
        choice: AccountSwitch,
    ) -> Result<StoredSession, SyncError> {
        self.start_session("/api/v1/sessions", email, password, Some(choice))
            .await
    }

    /// [`SyncEngine::sign_up`], with the user's answer for this device's data.
    pub async fn sign_up_with(
        &self,
        email: &str,
        password: &str,
        choice: AccountSwitch,
    ) -> Result<StoredSession, SyncError> {
        self.start_session("/api/v1/accounts", email, password, Some(choice))
            .await
    }

    /// The account this device's data belongs to (the one it last synced with), if any.
    pub async fn data_account(&self) -> Result<Option<String>, StoreError> {
        Ok(self.pull_position().await?.map(|p| p.email))
    }

    async fn start_session(
        &self,
        path: &str,
        email: &str,
        password: &str,
        choice: Option<AccountSwitch>,
    ) -> Result<StoredSession, SyncError> {
        let credentials = Credentials {
            email: limits::normalize_email(email),
            password: password.to_owned(),
        };
        let owner = self.data_account().await?;
        let switching = owner.as_ref().is_some_and(|o| *o != credentials.email);
        if let (true, None, Some(account)) = (switching, choice, owner) {
            // Asked before anything happens on the server: nothing to undo.
            return Err(SyncError::DataOfAnotherAccount { account });
        }
        let body = json_body(&credentials)?;
        let session: Session = match self.call("POST", path, None, Some(body)).await {
            // A 401 here is a wrong e-mail or password, not an expired session.
            Err(SyncError::Unauthorized) => {
                return Err(SyncError::Refused {
                    status: 401,
                    code: "invalid_credentials".into(),
                    message: "wrong e-mail address or password".into(),
                })
            }
            other => other?,
        };
        let stored = StoredSession {
            email: credentials.email,
            token: session.token,
            expires_at: session.expires_at,
        };
        // Another account than the one this device synced with: as the user chose. Either
        // way pulling starts from the beginning of the new account.
        if switching {
            match choice {
                Some(AccountSwitch::StartEmpty) => {
                    self.store.set_data_aside().await?;
                }
                _ => {
                    // The records queued, and the local blobs they name marked for
                    // upload to the new account.
                    self.store.queue_everything().await?;
                }
            }
            self.forget_pull_position().await?;
        }
        self.store_session(Some(&stored)).await?;
        announce(self.store, None);
        Ok(stored)
    }

    /// Signs out: ends the session on the server (best effort) and forgets it here.
    /// Local data and the outbox stay.
    pub async fn sign_out(&self) -> Result<(), StoreError> {
        if let Some(session) = self.session().await? {
            let _ = self
                .call::<serde::de::IgnoredAny>(
                    "DELETE",
                    "/api/v1/sessions/current",
                    Some(&session.token),
                    None,
                )
                .await;
        }
        self.store_session(None).await?;
        announce(self.store, None);
        Ok(())
    }

    /// The signed-in account's sessions (this device's marked `current`), most recently
    /// used first.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, SyncError> {
        let session = self.session().await?.ok_or(SyncError::SignedOut)?;
        self.call("GET", "/api/v1/sessions", Some(&session.token), None)
            .await
    }

    /// Ends every session of the signed-in account but this device's (a lost phone, a
    /// borrowed computer); returns how many ended.
    pub async fn end_other_sessions(&self) -> Result<u64, SyncError> {
        let session = self.session().await?.ok_or(SyncError::SignedOut)?;
        let ended: EndedSessions = self
            .call(
                "DELETE",
                "/api/v1/sessions/others",
                Some(&session.token),
                None,
            )
            .await?;
        Ok(ended.ended)
    }
}
