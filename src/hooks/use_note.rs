//! One note: whether it exists ([`use_note_lookup`]), editing it with autosave
//! ([`use_note`], on [`use_persistent_state_with`]), its images, and showing an image from
//! its local blob ([`use_note_image`]).

use std::cell::{Cell, RefCell};
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
            let mut images = Vec::new();
            for file in accepted {
                let stored = this.persistence.store().put_blob(&file.name(), &file).await;
                match stored {
                    Ok(blob) => images.push(NoteImage {
                        id: blob.id,
                        name: blob.name,
                        mime: blob.mime,
                        size: blob.size,
                    }),
                    Err(e) => problems.push(format!("“{}” could not be stored: {e}", file.name())),
                }
            }
            if !images.is_empty() {
                this.edit(|n| n.images.extend(images));
            }
            this.image_error
                .set((!problems.is_empty()).then(|| problems.join(" ")));
            this.adding_images.set(0);
        });
    }

    /// Detaches the image `image_id` from the note and deletes its local blob.
    pub fn remove_image(&self, image_id: &str) {
        let id = image_id.to_owned();
        self.edit(|n| n.images.retain(|i| i.id != id));
        let persistence = self.persistence.clone();
        let id = image_id.to_owned();
        spawn_local(async move {
            let _ = persistence.store().delete_blob(&id).await;
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

/// What an image of a note can show.
#[derive(Debug, Clone, PartialEq)]
pub enum NoteImageView {
    Loading,
    /// An object URL of the local blob; revoked when the component unmounts.
    Ready(String),
    /// This device does not have the image (it was added on another device).
    Missing,
    Failed(String),
}

/// An object URL for the local blob of image `id`, revoked on unmount or id change.
#[hook]
pub fn use_note_image(id: &str) -> NoteImageView {
    let persistence = use_persistence();
    let view = use_state(|| NoteImageView::Loading);
    {
        let view = view.setter();
        use_effect_with(id.to_owned(), move |id| {
            let alive = Rc::new(Cell::new(true));
            let url: Rc<RefCell<Option<String>>> = Rc::default();
            view.set(NoteImageView::Loading);
            {
                let (alive, url, id) = (alive.clone(), url.clone(), id.clone());
                spawn_local(async move {
                    let result = persistence.store().get_blob(&id).await;
                    if !alive.get() {
                        return;
                    }
                    view.set(match result {
                        Ok(Some(stored)) => {
                            match web_sys::Url::create_object_url_with_blob(&stored.blob) {
                                Ok(created) => {
                                    *url.borrow_mut() = Some(created.clone());
                                    NoteImageView::Ready(created)
                                }
                                Err(e) => NoteImageView::Failed(format!("{e:?}")),
                            }
                        }
                        Ok(None) => NoteImageView::Missing,
                        Err(e) => NoteImageView::Failed(e.to_string()),
                    });
                });
            }
            move || {
                alive.set(false);
                if let Some(url) = url.borrow_mut().take() {
                    let _ = web_sys::Url::revoke_object_url(&url);
                }
            }
        });
    }
    (*view).clone()
}
