//! [`use_collection`]: every item of a collection, loaded on mount and kept current.
//!
//! An item is one record of the collection whose id is the item's id and whose value
//! decodes as `T`. Other values in the collection (and tombstones) are left out.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use cairn_client::StoreError;
use cairn_protocol::{Hlc, Record, RecordKey};
use serde::de::DeserializeOwned;
use serde::Serialize;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::{use_persistence, Persistence};

/// An item just deleted, kept in memory so that it can be restored (Undo) with
/// [`CollectionHandle::restore`].
///
/// ```
/// let deleted = cairn_yew::Deleted { id: "n1".to_owned(), value: "text".to_owned() };
/// assert_eq!(deleted.id, "n1");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Deleted<T> {
    /// The item's id in its collection.
    pub id: String,
    /// The item as it was when deleted.
    pub value: T,
}

/// The newest version seen of each record of the collection: `None` for a tombstone or a
/// value that is not a `T`.
struct CollectionState<T> {
    /// The collection these are of (the hook's argument can change).
    collection: Rc<str>,
    loaded: bool,
    error: Option<String>,
    items: HashMap<String, (Hlc, Option<Rc<T>>)>,
}

impl<T> Default for CollectionState<T> {
    fn default() -> Self {
        CollectionState {
            collection: Rc::from(""),
            loaded: false,
            error: None,
            items: HashMap::new(),
        }
    }
}

enum CollectionAction {
    /// The hook reads `collection` from now on: what was held of another one goes.
    Start(Rc<str>),
    /// The records of a collection, as loaded.
    Loaded(Rc<str>, Vec<Record>),
    Changed(Record),
    Failed(String),
}

impl<T: DeserializeOwned> CollectionState<T> {
    fn merge(&mut self, record: Record) {
        let newer = self
            .items
            .get(&record.id)
            .is_none_or(|(hlc, _)| *hlc <= record.hlc);
        if newer {
            let item = (!record.deleted)
                .then(|| serde_json::from_value::<T>(record.value).ok().map(Rc::new))
                .flatten();
            self.items.insert(record.id, (record.hlc, item));
        }
    }
}

impl<T: DeserializeOwned + 'static> Reducible for CollectionState<T> {
    type Action = CollectionAction;

    fn reduce(self: Rc<Self>, action: CollectionAction) -> Rc<Self> {
        let mut next = CollectionState {
            collection: self.collection.clone(),
            loaded: self.loaded,
            error: self.error.clone(),
            items: self.items.clone(),
        };
        match action {
            CollectionAction::Start(collection) if collection != self.collection => {
                next = CollectionState {
                    collection,
                    ..CollectionState::default()
                };
            }
            CollectionAction::Loaded(collection, records) if collection == self.collection => {
                next.loaded = true;
                for record in records {
                    next.merge(record);
                }
            }
            CollectionAction::Changed(record) if *record.collection == *self.collection => {
                next.merge(record)
            }
            // The same collection again, or an answer about another one.
            CollectionAction::Start(_)
            | CollectionAction::Loaded(..)
            | CollectionAction::Changed(_) => return self,
            CollectionAction::Failed(error) => next.error = Some(error),
        }
        Rc::new(next)
    }
}

/// The handle returned by [`use_collection`].
///
/// ```no_run
/// # fn run(tasks: cairn_yew::CollectionHandle<String>) {
/// let count = tasks.all().len();
/// # }
/// ```
pub struct CollectionHandle<T: DeserializeOwned + 'static> {
    collection: Rc<str>,
    persistence: Persistence,
    state: UseReducerHandle<CollectionState<T>>,
}

impl<T: DeserializeOwned + 'static> Clone for CollectionHandle<T> {
    fn clone(&self) -> Self {
        CollectionHandle {
            collection: self.collection.clone(),
            persistence: self.persistence.clone(),
            state: self.state.clone(),
        }
    }
}

impl<T> CollectionHandle<T>
where
    T: Serialize + DeserializeOwned + Clone + 'static,
{
    /// The collection's name.
    ///
    /// ```no_run
    /// # fn run(tasks: cairn_yew::CollectionHandle<String>) {
    /// assert_eq!(tasks.collection(), "tasks");
    /// # }
    /// ```
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// False until the collection has been read.
    ///
    /// ```no_run
    /// # fn run(tasks: cairn_yew::CollectionHandle<String>) -> yew::Html {
    /// if !tasks.is_loaded() {
    ///     return yew::html! { <p aria-busy="true">{ "Loading…" }</p> };
    /// }
    /// # yew::html! {} }
    /// ```
    pub fn is_loaded(&self) -> bool {
        self.state.loaded
    }

    /// The last error of reading or writing the collection, if any.
    ///
    /// ```no_run
    /// # fn run(tasks: cairn_yew::CollectionHandle<String>) {
    /// if let Some(error) = tasks.error() {
    ///     gloo::console::error!(error);
    /// }
    /// # }
    /// ```
    pub fn error(&self) -> Option<String> {
        self.state.error.clone()
    }

    /// Every item, by id.
    ///
    /// ```no_run
    /// # fn run(tasks: cairn_yew::CollectionHandle<String>) {
    /// for (id, task) in tasks.all() {
    ///     println!("{id}: {task}");
    /// }
    /// # }
    /// ```
    pub fn all(&self) -> Vec<(String, T)> {
        let items: BTreeMap<_, _> = self
            .state
            .items
            .iter()
            .filter_map(|(id, (_, item))| Some((id.clone(), T::clone(item.as_ref()?))))
            .collect();
        items.into_iter().collect()
    }

    /// The item `id`, if it exists (and is a `T`).
    ///
    /// ```no_run
    /// # fn run(tasks: cairn_yew::CollectionHandle<String>) {
    /// let first: Option<String> = tasks.get("t1");
    /// # }
    /// ```
    pub fn get(&self, id: &str) -> Option<T> {
        let (_, item) = self.state.items.get(id)?;
        item.as_deref().cloned()
    }

    /// Stores `value` as the item `id` (a new change, synced like any other), at once.
    /// For values edited keystroke by keystroke, use
    /// [`use_persistent_state`](crate::use_persistent_state) on the item instead: it
    /// debounces and retries.
    ///
    /// ```no_run
    /// # fn run(tasks: cairn_yew::CollectionHandle<String>) {
    /// tasks.put("t1", "Water the plants".to_owned());
    /// # }
    /// ```
    pub fn put(&self, id: &str, value: T) {
        self.write(id.to_owned(), value, "saved", Callback::noop());
    }

    /// Stores `value` under a new random id; `on_created` gets the id once it is stored.
    ///
    /// ```no_run
    /// # fn run(tasks: cairn_yew::CollectionHandle<String>) {
    /// use yew::Callback;
    /// tasks.create("New task".to_owned(), Callback::from(|id: String| {
    ///     gloo::console::log!("created", id);
    /// }));
    /// # }
    /// ```
    pub fn create(&self, value: T, on_created: Callback<String>) {
        match cairn_client::random_id() {
            Ok(id) => self.write(id, value, "created", on_created),
            Err(e) => self.failed("created", e),
        }
    }

    /// Deletes the item `id` (a tombstone, synced like any change). Returns the item as
    /// it was, for [`CollectionHandle::restore`] (Undo); `None` if there was none.
    ///
    /// ```no_run
    /// # fn run(tasks: cairn_yew::CollectionHandle<String>) {
    /// let undo = tasks.delete("t1");
    /// if let Some(deleted) = undo {
    ///     tasks.restore(deleted);
    /// }
    /// # }
    /// ```
    pub fn delete(&self, id: &str) -> Option<Deleted<T>> {
        let deleted = self.get(id).map(|value| Deleted {
            id: id.to_owned(),
            value,
        });
        let this = self.clone();
        let key = RecordKey::new(&*self.collection, id);
        spawn_local(async move {
            match this.persistence.store().delete(key).await {
                Ok(tombstone) => this.persistence.wrote(tombstone),
                Err(e) => this.failed("deleted", e),
            }
        });
        deleted
    }

    /// Writes a deleted item back (a new change, so it syncs like any other).
    ///
    /// ```no_run
    /// # fn run(tasks: cairn_yew::CollectionHandle<String>, deleted: cairn_yew::Deleted<String>) {
    /// tasks.restore(deleted);
    /// # }
    /// ```
    pub fn restore(&self, deleted: Deleted<T>) {
        self.write(deleted.id, deleted.value, "restored", Callback::noop());
    }

    fn write(&self, id: String, value: T, done: &'static str, on_written: Callback<String>) {
        let json = match serde_json::to_value(&value) {
            Ok(json) => json,
            Err(e) => return self.failed(done, StoreError::Encode(e.to_string())),
        };
        let this = self.clone();
        let key = RecordKey::new(&*self.collection, id.clone());
        spawn_local(async move {
            match this.persistence.store().write(key, json).await {
                Ok(record) => {
                    this.persistence.wrote(record);
                    on_written.emit(id);
                }
                Err(e) => this.failed(done, e),
            }
        });
    }

    fn failed(&self, done: &str, error: StoreError) {
        self.state.dispatch(CollectionAction::Failed(format!(
            "The item could not be {done}: {error}"
        )));
    }
}

/// Every item of `collection` (values that decode as `T`), loaded on mount and kept
/// current: changes made here, in other tabs, or pulled by sync appear as they happen.
///
/// ```no_run
/// use cairn_yew::use_collection;
/// use serde::{Deserialize, Serialize};
/// use yew::prelude::*;
///
/// #[derive(Clone, PartialEq, Serialize, Deserialize)]
/// struct Task {
///     title: String,
///     done: bool,
/// }
///
/// #[function_component]
/// fn Tasks() -> Html {
///     let tasks = use_collection::<Task>("tasks");
///     let add = {
///         let tasks = tasks.clone();
///         Callback::from(move |_| {
///             tasks.create(Task { title: "New".into(), done: false }, Callback::noop())
///         })
///     };
///     html! {
///         <>
///             <ul>{ for tasks.all().into_iter().map(|(id, task)| html! { <li key={id}>{ task.title }</li> }) }</ul>
///             <button onclick={add}>{ "Add" }</button>
///         </>
///     }
/// }
/// ```
#[hook]
pub fn use_collection<T>(collection: &str) -> CollectionHandle<T>
where
    T: Serialize + DeserializeOwned + Clone + 'static,
{
    let persistence = use_persistence();
    let state = use_reducer(CollectionState::<T>::default);
    let collection: Rc<str> = Rc::from(collection);
    {
        let dispatcher = state.dispatcher();
        use_effect_with(
            (persistence.clone(), collection.clone()),
            move |(persistence, collection)| {
                dispatcher.dispatch(CollectionAction::Start(collection.clone()));
                // Watch first, so nothing that changes while loading is missed.
                let changes = dispatcher.clone();
                let registration = persistence.watch_collection(
                    collection,
                    Callback::from(move |record| {
                        changes.dispatch(CollectionAction::Changed(record))
                    }),
                );
                let (persistence, collection) = (persistence.clone(), collection.clone());
                spawn_local(async move {
                    match persistence.store().load_collection(&collection).await {
                        Ok(loaded) => dispatcher
                            .dispatch(CollectionAction::Loaded(collection, loaded.records)),
                        Err(e) => dispatcher.dispatch(CollectionAction::Failed(format!(
                            "“{collection}” could not be loaded: {e}"
                        ))),
                    }
                });
                move || drop(registration)
            },
        );
    }
    CollectionHandle {
        collection,
        persistence,
        state,
    }
}

#[cfg(test)]
mod tests {
    use cairn_protocol::DeviceId;
    use serde_json::json;

    use super::*;

    fn record(collection: &str, id: &str, wall: u64) -> Record {
        let hlc = Hlc::new(wall, 0, DeviceId::new("device").unwrap()).unwrap();
        Record::new(RecordKey::new(collection, id), json!(id), hlc)
    }

    fn ids(state: &CollectionState<String>) -> Vec<String> {
        let mut ids: Vec<String> = state.items.keys().cloned().collect();
        ids.sort();
        ids
    }

    #[test]
    fn another_collection_starts_empty_and_answers_about_the_first_are_dropped() {
        let tasks: Rc<str> = Rc::from("tasks");
        let notes: Rc<str> = Rc::from("notes");
        let state = Rc::new(CollectionState::<String>::default())
            .reduce(CollectionAction::Start(tasks.clone()))
            .reduce(CollectionAction::Loaded(
                tasks.clone(),
                vec![record("tasks", "t1", 1)],
            ));
        assert!(state.loaded);
        assert_eq!(ids(&state), ["t1"]);
        // The same collection again keeps what was loaded.
        let state = state.reduce(CollectionAction::Start(tasks.clone()));
        assert_eq!(ids(&state), ["t1"]);

        let state = state.reduce(CollectionAction::Start(notes.clone()));
        assert!(!state.loaded);
        assert!(ids(&state).is_empty());
        let state = state
            .reduce(CollectionAction::Loaded(
                tasks,
                vec![record("tasks", "t2", 2)],
            ))
            .reduce(CollectionAction::Changed(record("tasks", "t3", 3)));
        assert!(!state.loaded);
        assert!(ids(&state).is_empty());
        let state = state
            .reduce(CollectionAction::Loaded(
                notes,
                vec![record("notes", "n1", 1)],
            ))
            .reduce(CollectionAction::Changed(record("notes", "n2", 2)));
        assert!(state.loaded);
        assert_eq!(ids(&state), ["n1", "n2"]);
    }
}
