use yew::prelude::*;

use crate::hooks::use_appearance;

/// Applies the appearance settings to the whole document: `data-theme`, `data-contrast`
/// and `data-motion` on `<html>` (the global styles key off them) and the root font size.
#[function_component]
pub fn AppearanceRoot() -> Html {
    let settings = use_appearance().settings();
    use_effect_with(settings, |settings| {
        if let Some(root) = gloo::utils::document().document_element() {
            let _ = root.set_attribute("data-theme", settings.theme.attribute());
            let contrast = if settings.high_contrast {
                "high"
            } else {
                "normal"
            };
            let _ = root.set_attribute("data-contrast", contrast);
            let motion = if settings.reduced_motion {
                "reduce"
            } else {
                "system"
            };
            let _ = root.set_attribute("data-motion", motion);
            let font = format!("font-size: {}%", settings.text_size.percent());
            let _ = root.set_attribute("style", &font);
        }
    });
    html! {}
}
