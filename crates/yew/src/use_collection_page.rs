//! [`use_collection_page`]: the newest items of a collection in the order of their
//! `order_key`, a page at a time, kept current.
//!
//! An item is a record whose value decodes as `T` and has a top-level field `order_key`
//! (a number, a string, or an array of them), e.g. `[conversation_id, sent_at_ms, id]`.
//! The hook reads the newest `limit` items whose key starts with `within` through
//! `cairn_client`'s ordered, paged reads (`Store::ordered_page`, an IndexedDB index):
//! opening a conversation of 10,000 messages reads 50 of them, not 10,000.
//! [`CollectionPage::load_older`] reads the `limit` before those.
//!
//! The items read so far (the window: every item from the oldest read to the newest)
//! are kept current as the collection changes — here, in another tab, or by sync: a new
//! item in the range appears, an edited one changes, a deleted one (or one whose key
//! left the range) goes. A change to an item older than the window is not shown until
//! [`CollectionPage::load_older`] reaches it.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use cairn_client::ordered::has_prefix;
use cairn_client::{OrderedPage, PageOrder, PagePosition};
use cairn_protocol::{Hlc, Record, RecordKey};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::{use_persistence, Persistence};

/// Where the window of items read starts.
#[derive(Debug, Clone, PartialEq)]
enum Boundary {
    /// Nothing read yet.
    NotRead,
    /// Items from this position on (the oldest read) are in the window; older ones are
    /// left to read.
    At(PagePosition),
    /// Every item of the range is in the window.
    Everything,
}

/// The newest version seen of one record: its clock, and the item it shows (`None` for
/// a tombstone, a value that is not a `T`, or a key outside the range).
struct Seen<T> {
    hlc: Hlc,
    item: Option<(PagePosition, Rc<T>)>,
}

impl<T> Clone for Seen<T> {
    fn clone(&self) -> Self {
        Seen {
            hlc: self.hlc.clone(),
            item: self.item.clone(),
        }
    }
}

struct PageState<T> {
    /// Which query this state answers: a new collection, range or limit starts a new one,
    /// and answers to an earlier one are dropped.
    generation: u64,
    within: Rc<[Value]>,
    boundary: Boundary,
    loading_older: bool,
    error: Option<String>,
    seen: HashMap<String, Seen<T>>,
}

impl<T> Default for PageState<T> {
    fn default() -> Self {
        PageState {
            generation: 0,
            within: Rc::from(Vec::new()),
            boundary: Boundary::NotRead,
            loading_older: false,
            error: None,
            seen: HashMap::new(),
        }
    }
}

enum PageAction {
    /// A new query: forget everything.
    Start {
        generation: u64,
        within: Rc<[Value]>,
    },
    /// A page was read (the first, or an older one).
    Read {
        generation: u64,
        page: OrderedPage,
    },
    LoadingOlder {
        generation: u64,
    },
    Changed(Record),
    Failed {
        generation: u64,
        error: String,
    },
    /// A write through [`CollectionPage::put`] was committed: an earlier error is over.
    Wrote {
        generation: u64,
    },
}

impl<T: DeserializeOwned> PageState<T> {
    /// Takes in the version `record`, if it is newer than the one seen. A change to an
    /// item older than the window is left for the page that reaches it, and one outside
    /// the range is dropped, unless it replaces a version seen (which then goes).
    fn merge(&mut self, record: Record, from_page: bool) {
        if self
            .seen
            .get(&record.id)
            .is_some_and(|seen| seen.hlc > record.hlc)
        {
            return;
        }
        let item = (!record.deleted)
            .then(|| PagePosition::of(&record.id, &record.value))
            .flatten()
            .filter(|at| has_prefix(&at.order_key, &self.within))
            .and_then(|at| {
                let value = serde_json::from_value::<T>(record.value).ok()?;
                Some((at, Rc::new(value)))
            });
        let older_than_window = match (&self.boundary, &item) {
            (Boundary::At(oldest), Some((at, _))) => at.index_order(oldest).is_lt(),
            _ => false,
        };
        // A change to a record not in the window (older than it, outside the range, or
        // gone) replaces nothing shown.
        if !from_page
            && (older_than_window || item.is_none())
            && !self.seen.contains_key(&record.id)
        {
            return;
        }
        self.seen.insert(
            record.id,
            Seen {
                hlc: record.hlc,
                item,
            },
        );
    }
}

impl<T: Clone> PageState<T> {
    /// The items of the window, oldest first.
    fn items(&self) -> Vec<(String, T)> {
        if self.boundary == Boundary::NotRead {
            return Vec::new();
        }
        let mut items: Vec<&(PagePosition, Rc<T>)> = self
            .seen
            .values()
            .filter_map(|seen| seen.item.as_ref())
            .filter(|(at, _)| match &self.boundary {
                Boundary::At(oldest) => !at.index_order(oldest).is_lt(),
                _ => true,
            })
            .collect();
        items.sort_by(|(a, _), (b, _)| a.index_order(b));
        items
            .into_iter()
            .map(|(at, item)| (at.id.clone(), T::clone(item)))
            .collect()
    }
}

impl<T: DeserializeOwned + 'static> Reducible for PageState<T> {
    type Action = PageAction;

    fn reduce(self: Rc<Self>, action: PageAction) -> Rc<Self> {
        let current = |generation: u64| generation == self.generation;
        let mut next = PageState {
            generation: self.generation,
            within: self.within.clone(),
            boundary: self.boundary.clone(),
            loading_older: self.loading_older,
            error: self.error.clone(),
            seen: self.seen.clone(),
        };
        match action {
            PageAction::Start { generation, within } => {
                next = PageState {
                    generation,
                    within,
                    ..PageState::default()
                };
            }
            PageAction::Read { generation, page } if current(generation) => {
                for record in page.records {
                    next.merge(record, true);
                }
                next.boundary = match page.next {
                    Some(oldest) => Boundary::At(oldest),
                    None => Boundary::Everything,
                };
                next.loading_older = false;
                next.error = None;
            }
            PageAction::Wrote { generation } if current(generation) => {
                if next.error.is_none() {
                    return self;
                }
                next.error = None;
            }
            PageAction::LoadingOlder { generation } if current(generation) => {
                next.loading_older = true;
            }
            PageAction::Changed(record) => next.merge(record, false),
            PageAction::Failed { generation, error } if current(generation) => {
                next.error = Some(error);
                next.loading_older = false;
            }
            // An answer to an earlier query.
            PageAction::Read { .. }
            | PageAction::LoadingOlder { .. }
            | PageAction::Failed { .. }
            | PageAction::Wrote { .. } => return self,
        }
        Rc::new(next)
    }
}

/// The handle returned by [`use_collection_page`].
pub struct CollectionPage<T: DeserializeOwned + 'static> {
    persistence: Persistence,
    collection: Rc<str>,
    limit: u32,
    state: UseReducerHandle<PageState<T>>,
    /// An older page is being read (set before the state says so, so that two clicks
    /// in one frame read it once).
    reading: Rc<Cell<bool>>,
}

impl<T: DeserializeOwned + 'static> Clone for CollectionPage<T> {
    fn clone(&self) -> Self {
        CollectionPage {
            persistence: self.persistence.clone(),
            collection: self.collection.clone(),
            limit: self.limit,
            state: self.state.clone(),
            reading: self.reading.clone(),
        }
    }
}

impl<T: DeserializeOwned + 'static> PartialEq for CollectionPage<T> {
    /// Equal when they show the same state of the same query.
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(&*self.state, &*other.state)
            && self.collection == other.collection
            && self.limit == other.limit
    }
}

impl<T: DeserializeOwned + Clone + 'static> CollectionPage<T> {
    /// False until the first page has been read.
    ///
    /// ```no_run
    /// # fn run(messages: cairn_yew::CollectionPage<String>) -> yew::Html {
    /// if !messages.is_loaded() {
    ///     return yew::html! { <p aria-busy="true">{ "Loading messages…" }</p> };
    /// }
    /// # yew::html! {} }
    /// ```
    pub fn is_loaded(&self) -> bool {
        self.state.boundary != Boundary::NotRead
    }

    /// The last error of reading a page, if any.
    ///
    /// ```no_run
    /// # fn run(messages: cairn_yew::CollectionPage<String>) {
    /// if let Some(error) = messages.error() {
    ///     gloo::console::error!(error);
    /// }
    /// # }
    /// ```
    pub fn error(&self) -> Option<String> {
        self.state.error.clone()
    }

    /// The items read so far, as `(id, item)`, oldest first (ascending order key; the
    /// order a conversation reads in): the newest `limit`, those that arrived since, and
    /// the older pages loaded.
    ///
    /// ```no_run
    /// # fn run(messages: cairn_yew::CollectionPage<String>) {
    /// for (id, text) in messages.items() {
    ///     println!("{id}: {text}");
    /// }
    /// # }
    /// ```
    pub fn items(&self) -> Vec<(String, T)> {
        self.state.items()
    }

    /// Whether there are older items than those read (as of the last page read).
    ///
    /// ```no_run
    /// # fn run(messages: cairn_yew::CollectionPage<String>) -> yew::Html {
    /// let older = messages.clone();
    /// yew::html! {
    ///     if messages.has_older() {
    ///         <button onclick={move |_| older.load_older()}>{ "Show older" }</button>
    ///     }
    /// }
    /// # }
    /// ```
    pub fn has_older(&self) -> bool {
        matches!(self.state.boundary, Boundary::At(_))
    }

    /// Whether an older page is being read.
    ///
    /// ```no_run
    /// # fn run(messages: cairn_yew::CollectionPage<String>) {
    /// let busy = messages.is_loading_older();
    /// # }
    /// ```
    pub fn is_loading_older(&self) -> bool {
        self.state.loading_older
    }

    /// Reads the `limit` items before the oldest read, adding them to
    /// [`CollectionPage::items`]. Does nothing while one is being read, or when there
    /// are none ([`CollectionPage::has_older`]).
    ///
    /// ```no_run
    /// # fn run(messages: cairn_yew::CollectionPage<String>) {
    /// messages.load_older();
    /// # }
    /// ```
    pub fn load_older(&self) {
        let Boundary::At(oldest) = self.state.boundary.clone() else {
            return;
        };
        if self.reading.replace(true) {
            return;
        }
        let generation = self.state.generation;
        self.state.dispatch(PageAction::LoadingOlder { generation });
        read_page(
            self.persistence.clone(),
            self.collection.clone(),
            self.state.within.clone(),
            Some(oldest),
            self.limit,
            generation,
            self.state.dispatcher(),
            self.reading.clone(),
        );
    }
}

impl<T: Serialize + DeserializeOwned + Clone + 'static> CollectionPage<T> {
    /// Stores `value` as the item `id` of the collection (a new change, synced like any
    /// other): it shows among [`CollectionPage::items`] once committed, when its
    /// `order_key` is in the range and not older than the items read. `on_written` is
    /// called with the id once the write is committed; if it fails,
    /// [`CollectionPage::error`] says why and `on_written` is not called — so clear
    /// what the user typed in `on_written`, not before.
    ///
    /// ```no_run
    /// # #[derive(Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Message { order_key: (String, u64, String), text: String }
    /// # fn run(messages: cairn_yew::CollectionPage<Message>) {
    /// let order_key = ("c1".to_owned(), 1_764_600_000_000, "m7".to_owned());
    /// messages.put("m7", Message { order_key, text: "Hello".into() }, yew::Callback::noop());
    /// # }
    /// ```
    pub fn put(&self, id: &str, value: T, on_written: Callback<String>) {
        let generation = self.state.generation;
        let dispatcher = self.state.dispatcher();
        let wrote = {
            let dispatcher = dispatcher.clone();
            move || dispatcher.dispatch(PageAction::Wrote { generation })
        };
        let failed = move |error: String| {
            dispatcher.dispatch(PageAction::Failed {
                generation,
                error: format!("The item could not be saved: {error}"),
            })
        };
        let json = match serde_json::to_value(&value) {
            Ok(json) => json,
            Err(e) => return failed(e.to_string()),
        };
        let persistence = self.persistence.clone();
        let key = RecordKey::new(&*self.collection, id);
        let id = id.to_owned();
        spawn_local(async move {
            match persistence.store().write(key, json).await {
                Ok(record) => {
                    persistence.wrote(record);
                    wrote();
                    on_written.emit(id);
                }
                Err(e) => failed(e.to_string()),
            }
        });
    }
}

/// Reads one page (descending from `after`) and dispatches it, or why it failed.
#[allow(clippy::too_many_arguments)]
fn read_page<T: DeserializeOwned + 'static>(
    persistence: Persistence,
    collection: Rc<str>,
    within: Rc<[Value]>,
    after: Option<PagePosition>,
    limit: u32,
    generation: u64,
    dispatcher: UseReducerDispatcher<PageState<T>>,
    reading: Rc<Cell<bool>>,
) {
    spawn_local(async move {
        let page = persistence
            .store()
            .ordered_page(
                &collection,
                &within,
                PageOrder::Descending,
                after.as_ref(),
                limit,
            )
            .await;
        reading.set(false);
        dispatcher.dispatch(match page {
            Ok(page) => PageAction::Read { generation, page },
            Err(e) => PageAction::Failed {
                generation,
                error: format!("“{collection}” could not be read: {e}"),
            },
        });
    });
}

/// The newest `limit` items of `collection` whose `order_key` starts with `within` (any
/// value serialising to a JSON array: `[conversation_id]`, a tuple, or `()`
/// for the whole collection), read on mount with one ordered, paged read, and kept
/// current; [`CollectionPage::load_older`] reads further back. A new `collection`,
/// `within` or `limit` starts over.
///
/// ```no_run
/// use cairn_yew::use_collection_page;
/// use serde::{Deserialize, Serialize};
/// use yew::prelude::*;
///
/// #[derive(Clone, PartialEq, Serialize, Deserialize)]
/// struct Message {
///     /// `[conversation, sent_at_ms, id]`: the order, and which conversation.
///     order_key: (String, u64, String),
///     text: String,
/// }
///
/// #[derive(Properties, PartialEq)]
/// struct Props {
///     conversation: AttrValue,
/// }
///
/// #[function_component]
/// fn Conversation(props: &Props) -> Html {
///     let messages =
///         use_collection_page::<Message, _>("messages", [props.conversation.to_string()], 50);
///     let older = messages.clone();
///     html! {
///         <section aria-label="Messages">
///             if messages.has_older() {
///                 <button onclick={move |_| older.load_older()}>{ "Show older" }</button>
///             }
///             <ol>{ for messages.items().into_iter().map(|(id, m)| html! { <li key={id}>{ m.text }</li> }) }</ol>
///         </section>
///     }
/// }
/// ```
#[hook]
pub fn use_collection_page<T, W>(collection: &str, within: W, limit: u32) -> CollectionPage<T>
where
    T: DeserializeOwned + Clone + 'static,
    W: Serialize,
{
    let persistence = use_persistence();
    let state = use_reducer(PageState::<T>::default);
    let reading = use_memo((), |_| Cell::new(false));
    let collection: Rc<str> = Rc::from(collection);
    let within = match serde_json::to_value(&within) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(Value::Null) => Ok(Vec::new()),
        Ok(other) => Err(format!("`within` must be a list, not {other}")),
        Err(e) => Err(format!("`within` cannot be encoded: {e}")),
    };
    let generations = use_mut_ref(|| 0_u64);
    {
        let dispatcher = state.dispatcher();
        let reading = reading.clone();
        use_effect_with(
            (persistence.clone(), collection.clone(), within, limit),
            move |(persistence, collection, within, limit)| {
                let generation = {
                    let mut generations = generations.borrow_mut();
                    *generations += 1;
                    *generations
                };
                let within: Rc<[Value]> = match within {
                    Ok(within) => Rc::from(within.clone()),
                    Err(error) => {
                        dispatcher.dispatch(PageAction::Start {
                            generation,
                            within: Rc::from(Vec::new()),
                        });
                        dispatcher.dispatch(PageAction::Failed {
                            generation,
                            error: error.clone(),
                        });
                        return Box::new(|| ()) as Box<dyn FnOnce()>;
                    }
                };
                dispatcher.dispatch(PageAction::Start {
                    generation,
                    within: within.clone(),
                });
                // Watch first, so nothing that changes while the page is read is missed.
                let changes = dispatcher.clone();
                let registration = persistence.watch_collection(
                    collection,
                    Callback::from(move |record| changes.dispatch(PageAction::Changed(record))),
                );
                reading.set(false);
                read_page(
                    persistence.clone(),
                    collection.clone(),
                    within,
                    None,
                    *limit,
                    generation,
                    dispatcher,
                    reading,
                );
                Box::new(move || drop(registration)) as Box<dyn FnOnce()>
            },
        );
    }
    CollectionPage {
        persistence,
        collection,
        limit,
        state,
        reading,
    }
}

#[cfg(test)]
mod tests {
    use cairn_protocol::DeviceId;
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Deserialize)]
    struct Message {
        text: String,
    }

    fn hlc(wall: u64) -> Hlc {
        Hlc::new(wall, 0, DeviceId::new("device").unwrap()).unwrap()
    }

    /// The message `id` of conversation `c` sent at `at`, as of clock `wall`.
    fn message(c: &str, at: u64, id: &str, wall: u64) -> Record {
        Record::new(
            RecordKey::new("messages", id),
            json!({"order_key": [c, at, id], "text": format!("{id}@{at}")}),
            hlc(wall),
        )
    }

    fn position(c: &str, at: u64, id: &str) -> PagePosition {
        PagePosition {
            order_key: json!([c, at, id]),
            id: id.into(),
        }
    }

    /// A state on query `generation` over conversation "c", after `actions`.
    fn after(actions: Vec<PageAction>) -> Rc<PageState<Message>> {
        let start = PageAction::Start {
            generation: 1,
            within: Rc::from(vec![json!("c")]),
        };
        std::iter::once(start)
            .chain(actions)
            .fold(Rc::new(PageState::default()), |state, action| {
                state.reduce(action)
            })
    }

    fn ids(state: &PageState<Message>) -> Vec<String> {
        state.items().into_iter().map(|(id, _)| id).collect()
    }

    /// The first page: the newest two of "c" (m3, m2), more left (m1).
    fn first_page() -> PageAction {
        PageAction::Read {
            generation: 1,
            page: OrderedPage {
                records: vec![message("c", 30, "m3", 1), message("c", 20, "m2", 1)],
                next: Some(position("c", 20, "m2")),
            },
        }
    }

    #[test]
    fn a_read_page_shows_oldest_first_with_older_ones_left() {
        let state = after(vec![first_page()]);
        assert_eq!(ids(&state), ["m2", "m3"]);
        assert_eq!(state.items()[1].1.text, "m3@30");
        assert!(matches!(state.boundary, Boundary::At(_)));
        assert!(
            after(vec![]).items().is_empty(),
            "nothing before the first page"
        );
    }

    #[test]
    fn new_and_edited_items_in_the_range_show_and_older_ones_wait_for_their_page() {
        let state = after(vec![
            first_page(),
            PageAction::Changed(message("c", 40, "m4", 2)),
            PageAction::Changed(Record::new(
                RecordKey::new("messages", "m3"),
                json!({"order_key": ["c", 30, "m3"], "text": "edited"}),
                hlc(3),
            )),
            // Older than the window: left for the page that reaches it.
            PageAction::Changed(message("c", 5, "m0", 2)),
            // Another conversation.
            PageAction::Changed(message("d", 50, "d1", 2)),
        ]);
        assert_eq!(ids(&state), ["m2", "m3", "m4"]);
        assert_eq!(state.items()[1].1.text, "edited");
        assert!(!state.seen.contains_key("m0") && !state.seen.contains_key("d1"));
    }

    #[test]
    fn deleted_items_and_items_moved_out_of_the_range_go() {
        let state = after(vec![
            first_page(),
            PageAction::Changed(Record::tombstone(RecordKey::new("messages", "m3"), hlc(2))),
            PageAction::Changed(message("d", 20, "m2", 2)),
        ]);
        assert!(ids(&state).is_empty());
        // An older version arriving late changes nothing.
        let state = after(vec![
            first_page(),
            PageAction::Changed(Record::tombstone(RecordKey::new("messages", "m3"), hlc(5))),
            PageAction::Changed(message("c", 30, "m3", 4)),
        ]);
        assert_eq!(ids(&state), ["m2"]);
    }

    #[test]
    fn an_older_page_extends_the_window_to_the_start() {
        let state = after(vec![
            first_page(),
            PageAction::LoadingOlder { generation: 1 },
        ]);
        assert!(state.loading_older);
        let state = state.reduce(PageAction::Read {
            generation: 1,
            page: OrderedPage {
                records: vec![message("c", 10, "m1", 1)],
                next: None,
            },
        });
        assert_eq!(ids(&state), ["m1", "m2", "m3"]);
        assert_eq!(state.boundary, Boundary::Everything);
        assert!(!state.loading_older);
    }

    #[test]
    fn answers_to_an_earlier_query_are_dropped() {
        let state = after(vec![PageAction::Start {
            generation: 2,
            within: Rc::from(vec![json!("c")]),
        }]);
        let state = state.reduce(first_page());
        assert_eq!(state.boundary, Boundary::NotRead);
        let state = state.reduce(PageAction::Failed {
            generation: 1,
            error: "old".into(),
        });
        assert_eq!(state.error, None);
    }

    #[test]
    fn an_error_lasts_until_a_write_or_a_read_succeeds() {
        let failed = || PageAction::Failed {
            generation: 1,
            error: "The item could not be saved: quota".into(),
        };
        let state = after(vec![first_page(), failed()]);
        assert!(state.error.is_some());
        let state = state.reduce(PageAction::Wrote { generation: 1 });
        assert_eq!(state.error, None);
        let state = state.reduce(failed()).reduce(first_page());
        assert_eq!(state.error, None);
        // A write of an earlier query says nothing of this one's error.
        let state = state
            .reduce(failed())
            .reduce(PageAction::Wrote { generation: 0 });
        assert!(state.error.is_some());
    }
}
