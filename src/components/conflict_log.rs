use yew::prelude::*;

use crate::components::sync_panel::time_of;
use crate::hooks::{use_persistence, use_sync};

/// Local changes that lost to a change made on another device, each restorable.
#[function_component]
pub fn ConflictLog() -> Html {
    let sync = use_sync();
    let this_device = use_persistence().device_id();
    let conflicts = &sync.view.conflicts;
    if conflicts.is_empty() {
        return html! {};
    }
    let items = conflicts.iter().map(|stored| {
        let c = &stored.conflict;
        let restore = {
            let (controller, stored) = (sync.controller.clone(), stored.clone());
            Callback::from(move |_| controller.restore(stored.clone()))
        };
        let dismiss = {
            let (controller, stored) = (sync.controller.clone(), stored.clone());
            Callback::from(move |_| controller.dismiss(stored.clone()))
        };
        let shown = |r: &cairn_protocol::Record| {
            if r.deleted {
                "(deleted)".to_owned()
            } else {
                match &r.value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }
            }
        };
        html! {
            <li class="conflict" key={format!("{}/{}/{}", stored.collection, stored.id, stored.lost_hlc)}>
                <p>
                    <strong>{ format!("{} / {}", stored.collection, stored.id) }</strong>
                    { format!(" — changed on {}; noticed {}", device_name(c.winner.hlc.device().as_str(), &this_device), time_of(c.detected_at_ms)) }
                </p>
                <p class="lost-meta">
                    { format!(
                        "The replaced version was written {} on {}.",
                        time_of(c.loser.hlc.wall_ms()),
                        device_name(c.loser.hlc.device().as_str(), &this_device),
                    ) }
                </p>
                <dl>
                    <dt>{ "Replaced version (not kept)" }</dt>
                    <dd class="lost-value">{ shown(&c.loser) }</dd>
                    <dt>{ "Current version" }</dt>
                    <dd class="current-value">{ shown(&c.winner) }</dd>
                </dl>
                <button class="restore" onclick={restore}>{ "Restore this version" }</button>{ " " }
                <button class="dismiss" onclick={dismiss}>{ "Dismiss" }</button>
            </li>
        }
    });
    html! {
        <section aria-labelledby="conflicts-title">
            <h3 id="conflicts-title">{ format!("Conflicts ({})", conflicts.len()) }</h3>
            <p>{ "Each of these versions was replaced by a change made without knowing it — on another device, or here while you were typing. Restore one to make it current again." }</p>
            <ul id="conflict-log">{ for items }</ul>
        </section>
    }
}

/// How the conflict log names the device a clock comes from: "this device", or its id.
/// A clock's device id is the device's id followed by the issuing context's suffix.
fn device_name(clock_device: &str, this_device: &str) -> String {
    if clock_device.starts_with(this_device) {
        "this device".to_owned()
    } else {
        let device = &clock_device[..clock_device.len().min(this_device.len())];
        format!("another device ({device})")
    }
}
