//! Notes: the record type and the hook for the list of all notes.
//!
//! A note is one record of collection [`NOTES`] whose id is the note's id and whose value
//! is a [`Note`] object. Other values in the collection (Home's scratchpad is a plain
//! string) are not notes and are left out.

use std::collections::HashMap;
use std::rc::Rc;

use cairn_protocol::{Hlc, Record, RecordKey};
use serde::{Deserialize, Serialize};
use yew::platform::spawn_local;
use yew::prelude::*;

use super::persistence::{use_persistence, Persistence};

/// The collection notes are kept in.
pub const NOTES: &str = "notes";

/// A note as stored (and synced).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// An image attached to a note. The bytes are a local blob with the same id
/// (`Store::get_blob`); they are not synced, so other devices may not have them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoteImage {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub mime: String,
    pub size: f64,
}

impl Note {
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

    /// The note in `record`, unless it is a tombstone or not a note.
    pub fn from_record(record: &Record) -> Option<Note> {
        if record.deleted {
            None
        } else {
            Note::from_value(&record.value)
        }
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

/// The newest version seen of each record of the collection: `None` for a tombstone or a
/// value that is not a note.
#[derive(Default, PartialEq)]
struct NotesState {
    loaded: bool,
    error: Option<String>,
    notes: HashMap<String, (Hlc, Option<Note>)>,
}

enum NotesAction {
    Loaded(Vec<Record>),
    Changed(Record),
    Failed(String),
}

impl NotesState {
    fn merge(&mut self, record: Record) {
        let newer = self
            .notes
            .get(&record.id)
            .is_none_or(|(hlc, _)| *hlc <= record.hlc);
        if newer {
            let note = Note::from_record(&record);
            self.notes.insert(record.id, (record.hlc, note));
        }
    }
}

impl Reducible for NotesState {
    type Action = NotesAction;

    fn reduce(self: Rc<Self>, action: NotesAction) -> Rc<Self> {
        let mut next = NotesState {
            loaded: self.loaded,
            error: self.error.clone(),
            notes: self.notes.clone(),
        };
        match action {
            NotesAction::Loaded(records) => {
                next.loaded = true;
                for record in records {
                    next.merge(record);
                }
            }
            NotesAction::Changed(record) => next.merge(record),
            NotesAction::Failed(error) => next.error = Some(error),
        }
        Rc::new(next)
    }
}

/// The handle returned by [`use_notes`].
#[derive(Clone)]
pub struct NotesHandle {
    persistence: Persistence,
    state: UseReducerHandle<NotesState>,
}

impl NotesHandle {
    /// False until the collection has been read.
    pub fn is_loaded(&self) -> bool {
        self.state.loaded
    }

    /// The last error of reading or writing notes, if any.
    pub fn error(&self) -> Option<String> {
        self.state.error.clone()
    }

    /// Every note, newest (last updated) first.
    pub fn all(&self) -> Vec<(String, Note)> {
        let mut notes: Vec<_> = self
            .state
            .notes
            .iter()
            .filter_map(|(id, (_, note))| Some((id.clone(), note.clone()?)))
            .collect();
        notes.sort_by(|(a_id, a), (b_id, b)| {
            b.updated_at
                .total_cmp(&a.updated_at)
                .then_with(|| a_id.cmp(b_id))
        });
        notes
    }

    /// Creates an empty note; `on_created` gets its id once it is stored.
    pub fn create(&self, on_created: Callback<String>) {
        let (persistence, state) = (self.persistence.clone(), self.state.clone());
        spawn_local(async move {
            let result = async {
                let id = cairn_client::random_id()?;
                let note = Note::new(js_sys::Date::now());
                let value = serde_json::to_value(&note)
                    .map_err(|e| cairn_client::StoreError::Encode(e.to_string()))?;
                let record = persistence
                    .store()
                    .write(RecordKey::new(NOTES, id.clone()), value)
                    .await?;
                persistence.wrote(record);
                Ok::<_, cairn_client::StoreError>(id)
            }
            .await;
            match result {
                Ok(id) => on_created.emit(id),
                Err(e) => state.dispatch(NotesAction::Failed(format!(
                    "The note could not be created: {e}"
                ))),
            }
        });
    }

    /// Writes a deleted note back (a new change, so it syncs like any other).
    pub fn restore(&self, deleted: DeletedNote) {
        let (persistence, state) = (self.persistence.clone(), self.state.clone());
        spawn_local(async move {
            let value = serde_json::to_value(&deleted.note).unwrap_or_default();
            match persistence
                .store()
                .write(RecordKey::new(NOTES, deleted.id), value)
                .await
            {
                Ok(record) => persistence.wrote(record),
                Err(e) => state.dispatch(NotesAction::Failed(format!(
                    "The note could not be restored: {e}"
                ))),
            }
        });
    }

    /// Deletes the local blobs of a deleted note's images (once it can no longer be
    /// restored).
    pub fn discard_images(&self, note: &Note) {
        let persistence = self.persistence.clone();
        let ids: Vec<String> = note.images.iter().map(|i| i.id.clone()).collect();
        spawn_local(async move {
            for id in ids {
                let _ = persistence.store().delete_blob(&id).await;
            }
        });
    }
}

/// All notes, loaded on mount and kept current: changes made here, in other tabs, or
/// pulled by sync appear as they happen.
#[hook]
pub fn use_notes() -> NotesHandle {
    let persistence = use_persistence();
    let state = use_reducer(NotesState::default);
    {
        let dispatcher = state.dispatcher();
        use_effect_with(persistence.clone(), move |persistence| {
            // Watch first, so nothing that changes while loading is missed.
            let changes = dispatcher.clone();
            let registration = persistence.watch_collection(
                NOTES,
                Callback::from(move |record| changes.dispatch(NotesAction::Changed(record))),
            );
            let persistence = persistence.clone();
            spawn_local(async move {
                match persistence.store().load_collection(NOTES).await {
                    Ok(loaded) => dispatcher.dispatch(NotesAction::Loaded(loaded.records)),
                    Err(e) => dispatcher.dispatch(NotesAction::Failed(format!(
                        "Notes could not be loaded: {e}"
                    ))),
                }
            });
            move || drop(registration)
        });
    }
    NotesHandle { persistence, state }
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
