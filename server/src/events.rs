//! Live changes: `GET /api/v1/sync/events`, a server-sent event stream per signed-in
//! page that says whenever the account's pull cursor moves, so devices pull at once
//! instead of at their next timer.
//!
//! # Fan-out
//!
//! Every [`crate::Database`] has one [`Hub`]: per account with a stream open, a
//! `tokio::sync::watch` holding the latest cursor heard of (so bursts coalesce into the
//! latest cursor, and a slow stream never makes a queue grow), and a count of the
//! subscriptions ([`Hub::subscriptions`]). What feeds it:
//!
//! - `Database::push`, after its transaction committed something, publishes the
//!   account's new cursor (the push's `seq_after`) in this process at once.
//! - On PostgreSQL the push's transaction also sends `pg_notify('cairn_sync',
//!   '<user>:<seq_after>')`, delivered to every server process on the database when it
//!   commits. Each process runs one listener on that channel (started with its first
//!   stream; `db::postgres::listen`) that publishes what it hears into its hub, and
//!   reconnects when its connection is lost. Every time it starts listening (the first
//!   time too, and after every reconnect) it tells every stream to read its account's
//!   head again ([`Hub::resync`]), since notifications sent meanwhile are lost; a stream
//!   sends the head if it is beyond what it sent. A process's own notifications come
//!   back to it too; cursors only move forward, so they wake nobody twice.
//! - On SQLite there is one server process per database: the in-process publish is all.
//!
//! # A stream
//!
//! `open` subscribes first and reads the account's head second, so no push can fall
//! between the two; the first event is that head. Then one event per cursor beyond the
//! last sent, and a `: heartbeat` comment after each [`crate::Settings::event_heartbeat`]
//! without events. A stream ends when the server shuts down ([`Streams::end_all`], so a
//! graceful shutdown is not held up by streams that never end); when its session ends
//! (signed out, ended from another device, expired), found by checking the session
//! every `Streams::session_check` (the longer of the heartbeat and the session's touch
//! interval: a minute by default), which also marks the session used; and when its
//! client goes away: hyper drops the body when writing to the connection fails (at the
//! latest at the next heartbeat), and with it the subscription, so a closed client
//! costs nothing.
//!
//! # Limits
//!
//! Streams are counted on their own, not as requests in flight: the account's in-flight
//! slot (and the server's `--max-in-flight` permit) is released when the response head
//! is sent, like any other request's. At most `--max-event-streams` streams are open in
//! a process (more: `503 server_busy`) and `--max-event-streams-per-account` of one
//! account (more: `429 rate_limited`). Opening one is a request like any other for the
//! account's rate limit.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use cairn_protocol::api::{CursorEvent, CURSOR_EVENT};
use futures_util::Stream;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::db::UserId;
use crate::rate_limit::{InFlight, InFlightGuard};
use crate::{ApiError, Database, Settings};

/// The fan-out of one database in this process: the latest cursor heard of per account
/// with a subscription.
#[derive(Debug)]
pub struct Hub {
    topics: Mutex<HashMap<UserId, Topic>>,
    /// Bumped when every subscription must read its account's head again.
    resync: watch::Sender<u64>,
    /// Live subscriptions.
    live: watch::Sender<usize>,
    /// The PostgreSQL listener task, once started; aborted when the hub goes.
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[derive(Debug)]
struct Topic {
    cursor: watch::Sender<u64>,
    subscribers: usize,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            topics: Mutex::default(),
            resync: watch::Sender::new(0),
            live: watch::Sender::new(0),
            listener: Mutex::new(None),
        }
    }
}

impl Hub {
    /// Subscribes to `user`'s cursor.
    pub fn subscribe(self: &Arc<Self>, user: UserId) -> Subscription {
        let cursor = {
            let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
            let topic = topics.entry(user).or_insert_with(|| Topic {
                cursor: watch::Sender::new(0),
                subscribers: 0,
            });
            topic.subscribers += 1;
            topic.cursor.subscribe()
        };
        self.live.send_modify(|n| *n += 1);
        Subscription {
            hub: self.clone(),
            user,
            cursor,
            resync: self.resync.subscribe(),
        }
    }

    /// `user`'s cursor is now `cursor` (after a push committed): wakes its subscriptions
    /// unless they heard of this cursor or a later one already. Nobody subscribed: nothing.
    pub fn publish(&self, user: UserId, cursor: u64) {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(topic) = topics.get(&user) {
            topic.cursor.send_if_modified(|latest| {
                let newer = cursor > *latest;
                if newer {
                    *latest = cursor;
                }
                newer
            });
        }
    }

    /// Every subscription reads its account's head again (notifications may have been
    /// missed: the listener was reconnected).
    pub fn resync(&self) {
        self.resync.send_modify(|generation| *generation += 1);
    }

    /// Counts the resyncs: on PostgreSQL, each time this process's listener started
    /// listening (its first connection, then every reconnection). For tests: wait until
    /// the listener listens.
    pub fn watch_resyncs(&self) -> watch::Receiver<u64> {
        self.resync.subscribe()
    }

    /// How many subscriptions are live now.
    pub fn subscriptions(&self) -> usize {
        *self.live.borrow()
    }

    /// Watches [`Hub::subscriptions`] (for tests: wait until it is some number).
    pub fn watch_subscriptions(&self) -> watch::Receiver<usize> {
        self.live.subscribe()
    }

    /// Starts the listener with `start` unless it runs already.
    pub(crate) fn start_listener_once(&self, start: impl FnOnce() -> tokio::task::JoinHandle<()>) {
        let mut listener = self.listener.lock().unwrap_or_else(|e| e.into_inner());
        if listener.is_none() {
            *listener = Some(start());
        }
    }

    /// Stops the listener, if one runs (the database is closing).
    pub(crate) fn stop_listener(&self) {
        if let Some(task) = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop_listener();
    }
}

/// What a [`Subscription`] hears next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// The account's cursor is now this (or more).
    Cursor(u64),
    /// Notifications may have been missed: read the account's head.
    Resync,
}

/// One stream's subscription to its account's cursor; unsubscribes when dropped.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<Hub>,
    user: UserId,
    cursor: watch::Receiver<u64>,
    resync: watch::Receiver<u64>,
}

impl Subscription {
    /// Waits for the next change: the latest cursor published since the last call (a
    /// burst coalesces into one), or a resync.
    pub async fn next(&mut self) -> Heard {
        tokio::select! {
            biased;
            Ok(()) = self.resync.changed() => {
                self.resync.borrow_and_update();
                Heard::Resync
            }
            Ok(()) = self.cursor.changed() => Heard::Cursor(*self.cursor.borrow_and_update()),
            // Neither sender goes while a subscription holds the hub.
            else => std::future::pending().await,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        {
            let mut topics = self.hub.topics.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(topic) = topics.get_mut(&self.user) {
                topic.subscribers -= 1;
                if topic.subscribers == 0 {
                    topics.remove(&self.user);
                }
            }
        }
        self.hub.live.send_modify(|n| *n -= 1);
    }
}

/// The streams of one server process: their limits, and the signal that ends them.
#[derive(Debug)]
pub struct Streams {
    /// `None`: no limit.
    slots: Option<Arc<Semaphore>>,
    per_account: InFlight,
    heartbeat: std::time::Duration,
    /// How often a stream checks that its session still stands.
    session_check: std::time::Duration,
    /// Same as the auth extractor's: the session's `last_used_at` moves at most this often.
    session_touch: std::time::Duration,
    /// Becomes true when the server shuts down.
    ended: watch::Sender<bool>,
}

impl Streams {
    pub fn new(settings: &Settings) -> Streams {
        Streams {
            slots: (settings.max_event_streams > 0)
                .then(|| Arc::new(Semaphore::new(settings.max_event_streams))),
            per_account: InFlight::new(settings.max_event_streams_per_account),
            heartbeat: settings.event_heartbeat,
            session_check: settings
                .event_heartbeat
                .max(settings.session_touch_interval)
                .max(std::time::Duration::from_millis(1)),
            session_touch: settings.session_touch_interval,
            ended: watch::Sender::new(false),
        }
    }

    /// Ends every stream, now and from now on (the server is shutting down).
    pub fn end_all(&self) {
        self.ended.send_replace(true);
    }
}

/// What a stream holds while it is open.
struct Open {
    // The slots first: fields drop in order, so a stream's slots are free by the time
    // its subscription is gone from the count.
    _slot: Option<OwnedSemaphorePermit>,
    _account_slot: Option<InFlightGuard>,
    db: Database,
    user: UserId,
    token_hash: [u8; 32],
    session_check: tokio::time::Interval,
    session_touch: std::time::Duration,
    subscription: Subscription,
    /// The last cursor sent.
    sent: u64,
    /// The first event, not yet sent.
    first: Option<u64>,
    ended: watch::Receiver<bool>,
}

/// Opens `user`'s change stream: checks the limits, subscribes, reads the head, and
/// answers `200 text/event-stream` (or the error, as JSON).
pub(crate) async fn open(
    db: Database,
    streams: &Streams,
    user: UserId,
    token_hash: [u8; 32],
) -> Result<Response, ApiError> {
    if *streams.ended.borrow() {
        return Err(ApiError::Busy);
    }
    let slot = match &streams.slots {
        None => None,
        Some(slots) => Some(
            slots
                .clone()
                .try_acquire_owned()
                .map_err(|_| ApiError::Busy)?,
        ),
    };
    let account_slot = streams.per_account.enter(user)?;
    // Subscribed before the head is read: a push committed in between is heard.
    let subscription = db.subscribe(user);
    let head = db.head(user).await.map_err(ApiError::Database)?;
    let mut session_check = tokio::time::interval_at(
        tokio::time::Instant::now() + streams.session_check,
        streams.session_check,
    );
    session_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Open {
        db,
        user,
        token_hash,
        session_check,
        session_touch: streams.session_touch,
        subscription,
        sent: head,
        first: Some(head),
        ended: streams.ended.subscribe(),
        _slot: slot,
        _account_slot: account_slot,
    };
    let sse = Sse::new(events(state)).keep_alive(
        KeepAlive::new()
            .interval(streams.heartbeat)
            .text("heartbeat"),
    );
    let mut response = sse.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies that buffer responses (nginx) pass this one on as it comes.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The stream's events: the head it opened with, then every cursor beyond the last sent;
/// it ends when the server shuts down or the session ends.
fn events(state: Open) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(state, |mut state| async move {
        if let Some(head) = state.first.take() {
            let event = cursor_event(head, state.db.epoch());
            return Some((Ok(event), state));
        }
        loop {
            let heard = tokio::select! {
                biased;
                _ = state.ended.wait_for(|ended| *ended) => return None,
                _ = state.session_check.tick() => None,
                heard = state.subscription.next() => Some(heard),
            };
            let Some(heard) = heard else {
                if session_ended(&state).await {
                    return None;
                }
                continue;
            };
            let cursor = match heard {
                Heard::Cursor(cursor) => cursor,
                Heard::Resync => match state.db.head(state.user).await {
                    Ok(head) => head,
                    Err(error) => {
                        tracing::warn!(%error, user_id = state.user, "change stream: cannot read the head");
                        continue;
                    }
                },
            };
            if cursor > state.sent {
                state.sent = cursor;
                let event = cursor_event(cursor, state.db.epoch());
                return Some((Ok(event), state));
            }
        }
    })
}

/// Whether the stream's session is gone (a database failure is not that: it is checked
/// again next time).
async fn session_ended(state: &Open) -> bool {
    let now = i64::try_from(crate::now_ms()).unwrap_or(i64::MAX);
    let touch = i64::try_from(state.session_touch.as_millis()).unwrap_or(i64::MAX);
    match state
        .db
        .session_user(&state.token_hash, now, now.saturating_sub(touch))
        .await
    {
        Ok(Some(user)) => user != state.user,
        Ok(None) => true,
        Err(error) => {
            tracing::warn!(%error, user_id = state.user, "change stream: cannot check the session");
            false
        }
    }
}

/// `event: cursor` with `{"cursor": N, "epoch": "..."}`.
fn cursor_event(cursor: u64, epoch: &str) -> Event {
    let data = CursorEvent {
        cursor,
        epoch: epoch.to_owned(),
    };
    Event::default()
        .event(CURSOR_EVENT)
        .json_data(&data)
        .unwrap_or_else(|_| Event::default().event(CURSOR_EVENT))
}
