use cairn_protocol::ConflictKind;
use yew::prelude::*;

use crate::format::time_of;
use crate::hooks::{use_persistence, use_sync};

/// Versions made without knowing each other: those merged automatically, and those where
/// one replaced the other, each restorable.
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
        let merged = c.kind == ConflictKind::Merged;
        let (class, title, lost_label, restore_label) = if merged {
            (
                "conflict merged",
                "Merged automatically",
                "This device's version before the merge",
                "Restore the version from before the merge",
            )
        } else {
            (
                "conflict overwritten",
                "Needs your attention",
                "Replaced version (not kept)",
                "Restore this version",
            )
        };
        let explained = if merged {
            "Changes made here and elsewhere were combined into the current version; nothing was lost."
        } else {
            "The same part was changed in both versions: the newer change was kept."
        };
        html! {
            <li class={class} key={format!("{}/{}/{}", stored.collection, stored.id, stored.lost_hlc)}>
                <p>
                    <strong class="conflict-kind">{ title }</strong>{ " · " }
                    <strong>{ format!("{} / {}", stored.collection, stored.id) }</strong>
                    { format!(" — changed on {}; noticed {}", device_name(c.winner.hlc.device().as_str(), &this_device), time_of(c.detected_at_ms)) }
                </p>
                <p class="lost-meta">
                    { format!(
                        "{explained} The other version was written {} on {}.",
                        time_of(c.loser.hlc.wall_ms()),
                        device_name(c.loser.hlc.device().as_str(), &this_device),
                    ) }
                </p>
                <dl>
                    <dt>{ lost_label }</dt>
                    <dd class="lost-value">{ shown(&c.loser) }</dd>
                    <dt>{ "Current version" }</dt>
                    <dd class="current-value">{ shown(&c.winner) }</dd>
                </dl>
                <button class="restore" onclick={restore}>{ restore_label }</button>{ " " }
                <button class="dismiss" onclick={dismiss}>{ "Dismiss" }</button>
            </li>
        }
    });
    html! {
        <section aria-labelledby="conflicts-title">
            <h3 id="conflicts-title">{ format!("Conflicts ({})", conflicts.len()) }</h3>
            <p>{ "Each entry is a change made without knowing another — on another device, or here while you were typing. Where both changed different parts, they were merged; where they changed the same part, the newer change was kept. Restore a version to make it current again." }</p>
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
