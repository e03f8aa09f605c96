use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::{use_expandable_card, use_visible_component};

#[derive(Properties, PartialEq)]
pub struct DashboardCardProps {
    /// The card's element id; its body is `<id>-body`.
    pub id: AttrValue,
    /// The key its open/shown state is stored under (collection `ui`).
    pub state_key: AttrValue,
    pub title: AttrValue,
    #[prop_or(true)]
    pub default_open: bool,
    /// Customize mode: show every card, each with a "Show on Home" switch.
    pub customizing: bool,
    pub children: Html,
}

/// A card of the Home dashboard: expandable (remembered), and hideable in Customize mode
/// (remembered).
#[function_component]
pub fn DashboardCard(props: &DashboardCardProps) -> Html {
    let card = std::rc::Rc::new(use_expandable_card(&props.state_key, props.default_open));
    let shown = std::rc::Rc::new(use_visible_component(&props.state_key, true));
    if !shown.is_visible() && !props.customizing {
        return html! {};
    }
    let open = card.is_open();
    let body_id = format!("{}-body", props.id);
    let title_id = format!("{}-title", props.id);
    let toggle = {
        let card = card.clone();
        Callback::from(move |_| card.toggle())
    };
    let is_shown = shown.is_visible();
    let show_switch = props.customizing.then(|| {
        let shown = shown.clone();
        let onchange = Callback::from(move |e: Event| {
            if e.target_unchecked_into::<HtmlInputElement>().checked() {
                shown.show();
            } else {
                shown.hide();
            }
        });
        let id = format!("show-{}", props.id);
        html! {
            <label for={id.clone()} class="choice show-switch">
                <input type="checkbox" {id} checked={is_shown} {onchange} />{ "Show on Home" }
            </label>
        }
    });
    let class = classes!("card", (!is_shown).then_some("card-hidden"));
    html! {
        <section {class} id={props.id.clone()} aria-labelledby={title_id.clone()}>
            <header>
                <h2 id={title_id}>{ props.title.clone() }</h2>
                <button class="secondary" aria-expanded={open.to_string()} aria-controls={body_id.clone()} onclick={toggle}>
                    { if open { "Less" } else { "More" } }
                    <span class="visually-hidden">{ format!(": {}", props.title) }</span>
                </button>
            </header>
            { show_switch.unwrap_or_default() }
            if open {
                <div id={body_id}>{ props.children.clone() }</div>
            }
        </section>
    }
}
