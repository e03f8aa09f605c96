use yew::prelude::*;

use crate::format::human_bytes;
use crate::hooks::StorageView;

#[derive(Properties, PartialEq)]
pub struct StorageUsageProps {
    pub view: StorageView,
    /// Asks the browser for persistent storage.
    pub on_persist: Callback<()>,
}

/// Records and bytes per collection, the browser's quota with a bar (and a warning near
/// the limit), and the request for persistent storage.
#[function_component]
pub fn StorageUsage(props: &StorageUsageProps) -> Html {
    let view = &props.view;
    let table = match &view.usage {
        None => html! { <p aria-busy="true">{ "Counting…" }</p> },
        Some(Err(e)) => {
            html! { <p role="alert" class="error">{ format!("Usage could not be read: {e}") }</p> }
        }
        Some(Ok(usage)) if usage.collections.is_empty() => {
            html! { <p id="usage-empty">{ "Nothing is stored yet." }</p> }
        }
        Some(Ok(usage)) => {
            let rows = usage.collections.iter().map(|c| {
                let deleted = match c.deleted {
                    0 => String::new(),
                    n => format!(" (+{n} deleted)"),
                };
                html! {
                    <tr key={c.collection.clone()} data-collection={c.collection.clone()}>
                        <th scope="row">{ &c.collection }</th>
                        <td class="records">{ c.records }{ deleted }</td>
                        <td class="bytes">{ human_bytes(c.bytes as f64) }</td>
                    </tr>
                }
            });
            html! {
                <table id="usage-table">
                    <caption class="visually-hidden">{ "Stored records by collection" }</caption>
                    <thead><tr><th scope="col">{ "Collection" }</th><th scope="col">{ "Records" }</th><th scope="col">{ "Size" }</th></tr></thead>
                    <tbody>{ for rows }</tbody>
                    <tfoot>
                        <tr id="usage-total">
                            <th scope="row">{ "Total" }</th>
                            <td class="records">{ usage.total_records }</td>
                            <td class="bytes">{ human_bytes(usage.total_bytes as f64) }</td>
                        </tr>
                    </tfoot>
                </table>
            }
        }
    };
    let quota = match view.estimate {
        Some(e) if e.quota > 0.0 => {
            let percent = e.fraction() * 100.0;
            html! {
                <>
                    <label for="quota-bar">{ "Space used by this site" }</label>
                    <progress id="quota-bar" max="1000" value={((e.fraction() * 1000.0).round() as u32).to_string()}
                        aria-valuetext={format!("{percent:.1} percent")}>{ format!("{percent:.1}%") }</progress>
                    <p id="quota-text">{ format!("{} of {} available to Cairn ({percent:.1}%)", human_bytes(e.usage), human_bytes(e.quota)) }</p>
                    if view.near_quota() {
                        <p id="quota-warning" role="alert" class="storage-warning">
                            { "Storage is almost full. Export a backup, then delete old snapshots or clear collections you no longer need; new changes may fail to save otherwise." }
                        </p>
                    }
                </>
            }
        }
        _ => {
            html! { <p id="quota-text">{ "This browser does not say how much space is available." }</p> }
        }
    };
    let persist = props.on_persist.reform(|_: MouseEvent| ());
    let persisted = match view.persisted {
        Some(true) => "Persistent: the browser keeps Cairn's data even when space runs low.",
        Some(false) => "Best effort: the browser may clear Cairn's data when space runs low.",
        None => "The browser does not say whether it keeps Cairn's data.",
    };
    html! {
        <section aria-labelledby="usage-title" class="storage-section">
            <h2 id="usage-title">{ "Usage" }</h2>
            { table }
            { quota }
            <p id="persist-status">{ persisted }</p>
            if view.persisted != Some(true) {
                <button id="persist-button" onclick={persist}>{ "Ask the browser to keep my data" }</button>
            }
            <p id="persist-result" role="status">{ view.persist_message.clone().unwrap_or_default() }</p>
        </section>
    }
}
