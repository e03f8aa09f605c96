use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ClearDataProps {
    /// Collections with live records.
    pub collections: Vec<String>,
    /// A clear is running.
    pub clearing: bool,
    /// The outcome of the last clear.
    pub message: Option<Result<String, String>>,
    /// Clears these collections (after the user confirmed).
    pub on_clear: Callback<Vec<String>>,
}

/// Deletes chosen collections (or all), after a confirmation. Deletions are synced:
/// clearing here clears on the user's other devices too.
#[function_component]
pub fn ClearData(props: &ClearDataProps) -> Html {
    let chosen = use_state(Vec::<String>::new);
    let confirming = use_state(|| false);
    let selected: Vec<String> = props
        .collections
        .iter()
        .filter(|c| chosen.contains(c))
        .cloned()
        .collect();
    let all = !props.collections.is_empty() && selected.len() == props.collections.len();

    let toggle = |name: Option<String>| {
        let (chosen, confirming, collections) = (
            chosen.clone(),
            confirming.clone(),
            props.collections.clone(),
        );
        Callback::from(move |e: Event| {
            let on = e.target_unchecked_into::<HtmlInputElement>().checked();
            confirming.set(false);
            let mut next: Vec<String> = (*chosen).clone();
            match &name {
                None if on => next = collections.clone(),
                None => next.clear(),
                Some(n) => {
                    next.retain(|c| c != n);
                    if on {
                        next.push(n.clone());
                    }
                }
            }
            chosen.set(next);
        })
    };
    let boxes = props.collections.iter().map(|c| {
        let id = format!("clear-{c}");
        html! {
            <li key={c.clone()}>
                <input type="checkbox" id={id.clone()} checked={chosen.contains(c)} onchange={toggle(Some(c.clone()))} />
                <label for={id}>{ c }</label>
            </li>
        }
    });
    let ask = {
        let confirming = confirming.clone();
        Callback::from(move |_| confirming.set(true))
    };
    let cancel = {
        let confirming = confirming.clone();
        Callback::from(move |_| confirming.set(false))
    };
    let clear = {
        let (on_clear, chosen, confirming) =
            (props.on_clear.clone(), chosen.clone(), confirming.clone());
        let selected = selected.clone();
        Callback::from(move |_| {
            confirming.set(false);
            chosen.set(Vec::new());
            on_clear.emit(selected.clone());
        })
    };
    let message = match &props.message {
        Some(Ok(m)) => html! { <p id="clear-message" role="status">{ m }</p> },
        Some(Err(e)) => html! { <p id="clear-message" role="alert" class="error">{ e }</p> },
        None => html! { <p id="clear-message" role="status"></p> },
    };
    html! {
        <section aria-labelledby="clear-title" class="storage-section">
            <h2 id="clear-title">{ "Clear data" }</h2>
            if props.collections.is_empty() {
                <p>{ "There is nothing to clear." }</p>
            } else {
                <fieldset>
                    <legend>{ "Collections to delete" }</legend>
                    <input type="checkbox" id="clear-all" checked={all} onchange={toggle(None)} />
                    <label for="clear-all">{ "All collections" }</label>
                    <ul class="choices">{ for boxes }</ul>
                </fieldset>
                if *confirming {
                    <div role="alertdialog" aria-labelledby="clear-confirm-text" class="confirm">
                        <p id="clear-confirm-text">{ format!(
                            "Delete everything in {}? This deletes it on this device and, once synced, on your other devices. Export a backup first if you may want it back.",
                            selected.join(", ")
                        ) }</p>
                        <button id="clear-confirm" class="danger" onclick={clear}>{ "Yes, delete" }</button>{ " " }
                        <button onclick={cancel}>{ "Cancel" }</button>
                    </div>
                } else {
                    <button id="clear-button" onclick={ask} disabled={selected.is_empty() || props.clearing}>
                        { if props.clearing { "Clearing…" } else { "Clear selected…" } }
                    </button>
                }
            }
            { message }
        </section>
    }
}
