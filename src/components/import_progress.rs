use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ImportProgressProps {
    pub id: AttrValue,
    pub label: AttrValue,
    pub done: usize,
    pub total: usize,
    /// What is counted.
    #[prop_or(AttrValue::Static("records"))]
    pub unit: AttrValue,
}

/// A labelled progress bar of records written (or images stored, or put into an
/// export: `unit`), updated between batches.
#[function_component]
pub fn ImportProgress(props: &ImportProgressProps) -> Html {
    let label_id = format!("{}-label", props.id);
    html! {
        <div class="import-progress">
            <p id={label_id.clone()}>{ format!("{}: {} of {} {}", props.label, props.done, props.total, props.unit) }</p>
            <progress id={props.id.clone()} aria-labelledby={label_id}
                max={props.total.max(1).to_string()} value={props.done.to_string()} />
        </div>
    }
}
