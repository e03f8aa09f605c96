//! Notes: the record type and the hook for the list of all notes.
//!
//! A note is one record of collection [`NOTES`] whose id is the note's id and whose value
//! is a [`Note`] object. Other values in the collection (Home's scratchpad is a plain
//! string) are not notes and are left out. The list is [`cairn_yew::use_collection`]'s.

use cairn_yew::{use_collection, use_persistence, CollectionHandle, Deleted, Persistence};
use serde::{Deserialize, Serialize};
use yew::platform::spawn_local;
use yew::prelude::*;

/// The collection notes are kept in.
pub const NOTES: &str = "notes";

/// A note as stored (and synced). Its stored value also lists its images' hashes in the
/// top-level `blobs` ([`cairn_protocol::blobs`]), written from `images` on every save, so
/// that the images travel with the note and the server holds each before the note.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Note {
    pub title: String,
    pub body: String,
    /// Milliseconds since the epoch.
    pub created_at: f64,
    /// Milliseconds since the epoch; the list is ordered by it, newest first.
    pub updated_at: f64,
    pub images: Vec<NoteImage>,
}

/// An image attached to a note. Its id is the SHA-256 of its bytes (a blob synced with the
/// note, fetched from the server by a device that lacks it), or for an image added before
/// images synced, a random id naming a blob that only the device that added it has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoteImage {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub mime: String,
    pub size: f64,
}

/// How a [`Note`] is stored: its fields, and `blobs`, the hashes among its images' ids.
#[derive(Serialize)]
struct StoredNote<'a> {
    title: &'a str,
    body: &'a str,
    created_at: f64,
    updated_at: f64,
    images: &'a [NoteImage],
    blobs: Vec<&'a str>,
}

impl Serialize for Note {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredNote {
            title: &self.title,
            body: &self.body,
            created_at: self.created_at,
            updated_at: self.updated_at,
            images: &self.images,
            blobs: self.blobs(),
        }
        .serialize(serializer)
    }
}

impl Note {
    /// The blobs the note names: the ids of its images that are hashes (each once).
    pub fn blobs(&self) -> Vec<&str> {
        let mut hashes: Vec<&str> = Vec::new();
        for id in self.images.iter().map(|i| i.id.as_str()) {
            if cairn_protocol::blobs::is_hash(id) && !hashes.contains(&id) {
                hashes.push(id);
            }
        }
        hashes
    }

    /// An empty note created at `now`.
    pub fn new(now: f64) -> Note {
        Note {
            created_at: now,
            updated_at: now,
            ..Note::default()
        }
    }

    /// The note in a stored value, or `None` if the value is not a note object.
    pub fn from_value(value: &serde_json::Value) -> Option<Note> {
        if !value.is_object() {
            return None;
        }
        serde_json::from_value(value.clone()).ok()
    }

    /// Whether the title or text contains `query`, ignoring case (an empty query matches).
    pub fn matches(&self, query: &str) -> bool {
        let query = query.trim().to_lowercase();
        query.is_empty()
            || self.title.to_lowercase().contains(&query)
            || self.body.to_lowercase().contains(&query)
    }

    /// The title, or a stand-in for a note without one.
    pub fn display_title(&self) -> &str {
        let title = self.title.trim();
        if title.is_empty() {
            "Untitled note"
        } else {
            title
        }
    }
}

/// A note just deleted, kept in memory so that it can be restored (Undo).
#[derive(Debug, Clone, PartialEq)]
pub struct DeletedNote {
    pub id: String,
    pub note: Note,
}

/// The handle returned by [`use_notes`].
#[derive(Clone)]
pub struct NotesHandle {
    persistence: Persistence,
    notes: CollectionHandle<Note>,
}

impl NotesHandle {
    /// False until the collection has been read.
    pub fn is_loaded(&self) -> bool {
        self.notes.is_loaded()
    }

    /// The last error of reading or writing notes, if any.
    pub fn error(&self) -> Option<String> {
        self.notes.error()
    }

    /// Every note, newest (last updated) first.
    pub fn all(&self) -> Vec<(String, Note)> {
        let mut notes = self.notes.all();
        notes.sort_by(|(a_id, a), (b_id, b)| {
            b.updated_at
                .total_cmp(&a.updated_at)
                .then_with(|| a_id.cmp(b_id))
        });
        notes
    }

    /// Creates an empty note; `on_created` gets its id once it is stored.
    pub fn create(&self, on_created: Callback<String>) {
        self.notes
            .create(Note::new(js_sys::Date::now()), on_created);
    }

    /// Writes a deleted note back (a new change, so it syncs like any other).
    pub fn restore(&self, deleted: DeletedNote) {
        self.notes.restore(Deleted {
            id: deleted.id,
            value: deleted.note,
        });
    }

    /// Frees this device's copies of a deleted note's images, once the note can no
    /// longer be restored: every image no live note names any more (the server frees its
    /// copy after a grace period).
    pub fn discard_images(&self, note: &Note) {
        if note.images.is_empty() {
            return;
        }
        let persistence = self.persistence.clone();
        // Images added before images synced have random ids, each its note's own.
        let legacy: Vec<String> = note
            .images
            .iter()
            .map(|i| i.id.clone())
            .filter(|id| !cairn_protocol::blobs::is_hash(id))
            .collect();
        spawn_local(async move {
            let store = persistence.store();
            for id in legacy {
                let _ = store.delete_blob(&id).await;
            }
            let _ = store.release_unreferenced_blobs().await;
        });
    }
}

/// All notes, loaded on mount and kept current: changes made here, in other tabs, or
/// pulled by sync appear as they happen.
#[hook]
pub fn use_notes() -> NotesHandle {
    NotesHandle {
        persistence: use_persistence(),
        notes: use_collection::<Note>(NOTES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_note_objects_are_notes() {
        assert_eq!(Note::from_value(&json!("scratchpad text")), None);
        assert_eq!(Note::from_value(&json!(null)), None);
        let note = Note::from_value(&json!({"title": "T", "images": [{"id": "a", "name": "a.png", "type": "image/png", "size": 3}]}))
            .unwrap();
        assert_eq!(note.title, "T");
        assert_eq!(note.images[0].mime, "image/png");
    }

    #[test]
    fn a_stored_note_names_the_blobs_of_its_hashed_images_once() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let image = |id: &str| NoteImage {
            id: id.into(),
            name: "a.png".into(),
            mime: "image/png".into(),
            size: 3.0,
        };
        let note = Note {
            title: "T".into(),
            images: vec![image(hash), image("00ff00ff00ff00ff"), image(hash)],
            ..Note::default()
        };
        let value = serde_json::to_value(&note).unwrap();
        assert_eq!(value["blobs"], json!([hash]));
        assert_eq!(
            cairn_protocol::blobs::referenced(&value),
            vec![hash.to_owned()]
        );
        // Read back, it is the same note (`blobs` is derived, not kept).
        assert_eq!(Note::from_value(&value), Some(note));
    }

    #[test]
    fn search_ignores_case_in_title_and_body() {
        let note = Note {
            title: "Groceries".into(),
            body: "Eggs and MILK".into(),
            ..Note::default()
        };
        assert!(note.matches(""));
        assert!(note.matches("groc"));
        assert!(note.matches("milk"));
        assert!(!note.matches("bread"));
    }
}
