//! One note: whether it exists ([`use_note_lookup`]), editing it with autosave
//! ([`use_note`], on [`use_persistent_state_with`]) and its images (shown with
//! [`cairn_yew::use_blob`]).

use std::cell::RefCell;
use std::rc::Rc;

use cairn_protocol::{Record, RecordKey};
use yew::platform::spawn_local;
use yew::prelude::*;

use cairn_yew::{
    use_persistence, use_persistent_state_with, PersistOptions, Persistence, PersistentState,
    SaveStatus,
};

use super::use_notes::{Note, NoteImage, NOTES};

/// The largest image a note accepts, in bytes (10 MiB).
pub const MAX_IMAGE_BYTES: f64 = 10.0 * 1024.0 * 1024.0;

/// Whether the note at an id exists on this device.
#[derive(Debug, Clone, PartialEq)]
pub enum NoteLookup {
    Loading,
    Found,
    /// Never stored here (or not a note).
    Missing,
    /// Deleted (here, in another tab, or on another device).
    Deleted,
    Failed(String),
}

impl NoteLookup {
    fn of(record: Option<&Record>) -> NoteLookup {
        match record {
            None => NoteLookup::Missing,
            Some(r) if r.deleted => NoteLookup::Deleted,
            Some(r) if Note::from_value(&r.value).is_some() => NoteLookup::Found,
            Some(_) => NoteLookup::Missing,
        }
    }
}

/// Whether the note `id` exists, kept current as it changes (e.g. deleted elsewhere).
#[hook]
pub fn use_note_lookup(id: &str) -> NoteLookup {
    let persistence = use_persistence();
    let lookup = use_state(|| NoteLookup::Loading);
    {
        let lookup = lookup.setter();
        use_effect_with(id.to_owned(), move |id| {
            let key = RecordKey::new(NOTES, id.clone());
            let watched = lookup.clone();
            let registration = persistence.watch(
                key.clone(),
                Callback::from(move |record: Record| watched.set(NoteLookup::of(Some(&record)))),
            );
            lookup.set(NoteLookup::Loading);
            spawn_local(async move {
                lookup.set(match persistence.store().get(&key).await {
                    Ok(record) => NoteLookup::of(record.as_ref()),
                    Err(e) => NoteLookup::Failed(e.to_string()),
                });
            });
            move || drop(registration)
        });
    }
    (*lookup).clone()
}

/// The handle returned by [`use_note`].
#[derive(Clone)]
pub struct NoteHandle {
    id: String,
    persistence: Persistence,
    state: PersistentState<Note>,
    /// The newest value, ahead of `state` between a change and the next render, so that
    /// changes finishing later (stored images) never undo newer edits.
    latest: Rc<RefCell<Note>>,
    image_error: UseStateHandle<Option<String>>,
    adding_images: UseStateHandle<u32>,
    delete_requested: UseStateHandle<bool>,
    on_deleted: Rc<RefCell<Option<Callback<Note>>>>,
}

impl NoteHandle {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn note(&self) -> &Note {
        self.state.value()
    }

    /// False until the stored note has been read.
    pub fn is_loaded(&self) -> bool {
        self.state.is_loaded()
    }

    pub fn status(&self) -> &SaveStatus {
        self.state.status()
    }

    /// A change is waiting to be written.
    pub fn is_dirty(&self) -> bool {
        self.state.is_dirty()
    }

    /// Changes the note; it is saved after a short pause in typing.
    pub fn edit(&self, change: impl FnOnce(&mut Note)) {
        let mut note = self.latest.borrow().clone();
        change(&mut note);
        note.updated_at = js_sys::Date::now();
        *self.latest.borrow_mut() = note.clone();
        self.state.set(note);
    }

    pub fn set_title(&self, title: String) {
        self.edit(|n| n.title = title);
    }

    pub fn set_body(&self, body: String) {
        self.edit(|n| n.body = body);
    }

    /// Writes the pending change now.
    pub fn save_now(&self) {
        self.state.save_now();
    }

    /// Why the last images could not be added, if they could not.
    pub fn image_error(&self) -> Option<String> {
        (*self.image_error).clone()
    }

    /// True while images are being stored.
    pub fn is_adding_images(&self) -> bool {
        *self.adding_images > 0
    }

    /// Stores `files` as local blobs and attaches them to the note. Files that are not
    /// images, or larger than [`MAX_IMAGE_BYTES`], are refused with a message.
    pub fn add_images(&self, files: Vec<web_sys::File>) {
        let mut problems = Vec::new();
        let mut accepted = Vec::new();
        for file in files {
            let name = file.name();
            if !file.type_().starts_with("image/") {
                problems.push(format!("“{name}” is not an image."));
            } else if file.size() > MAX_IMAGE_BYTES {
                problems.push(format!(
                    "“{name}” is too large ({:.1} MB); images can be up to {} MB.",
                    file.size() / 1024.0 / 1024.0,
                    MAX_IMAGE_BYTES / 1024.0 / 1024.0
                ));
            } else {
                accepted.push(file);
            }
        }
        self.image_error
            .set((!problems.is_empty()).then(|| problems.join(" ")));
        if accepted.is_empty() {
            return;
        }
        let this = self.clone();
        this.adding_images.set(*this.adding_images + 1);
        spawn_local(async move {
            // Each file hashed: its id is the SHA-256 of its bytes.
            let mut blobs = Vec::new();
            for file in accepted {
                match cairn_client::StoredBlob::from_blob(&file.name(), &file).await {
                    Ok(blob) => blobs.push(blob),
                    Err(e) => problems.push(format!("“{}” could not be read: {e}", file.name())),
                }
            }
            // The same picture twice is one image.
            let attached = this.latest.borrow().images.clone();
            blobs.retain(|b| !attached.iter().any(|i| i.id == b.id));
            blobs.dedup_by(|a, b| a.id == b.id);
            let images: Vec<NoteImage> = blobs
                .iter()
                .map(|b| NoteImage {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    mime: b.mime.clone(),
                    size: b.size,
                })
                .collect();
            if !images.is_empty() {
                // The blobs, their uploads and the note naming them, in one transaction:
                // the note is never pushed before its images are uploaded.
                let mut note = this.latest.borrow().clone();
                note.images.extend(images.iter().cloned());
                note.updated_at = js_sys::Date::now();
                let stored = match serde_json::to_value(&note) {
                    Ok(value) => {
                        this.persistence
                            .store()
                            .put_record_with_blobs(
                                RecordKey::new(NOTES, this.id.clone()),
                                value,
                                &blobs,
                            )
                            .await
                    }
                    Err(e) => Err(cairn_client::StoreError::Encode(e.to_string())),
                };
                match stored {
                    // The editor shows them too (its next save writes the same images).
                    Ok(_) => this.edit(|n| n.images.extend(images)),
                    Err(e) => problems.push(format!("The images could not be stored: {e}")),
                }
            }
            this.image_error
                .set((!problems.is_empty()).then(|| problems.join(" ")));
            this.adding_images.set(0);
        });
    }

    /// Detaches the image `image_id` from the note, then frees this device's copy of
    /// every image no note names any more (the same picture may be in another note; the
    /// server frees its copy after a grace period).
    pub fn remove_image(&self, image_id: &str) {
        let mut note = self.latest.borrow().clone();
        note.images.retain(|i| i.id != image_id);
        note.updated_at = js_sys::Date::now();
        let id = image_id.to_owned();
        {
            let id = id.clone();
            self.edit(|n| n.images.retain(|i| i.id != id));
        }
        let (persistence, key) = (
            self.persistence.clone(),
            RecordKey::new(NOTES, self.id.clone()),
        );
        let image_error = self.image_error.clone();
        spawn_local(async move {
            // Committed first, so that the note no longer names it when blobs are freed.
            let store = persistence.store();
            let freed = async {
                let value = serde_json::to_value(&note)
                    .map_err(|e| cairn_client::StoreError::Encode(e.to_string()))?;
                store.write(key, value).await?;
                // An image added before images synced has a random id, its own.
                if !cairn_protocol::blobs::is_hash(&id) {
                    store.delete_blob(&id).await?;
                }
                store.release_unreferenced_blobs().await
            }
            .await;
            if let Err(e) = freed {
                image_error.set(Some(format!("The image could not be removed: {e}")));
            }
        });
    }

    /// Deletes the note (a tombstone, synced like any change) once what was typed is
    /// stored; `on_deleted` then gets the note as it was, for Undo. Its image blobs are
    /// kept, so Undo brings them back too.
    pub fn delete(&self, on_deleted: Callback<Note>) {
        *self.on_deleted.borrow_mut() = Some(on_deleted);
        self.state.save_now();
        self.delete_requested.set(true);
    }
}

/// The note `id`, editable, saved through the persistence machinery a moment after each
/// change (see [`use_persistent_state_with`]).
#[hook]
pub fn use_note(id: &str) -> NoteHandle {
    let persistence = use_persistence();
    let state = use_persistent_state_with(
        NOTES,
        id,
        Note::default(),
        PersistOptions::default().debounce_ms(600),
    );
    let latest = use_mut_ref(Note::default);
    *latest.borrow_mut() = state.value().clone();
    let image_error = use_state(|| None::<String>);
    let adding_images = use_state(|| 0);
    let delete_requested = use_state(|| false);
    let on_deleted = use_mut_ref(|| None::<Callback<Note>>);
    let deleting = use_mut_ref(|| false);

    // Delete once nothing is pending, so no earlier save can land after the tombstone.
    {
        let settled = !state.is_dirty() || matches!(state.status(), SaveStatus::Error(_));
        let (persistence, key, latest, on_deleted) = (
            persistence.clone(),
            RecordKey::new(NOTES, id),
            latest.clone(),
            on_deleted.clone(),
        );
        let (requested, image_error) = (delete_requested.clone(), image_error.clone());
        let pending = state.clone();
        use_effect_with((*delete_requested, settled), move |&(wanted, settled)| {
            if wanted && settled && !*deleting.borrow() {
                *deleting.borrow_mut() = true;
                // A change whose writes failed must not be written after the tombstone
                // (when the editor closes) and bring the note back.
                pending.discard_pending();
                let note = latest.borrow().clone();
                spawn_local(async move {
                    match persistence.store().delete(key).await {
                        Ok(tombstone) => {
                            if let Some(cb) = on_deleted.borrow_mut().take() {
                                cb.emit(note);
                            }
                            persistence.wrote(tombstone);
                        }
                        Err(e) => {
                            *deleting.borrow_mut() = false;
                            requested.set(false);
                            image_error.set(Some(format!("The note could not be deleted: {e}")));
                        }
                    }
                });
            }
        });
    }

    NoteHandle {
        id: id.to_owned(),
        persistence,
        state,
        latest,
        image_error,
        adding_images,
        delete_requested,
        on_deleted,
    }
}
