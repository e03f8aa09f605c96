use yew::prelude::*;

use crate::use_persistent_state::{use_persistent_state_with, PersistOptions, PersistentState};

/// The handle returned by [`use_visible_component`].
///
/// ```no_run
/// # fn run(tips: cairn_yew::VisibleComponent) -> yew::Html {
/// yew::html! { if tips.is_visible() { <aside>{ "Tip of the day" }</aside> } }
/// # }
/// ```
pub struct VisibleComponent {
    visible: PersistentState<bool>,
}

impl VisibleComponent {
    /// Whether the component is shown.
    ///
    /// ```no_run
    /// # fn run(tips: cairn_yew::VisibleComponent) {
    /// let shown = tips.is_visible();
    /// # }
    /// ```
    pub fn is_visible(&self) -> bool {
        *self.visible.value()
    }

    /// Shows the component (saved at once).
    ///
    /// ```no_run
    /// # fn run(tips: cairn_yew::VisibleComponent) {
    /// tips.show();
    /// # }
    /// ```
    pub fn show(&self) {
        self.visible.set(true);
    }

    /// Hides the component (saved at once).
    ///
    /// ```no_run
    /// # fn run(tips: cairn_yew::VisibleComponent) {
    /// tips.hide();
    /// # }
    /// ```
    pub fn hide(&self) {
        self.visible.set(false);
    }

    /// Shows a hidden component, hides a shown one.
    ///
    /// ```no_run
    /// # fn run(tips: cairn_yew::VisibleComponent) {
    /// tips.toggle();
    /// # }
    /// ```
    pub fn toggle(&self) {
        self.visible.update(|visible| !visible);
    }
}

/// Whether the component `id` is shown, remembered across reloads and tabs.
///
/// ```no_run
/// use cairn_yew::use_visible_component;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Tips() -> Html {
///     let tips = std::rc::Rc::new(use_visible_component("ui", "tips", true));
///     let hide = {
///         let tips = tips.clone();
///         Callback::from(move |_| tips.hide())
///     };
///     html! { if tips.is_visible() { <aside>{ "Tip" }<button onclick={hide}>{ "Hide" }</button></aside> } }
/// }
/// ```
#[hook]
pub fn use_visible_component(
    collection: &str,
    id: &str,
    default_visible: bool,
) -> VisibleComponent {
    let visible = use_persistent_state_with(
        collection,
        &format!("visible:{id}"),
        default_visible,
        PersistOptions::default().debounce_ms(0),
    );
    VisibleComponent { visible }
}
