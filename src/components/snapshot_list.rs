use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{ImportProgress, SaveStatusBadge};
use crate::format::{human_bytes, summary_text, time_of};
use crate::hooks::{use_snapshot_settings, use_snapshots, ImportStage, SnapshotSettings};

#[derive(Properties, PartialEq)]
pub struct SnapshotListProps {
    /// Called after a restore wrote something.
    #[prop_or_default]
    pub on_changed: Callback<()>,
    /// Bumped by the page when an automatic snapshot was taken, to list it.
    #[prop_or_default]
    pub revision: u32,
}

#[derive(Clone, PartialEq)]
enum Pending {
    Restore(String),
    Delete(String),
}

/// Local snapshots: how often they are taken and how many are kept, the list (time,
/// size), and restoring or deleting one (each after a confirmation).
#[function_component]
pub fn SnapshotList(props: &SnapshotListProps) -> Html {
    let snapshots = use_snapshots();
    let settings = use_snapshot_settings();
    let pending = use_state(|| None::<Pending>);
    {
        let snapshots = snapshots.clone();
        use_effect_with(props.revision, move |_| snapshots.refresh());
    }
    let current = *settings.value();
    let set_field = |f: fn(SnapshotSettings, u32) -> SnapshotSettings| {
        let settings = settings.clone();
        // On every input, not on change: a value is kept the moment it is typed, and a
        // re-render in between (another write of these settings landing) cannot undo it.
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let n = input.value().trim().parse::<u32>().unwrap_or(0);
            settings.update(|s| f(*s, n));
        })
    };
    let on_every = set_field(|s, n| SnapshotSettings {
        every_minutes: n,
        ..s
    });
    let on_keep = set_field(|s, n| SnapshotSettings { keep: n, ..s });
    let take = {
        let (snapshots, keep) = (snapshots.clone(), current.keep);
        Callback::from(move |_| snapshots.take_now(keep))
    };

    let list = match snapshots.list() {
        None => html! { <p aria-busy="true">{ "Loading snapshots…" }</p> },
        Some(Err(e)) => html! { <p role="alert" class="error">{ e }</p> },
        Some(Ok(list)) if list.is_empty() => {
            html! { <p id="snapshot-empty">{ "No snapshots yet." }</p> }
        }
        Some(Ok(list)) => {
            let items = list.iter().map(|s| {
                let ask = |p: Pending| {
                    let pending = pending.clone();
                    Callback::from(move |_| pending.set(Some(p.clone())))
                };
                let cancel = {
                    let pending = pending.clone();
                    Callback::from(move |_| pending.set(None))
                };
                let when = time_of(s.created_at_ms);
                let confirm = match &*pending {
                    Some(Pending::Restore(id)) if *id == s.id => {
                        let restore = {
                            let (snapshots, pending, id, on_changed) =
                                (snapshots.clone(), pending.clone(), s.id.clone(), props.on_changed.clone());
                            Callback::from(move |_| {
                                pending.set(None);
                                snapshots.restore(id.clone(), on_changed.clone());
                            })
                        };
                        html! {
                            <div role="alertdialog" aria-label="Confirm restore" class="confirm">
                                <p>{ format!("Make all data as it was at {when}? Changes made since are replaced, here and, once synced, on your other devices.") }</p>
                                <button class="danger confirm-restore" onclick={restore}>{ "Yes, restore" }</button>{ " " }
                                <button onclick={cancel}>{ "Cancel" }</button>
                            </div>
                        }
                    }
                    Some(Pending::Delete(id)) if *id == s.id => {
                        let delete = {
                            let (snapshots, pending, id) = (snapshots.clone(), pending.clone(), s.id.clone());
                            Callback::from(move |_| {
                                pending.set(None);
                                snapshots.delete(id.clone());
                            })
                        };
                        html! {
                            <div role="alertdialog" aria-label="Confirm delete" class="confirm">
                                <p>{ format!("Delete the snapshot of {when}?") }</p>
                                <button class="danger confirm-delete" onclick={delete}>{ "Yes, delete" }</button>{ " " }
                                <button onclick={cancel}>{ "Cancel" }</button>
                            </div>
                        }
                    }
                    _ => html! {
                        <div class="actions">
                            <button class="restore-snapshot" onclick={ask(Pending::Restore(s.id.clone()))} disabled={snapshots.is_busy()}
                                aria-label={format!("Restore the snapshot of {when}")}>{ "Restore" }</button>
                            <button class="delete-snapshot" onclick={ask(Pending::Delete(s.id.clone()))} disabled={snapshots.is_busy()}
                                aria-label={format!("Delete the snapshot of {when}")}>{ "Delete" }</button>
                        </div>
                    },
                };
                html! {
                    <li class="snapshot" key={s.id.clone()} data-id={s.id.clone()}>
                        <p>
                            <strong class="snapshot-time">{ when.clone() }</strong>
                            { format!(" — {} record(s), {}{}", s.records, human_bytes(s.bytes as f64), if s.automatic { ", automatic" } else { "" }) }
                        </p>
                        { confirm }
                    </li>
                }
            });
            html! { <ul id="snapshot-list">{ for items }</ul> }
        }
    };
    let restore_state = match snapshots.restore_stage() {
        ImportStage::Applying { done, total, .. } => html! {
            <ImportProgress id="snapshot-progress" label="Restoring" done={*done} total={*total} />
        },
        ImportStage::Done(outcome) => {
            html! { <p id="snapshot-restored" role="status">{ format!("Snapshot restored. {}", summary_text(outcome)) }</p> }
        }
        ImportStage::Failed(e) => html! { <p role="alert" class="error">{ e }</p> },
        _ => html! {},
    };
    let message = match snapshots.message() {
        Some(Ok(m)) => html! { <p id="snapshot-message" role="status">{ m }</p> },
        Some(Err(e)) => html! { <p id="snapshot-message" role="alert" class="error">{ e }</p> },
        None => html! { <p id="snapshot-message" role="status"></p> },
    };
    html! {
        <section aria-labelledby="snapshots-title" class="storage-section">
            <h2 id="snapshots-title">{ "Snapshots" }</h2>
            <p class="hint">{ "Copies of all your data kept on this device only, taken automatically while you use Cairn." }</p>
            <div class="snapshot-settings">
                <label for="snapshot-every">{ "Take one every (minutes of use)" }</label>
                <input type="number" id="snapshot-every" inputmode="numeric"
                    min={SnapshotSettings::MINUTES.start().to_string()} max={SnapshotSettings::MINUTES.end().to_string()}
                    value={current.every_minutes.to_string()} oninput={on_every} />
                <label for="snapshot-keep">{ "Keep the newest" }</label>
                <input type="number" id="snapshot-keep" inputmode="numeric"
                    min={SnapshotSettings::KEEP.start().to_string()} max={SnapshotSettings::KEEP.end().to_string()}
                    value={current.keep.to_string()} oninput={on_keep} />
                <SaveStatusBadge status={settings.status().clone()} dirty={settings.is_dirty()} />
            </div>
            <button id="snapshot-take" onclick={take} disabled={snapshots.is_busy()}>{ "Take a snapshot now" }</button>
            { message }
            { restore_state }
            { list }
        </section>
    }
}
