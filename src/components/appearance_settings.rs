use std::rc::Rc;

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::hooks::{use_appearance, TextSize, Theme};

/// Theme, text size, reduced motion and high contrast.
#[function_component]
pub fn AppearanceForm() -> Html {
    let appearance = Rc::new(use_appearance());
    let settings = appearance.settings();
    let themes = Theme::ALL.into_iter().map(|theme| {
        let onchange = {
            let appearance = appearance.clone();
            Callback::from(move |_| appearance.set_theme(theme))
        };
        let id = format!("theme-{}", theme.attribute());
        html! {
            <label for={id.clone()} class="choice">
                <input type="radio" {id} name="theme" checked={settings.theme == theme} {onchange} />
                { theme.label() }
            </label>
        }
    });
    let on_size = {
        let appearance = appearance.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Some(size) = TextSize::ALL.into_iter().find(|s| s.label() == value) {
                appearance.set_text_size(size);
            }
        })
    };
    let sizes = TextSize::ALL.into_iter().map(|size| {
        html! { <option value={size.label()} selected={settings.text_size == size}>{ size.label() }</option> }
    });
    let checkbox = |id: &'static str,
                    label: &'static str,
                    checked: bool,
                    set: fn(&crate::hooks::Appearance, bool)| {
        let appearance = appearance.clone();
        let onchange = Callback::from(move |e: Event| {
            set(
                &appearance,
                e.target_unchecked_into::<HtmlInputElement>().checked(),
            )
        });
        html! {
            <label for={id} class="choice">
                <input type="checkbox" {id} {checked} {onchange} />{ label }
            </label>
        }
    };
    html! {
        <section aria-labelledby="appearance-title">
            <h2 id="appearance-title">{ "Appearance" }</h2>
            <fieldset>
                <legend>{ "Theme" }</legend>
                { for themes }
            </fieldset>
            <label for="text-size">{ "Text size" }</label>{ " " }
            <select id="text-size" onchange={on_size}>{ for sizes }</select>
            { checkbox("reduced-motion", "Reduce motion", settings.reduced_motion, |a, on| a.set_reduced_motion(on)) }
            { checkbox("high-contrast", "High contrast", settings.high_contrast, |a, on| a.set_high_contrast(on)) }
        </section>
    }
}
