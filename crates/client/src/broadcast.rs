//! Cross-tab notices over BroadcastChannels named after the database: the channel
//! mechanism ([`listen`], [`post`]), and on it the store's change notices
//! ([`Broadcaster`], channel `cairn-store:<db>`). Sync's notices use the same mechanism
//! on their own channel (`crate::sync::SyncNotices`).
//!
//! After a transaction commits, the store announces the keys it changed; every other
//! context of the origin (tabs, the service worker) with a subscription hears it and can
//! re-read those records. A context never hears its own announcements: each message
//! carries the sender's random id. Each notice also carries the clock of the change, so a
//! listening context moves its own clock past it (a change it makes next must order after
//! what it has seen).

use cairn_protocol::{Hlc, RecordKey};
use serde::{Deserialize, Serialize};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

use crate::codec::{from_js, random_u64, to_js};

/// One committed transaction's changes, from one context.
#[derive(Serialize, Deserialize)]
struct Notice {
    sender: String,
    changes: Vec<Change>,
}

#[derive(Serialize, Deserialize)]
struct Change {
    collection: String,
    id: String,
    hlc: Hlc,
}

pub(crate) struct Broadcaster {
    channel_name: String,
    channel: BroadcastChannel,
    sender: String,
}

impl Broadcaster {
    /// `None` where BroadcastChannel is missing: then there is no cross-tab update.
    pub(crate) fn new(db_name: &str) -> Option<Broadcaster> {
        let channel_name = format!("cairn-store:{db_name}");
        Some(Broadcaster {
            channel: BroadcastChannel::new(&channel_name).ok()?,
            channel_name,
            sender: format!("{:016x}", random_u64().ok()?),
        })
    }

    /// Announces the changes a transaction committed, each as (collection, id, clock),
    /// in one message.
    pub(crate) fn announce<'r>(
        &self,
        changes: impl ExactSizeIterator<Item = (&'r str, &'r str, &'r Hlc)>,
    ) {
        if changes.len() == 0 {
            return;
        }
        let notice = Notice {
            sender: self.sender.clone(),
            changes: changes
                .map(|(collection, id, hlc)| Change {
                    collection: collection.to_owned(),
                    id: id.to_owned(),
                    hlc: hlc.clone(),
                })
                .collect(),
        };
        if let Ok(message) = to_js(&notice) {
            // Best effort: a failed notice only delays other tabs until they reload.
            let _ = self.channel.post_message(&message);
        }
    }

    /// Calls `on_change` with each change other contexts announce, until the
    /// subscription is dropped.
    pub(crate) fn subscribe(
        &self,
        mut on_change: impl FnMut(RecordKey, Hlc) + 'static,
    ) -> Option<Subscription> {
        let own = self.sender.clone();
        listen(&self.channel_name, move |message| {
            if let Ok(notice) = from_js::<Notice>(message) {
                if notice.sender != own {
                    for change in notice.changes {
                        on_change(RecordKey::new(change.collection, change.id), change.hlc);
                    }
                }
            }
        })
    }
}

impl Drop for Broadcaster {
    fn drop(&mut self) {
        self.channel.close();
    }
}

/// Calls `on_message` with the data of each message posted on the channel
/// `channel_name` by any other channel object (in this context or another), until the
/// subscription is dropped. `None` where BroadcastChannel is missing.
pub(crate) fn listen(
    channel_name: &str,
    mut on_message: impl FnMut(JsValue) + 'static,
) -> Option<Subscription> {
    let channel = BroadcastChannel::new(channel_name).ok()?;
    let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        on_message(event.data())
    });
    channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
    Some(Subscription {
        channel,
        _listener: listener,
    })
}

/// Posts `message` once on the channel `channel_name`, from a channel object opened for
/// it (so every listener of this context hears it too). Best effort: nothing is posted
/// where BroadcastChannel is missing.
pub(crate) fn post(channel_name: &str, message: &JsValue) {
    if let Ok(channel) = BroadcastChannel::new(channel_name) {
        let _ = channel.post_message(message);
        channel.close();
    }
}

/// Keeps a listener alive; dropping it stops the notices.
pub struct Subscription {
    channel: BroadcastChannel,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
