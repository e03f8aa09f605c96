//! The record: the unit of storage and sync.

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;

/// Where a record lives: its collection and its id inside that collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordKey {
    pub collection: String,
    pub id: String,
}

impl RecordKey {
    pub fn new(collection: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            collection: collection.into(),
            id: id.into(),
        }
    }
}

/// One versioned value. `hlc` is the clock of the change that wrote it; a delete is a
/// tombstone (`deleted: true`, `value: null`) so that it can win over older writes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub collection: String,
    pub id: String,
    pub value: serde_json::Value,
    pub hlc: Hlc,
    #[serde(default)]
    pub deleted: bool,
}

impl Record {
    /// A live record holding `value`.
    pub fn new(key: RecordKey, value: serde_json::Value, hlc: Hlc) -> Self {
        Self {
            collection: key.collection,
            id: key.id,
            value,
            hlc,
            deleted: false,
        }
    }

    /// A tombstone for `key`.
    pub fn tombstone(key: RecordKey, hlc: Hlc) -> Self {
        Self {
            collection: key.collection,
            id: key.id,
            value: serde_json::Value::Null,
            hlc,
            deleted: true,
        }
    }

    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.collection.clone(), self.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::DeviceId;
    use serde_json::json;

    #[test]
    fn round_trips_through_json_with_the_clock_as_a_string() {
        let hlc = Hlc::new(7, 0, DeviceId::new("dev").unwrap()).unwrap();
        let record = Record::new(RecordKey::new("notes", "n1"), json!({"title": "hi"}), hlc);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json,
            json!({"collection": "notes", "id": "n1", "value": {"title": "hi"},
                   "hlc": "000000000007-00000000-dev", "deleted": false})
        );
        assert_eq!(serde_json::from_value::<Record>(json).unwrap(), record);
    }

    #[test]
    fn tombstones_carry_no_value() {
        let hlc = Hlc::new(7, 0, DeviceId::new("dev").unwrap()).unwrap();
        let t = Record::tombstone(RecordKey::new("notes", "n1"), hlc);
        assert!(t.deleted);
        assert_eq!(t.value, serde_json::Value::Null);
        assert_eq!(t.key(), RecordKey::new("notes", "n1"));
    }
}
