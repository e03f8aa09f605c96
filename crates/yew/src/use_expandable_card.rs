use yew::prelude::*;

use crate::use_persistent_state::{use_persistent_state_with, PersistOptions, PersistentState};

/// The handle returned by [`use_expandable_card`].
///
/// ```no_run
/// use cairn_yew::use_expandable_card;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Card() -> Html {
///     let card = std::rc::Rc::new(use_expandable_card("ui", "weather", true));
///     let toggle = {
///         let card = card.clone();
///         Callback::from(move |_| card.toggle())
///     };
///     html! {
///         <section>
///             <button onclick={toggle} aria-expanded={card.is_open().to_string()}>{ "Weather" }</button>
///             if card.is_open() { <p>{ "Sunny." }</p> }
///         </section>
///     }
/// }
/// ```
pub struct ExpandableCard {
    open: PersistentState<bool>,
}

impl ExpandableCard {
    /// Whether the card is expanded.
    ///
    /// ```no_run
    /// # fn run(card: cairn_yew::ExpandableCard) {
    /// let label = if card.is_open() { "Collapse" } else { "Expand" };
    /// # }
    /// ```
    pub fn is_open(&self) -> bool {
        *self.open.value()
    }

    /// Expands the card (saved at once).
    ///
    /// ```no_run
    /// # fn run(card: cairn_yew::ExpandableCard) {
    /// card.open();
    /// # }
    /// ```
    pub fn open(&self) {
        self.open.set(true);
    }

    /// Collapses the card (saved at once).
    ///
    /// ```no_run
    /// # fn run(card: cairn_yew::ExpandableCard) {
    /// card.close();
    /// # }
    /// ```
    pub fn close(&self) {
        self.open.set(false);
    }

    /// Expands a collapsed card, collapses an expanded one.
    ///
    /// ```no_run
    /// # fn run(card: cairn_yew::ExpandableCard) {
    /// card.toggle();
    /// # }
    /// ```
    pub fn toggle(&self) {
        self.open.update(|open| !open);
    }
}

/// Whether the card `id` is expanded, remembered across reloads and tabs.
///
/// ```no_run
/// use cairn_yew::use_expandable_card;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Details() -> Html {
///     let card = use_expandable_card("ui", "details", false);
///     html! { if card.is_open() { <p>{ "Details…" }</p> } }
/// }
/// ```
#[hook]
pub fn use_expandable_card(collection: &str, id: &str, default_open: bool) -> ExpandableCard {
    let open = use_persistent_state_with(
        collection,
        &format!("card:{id}"),
        default_open,
        PersistOptions::default().debounce_ms(0),
    );
    ExpandableCard { open }
}
