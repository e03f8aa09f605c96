use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ProgressBarProps {
    pub id: AttrValue,
    /// Shown above the bar, and its accessible name.
    pub label: AttrValue,
    pub value: u32,
    pub max: u32,
}

/// A labelled progress bar (a native `<progress>`, so screen readers announce it).
#[function_component]
pub fn ProgressBar(props: &ProgressBarProps) -> Html {
    let label_id = format!("{}-label", props.id);
    html! {
        <div class="progress">
            <span id={label_id.clone()}>{ props.label.clone() }</span>
            <progress id={props.id.clone()} aria-labelledby={label_id}
                value={props.value.to_string()} max={props.max.max(1).to_string()} />
        </div>
    }
}
