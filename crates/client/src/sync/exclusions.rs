//! Collections this device keeps off sync (a device setting in `meta`, never synced):
//! their changes are neither pushed nor taken from the server.

use super::notices::announce;
use super::SyncEngine;
use crate::schema::META_SYNC_EXCLUDED;
use crate::StoreError;

impl SyncEngine<'_> {
    /// The collections this device keeps to itself: their changes are neither pushed nor
    /// taken from the server (a device setting, kept in `meta`, not synced).
    pub async fn excluded_collections(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .store
            .meta::<Vec<String>>(META_SYNC_EXCLUDED)
            .await?
            .unwrap_or_default())
    }

    /// Sets the collections kept off sync. Changes to them stay queued, so they are
    /// pushed if the collection is included again; including one again also pulls
    /// everything from the start once, to catch up on what was skipped.
    pub async fn set_excluded_collections(&self, excluded: &[String]) -> Result<(), StoreError> {
        let before = self.excluded_collections().await?;
        let mut excluded = excluded.to_vec();
        excluded.sort();
        excluded.dedup();
        if before.iter().any(|c| !excluded.contains(c)) {
            self.forget_pull_position().await?;
        }
        self.store
            .set_meta(META_SYNC_EXCLUDED, Some(&excluded))
            .await?;
        announce(self.store, None);
        Ok(())
    }
}
