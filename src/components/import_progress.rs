use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ImportProgressProps {
    pub id: AttrValue,
    pub label: AttrValue,
    pub done: usize,
    pub total: usize,
}

/// A labelled progress bar of records written, updated between batches.
#[function_component]
pub fn ImportProgress(props: &ImportProgressProps) -> Html {
    let label_id = format!("{}-label", props.id);
    html! {
        <div class="import-progress">
            <p id={label_id.clone()}>{ format!("{}: {} of {} records", props.label, props.done, props.total) }</p>
            <progress id={props.id.clone()} aria-labelledby={label_id}
                max={props.total.max(1).to_string()} value={props.done.to_string()} />
        </div>
    }
}
