//! Live changes, `GET /api/v1/sync/events`, as a black box against SQLite and PostgreSQL
//! (`sqlite::<case>`, `postgres::<case>`), plus the cases that need two server processes
//! on one PostgreSQL database or a real socket. Nothing here waits for time: each test
//! waits for the next event (or for a gauge), with a generous timeout only as a guard.

#[macro_use]
mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use bytes::Bytes;
use cairn_protocol::api::CursorEvent;
use cairn_server::{serve, AppState, Settings};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde_json::json;
use support::{note, now, test_settings, Backend, TestApp};
use tower::ServiceExt;

on_both_backends!(
    the_first_event_is_the_accounts_cursor,
    a_push_of_the_account_is_heard_and_nothing_else_is,
    a_burst_of_pushes_ends_at_the_latest_cursor,
    unauthenticated_streams_are_refused_as_json,
    streams_are_capped_per_process_and_per_account,
    a_stream_holds_no_in_flight_slot_of_its_account,
    an_idle_stream_sends_heartbeats,
    a_stream_ends_with_its_session,
);

/// A guard against a hang, never a way to wait: every wait below is for a condition.
const GUARD: Duration = Duration::from_secs(20);

/// What a stream sends: an event, or a comment (a heartbeat).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Event { name: String, data: String },
    Comment(String),
}

/// Reads server-sent events from a response body.
struct Events<B> {
    body: B,
    buf: String,
}

impl<B> Events<B>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    fn new(body: B) -> Self {
        Events {
            body,
            buf: String::new(),
        }
    }

    /// The next block (event or comment), waiting for it.
    async fn next(&mut self) -> Sent {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                return parse_block(block.trim_end());
            }
            let frame = tokio::time::timeout(GUARD, self.body.frame())
                .await
                .expect("the stream sends something in time")
                .expect("the stream did not end")
                .expect("the stream did not fail");
            if let Ok(data) = frame.into_data() {
                self.buf.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }

    /// The next event, skipping heartbeats; it must be a cursor event.
    async fn next_cursor(&mut self) -> CursorEvent {
        loop {
            match self.next().await {
                Sent::Comment(_) => continue,
                Sent::Event { name, data } => {
                    assert_eq!(name, "cursor", "data: {data}");
                    return serde_json::from_str(&data).unwrap();
                }
            }
        }
    }

    /// Whether the stream ends (the body is over) before anything else than heartbeats.
    async fn ends(&mut self) -> bool {
        loop {
            match tokio::time::timeout(GUARD, self.body.frame())
                .await
                .expect("the stream ends in time")
            {
                None => return true,
                Some(Err(_)) => return true,
                Some(Ok(frame)) => {
                    let data = frame.into_data().unwrap_or_default();
                    let text = std::str::from_utf8(&data).unwrap();
                    assert!(
                        text.starts_with(':'),
                        "only heartbeats before the end: {text}"
                    );
                }
            }
        }
    }
}

fn parse_block(block: &str) -> Sent {
    if let Some(comment) = block.strip_prefix(':') {
        assert!(!block.contains('\n'), "one comment line: {block:?}");
        return Sent::Comment(comment.to_owned());
    }
    let (mut name, mut data) = (String::new(), String::new());
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value.to_owned(),
            "data" => data.push_str(value),
            other => panic!("unexpected field {other:?} in {block:?}"),
        }
    }
    Sent::Event { name, data }
}

fn events_request(token: Option<&str>) -> Request<Body> {
    let mut req = Request::builder()
        .uri("/api/v1/sync/events")
        .header(header::ACCEPT_ENCODING, "br, gzip");
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    req.body(Body::empty()).unwrap()
}

/// Opens a stream on `app`'s router (no socket): it must be `200 text/event-stream`,
/// uncompressed, never cached.
async fn open(app: &TestApp, token: &str) -> Events<Body> {
    let res = app
        .router
        .clone()
        .oneshot(events_request(Some(token)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers();
    assert_eq!(headers[header::CONTENT_TYPE], "text/event-stream");
    assert!(
        headers.get(header::CONTENT_ENCODING).is_none(),
        "a stream is never compressed"
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers["x-accel-buffering"], "no");
    Events::new(res.into_body())
}

/// The status and body of a refused stream (whose body is JSON, so it ends).
async fn refused(app: &TestApp, token: Option<&str>) -> support::Reply {
    app.send(events_request(token)).await
}

async fn the_first_event_is_the_accounts_cursor(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let mut fresh = open(&app, &token).await;
    let first = fresh.next_cursor().await;
    assert_eq!(first.cursor, 0, "no records yet");
    assert_eq!(first.epoch, app.db.epoch());
    let t = now();
    let records: Vec<_> = (0..3)
        .map(|i| note(&format!("n{i}"), json!(i), t, "d"))
        .collect();
    let reply = app.push(&token, &records).await;
    assert_eq!(reply.seq_after, 3);
    let mut later = open(&app, &token).await;
    assert_eq!(
        later.next_cursor().await,
        CursorEvent {
            cursor: 3,
            epoch: app.db.epoch().to_owned()
        },
        "a stream opened later starts at the account's head"
    );
}

async fn a_push_of_the_account_is_heard_and_nothing_else_is(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let bob = app.register("bob@example.org").await;
    let t = now();
    let first: Vec<_> = (0..2)
        .map(|i| note(&format!("a{i}"), json!(i), t, "d"))
        .collect();
    app.push(&alice, &first).await;
    let mut alices = open(&app, &alice).await;
    let mut bobs = open(&app, &bob).await;
    assert_eq!(alices.next_cursor().await.cursor, 2);
    assert_eq!(bobs.next_cursor().await.cursor, 0);

    // Bob's push is Bob's stream's only.
    let reply = app.push(&bob, &[note("b", json!(1), t, "e")]).await;
    assert_eq!(reply.seq_after, 1);
    assert_eq!(bobs.next_cursor().await.cursor, 1);
    // A push that stores nothing (duplicates) is not an event either.
    let again = app.push(&alice, &first).await;
    assert_eq!((again.applied, again.seq_after), (0, 2));
    // So the next event on Alice's stream is her next push's: not 1 (Bob's), not 2.
    let reply = app.push(&alice, &[note("a2", json!(2), t, "d")]).await;
    assert_eq!((reply.seq_before, reply.seq_after), (2, 3));
    let heard = alices.next_cursor().await;
    assert_eq!(heard.cursor, reply.seq_after);
    assert_eq!(heard.epoch, app.db.epoch());
    // Every stream of the account hears it.
    let mut second = open(&app, &alice).await;
    assert_eq!(second.next_cursor().await.cursor, 3);
    let reply = app.push(&alice, &[note("a3", json!(3), t, "d")]).await;
    assert_eq!(alices.next_cursor().await.cursor, reply.seq_after);
    assert_eq!(second.next_cursor().await.cursor, reply.seq_after);
}

async fn a_burst_of_pushes_ends_at_the_latest_cursor(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let mut stream = open(&app, &token).await;
    assert_eq!(stream.next_cursor().await.cursor, 0);
    let t = now();
    let mut last = 0;
    for i in 0..5 {
        last = app
            .push(&token, &[note(&format!("n{i}"), json!(i), t, "d")])
            .await
            .seq_after;
    }
    assert_eq!(last, 5);
    // Events may coalesce; they only go up, and they reach the latest.
    let mut seen = 0;
    while seen < last {
        let cursor = stream.next_cursor().await.cursor;
        assert!(cursor > seen, "{cursor} after {seen}");
        seen = cursor;
    }
    assert_eq!(seen, last);
}

async fn unauthenticated_streams_are_refused_as_json(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let reply = refused(&app, None).await;
    assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
    reply.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    refused(&app, Some("not-a-token"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(app.db.events().subscriptions(), 0);
}

async fn streams_are_capped_per_process_and_per_account(backend: Backend) {
    let settings = Settings {
        max_event_streams: 3,
        max_event_streams_per_account: 2,
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let alice = app.register("alice@example.org").await;
    let bob = app.register("bob@example.org").await;
    let a1 = open(&app, &alice).await;
    let a2 = open(&app, &alice).await;
    let reply = refused(&app, Some(&alice)).await;
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let b1 = open(&app, &bob).await;
    let reply = refused(&app, Some(&bob)).await;
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    reply.expect_error(StatusCode::SERVICE_UNAVAILABLE, "server_busy");
    assert_eq!(app.db.events().subscriptions(), 3);
    // A stream that goes frees its slots at once.
    drop(a1);
    assert_eq!(app.db.events().subscriptions(), 2);
    let mut b2 = open(&app, &bob).await;
    assert_eq!(b2.next_cursor().await.cursor, 0);
    drop((a2, b1, b2));
    assert_eq!(app.db.events().subscriptions(), 0);
}

async fn a_stream_holds_no_in_flight_slot_of_its_account(backend: Backend) {
    let settings = Settings {
        max_in_flight_per_account: 1,
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let token = app.register("alice@example.org").await;
    let mut stream = open(&app, &token).await;
    assert_eq!(stream.next_cursor().await.cursor, 0);
    // With the stream open, the account's one slot is free for its pushes and pulls.
    let reply = app.push(&token, &[note("n", json!(1), now(), "d")]).await;
    assert_eq!(app.pull(&token, 0, 10).await.records.len(), 1);
    assert_eq!(stream.next_cursor().await.cursor, reply.seq_after);
}

async fn an_idle_stream_sends_heartbeats(backend: Backend) {
    let settings = Settings {
        event_heartbeat: Duration::from_millis(20),
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let token = app.register("alice@example.org").await;
    let mut stream = open(&app, &token).await;
    assert_eq!(stream.next_cursor().await.cursor, 0);
    // Exactly `: heartbeat\n\n`, again and again while nothing happens.
    assert_eq!(stream.next().await, Sent::Comment(" heartbeat".into()));
    assert_eq!(stream.next().await, Sent::Comment(" heartbeat".into()));
    let reply = app.push(&token, &[note("n", json!(1), now(), "d")]).await;
    assert_eq!(stream.next_cursor().await.cursor, reply.seq_after);
}

async fn a_stream_ends_with_its_session(backend: Backend) {
    let settings = Settings {
        event_heartbeat: Duration::from_millis(20),
        session_touch_interval: Duration::from_millis(20),
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let token = app.register("alice@example.org").await;
    let other: cairn_protocol::api::Session = app
        .log_in_reply("alice@example.org", support::PASSWORD)
        .await
        .expect(StatusCode::OK);
    let mut stream = open(&app, &token).await;
    let mut others = open(&app, &other.token).await;
    assert_eq!(stream.next_cursor().await.cursor, 0);
    assert_eq!(others.next_cursor().await.cursor, 0);
    // "Sign out everywhere else", from the other device: this stream's session ends.
    let ended = app
        .call(
            Method::DELETE,
            "/api/v1/sessions/others",
            Some(&other.token),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK);
    assert!(stream.ends().await, "the stream of an ended session ends");
    // The other one goes on.
    let reply = app
        .push(&other.token, &[note("n", json!(1), now(), "d")])
        .await;
    assert_eq!(others.next_cursor().await.cursor, reply.seq_after);
    assert_eq!(app.db.events().subscriptions(), 1);
}

/// A server on a real socket (127.0.0.1, a free port) with `app`'s database; its address
/// and what stops it.
async fn on_socket(
    app: &TestApp,
    settings: Settings,
) -> (
    std::net::SocketAddr,
    AppState,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    // No app is served: any directory will do.
    let state = AppState::new(app.db.clone(), std::env::temp_dir(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    (addr, state, stop, server)
}

/// Opens a stream over a real connection: the events, and the connection's task (abort
/// it, and drop the events, to hang up).
async fn open_over_tcp(
    addr: std::net::SocketAddr,
    token: &str,
) -> (
    Events<hyper::body::Incoming>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let req = Request::builder()
        .method(Method::GET)
        .uri("/api/v1/sync/events")
        .header(header::HOST, addr.to_string())
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    (Events::new(res.into_body()), conn)
}

/// Waits until `app`'s database has `n` live subscriptions.
async fn subscriptions_become(app: &TestApp, n: usize) {
    let mut live = app.db.events().watch_subscriptions();
    tokio::time::timeout(GUARD, live.wait_for(|&live| live == n))
        .await
        .unwrap_or_else(|_| panic!("{n} subscriptions in time"))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_costs_nothing() {
    let app = TestApp::new(&Backend::Sqlite).await;
    let token = app.register("alice@example.org").await;
    let settings = Settings {
        max_event_streams: 1,
        // The server notices a closed connection when writing to it fails.
        event_heartbeat: Duration::from_millis(20),
        ..test_settings()
    };
    let (addr, _state, stop, server) = on_socket(&app, settings).await;
    let (mut events, conn) = open_over_tcp(addr, &token).await;
    assert_eq!(events.next_cursor().await.cursor, 0);
    assert_eq!(app.db.events().subscriptions(), 1);
    conn.abort();
    drop(events);
    subscriptions_become(&app, 0).await;
    // Its slot is free again: the one stream this server takes opens.
    let (mut events, _conn) = open_over_tcp(addr, &token).await;
    let reply = app.push(&token, &[note("n", json!(1), now(), "d")]).await;
    assert_eq!(events.next_cursor().await.cursor, 0);
    assert_eq!(events.next_cursor().await.cursor, reply.seq_after);
    stop.send(()).unwrap();
    tokio::time::timeout(GUARD, server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_ends_the_streams_and_the_server_stops() {
    let app = TestApp::new(&Backend::Sqlite).await;
    let token = app.register("alice@example.org").await;
    let (addr, state, stop, server) = on_socket(&app, test_settings()).await;
    let (mut one, _c1) = open_over_tcp(addr, &token).await;
    let (mut two, _c2) = open_over_tcp(addr, &token).await;
    assert_eq!(one.next_cursor().await.cursor, 0);
    assert_eq!(two.next_cursor().await.cursor, 0);
    stop.send(()).unwrap();
    assert!(one.ends().await, "the stream ends");
    assert!(two.ends().await, "the stream ends");
    tokio::time::timeout(GUARD, server)
        .await
        .expect("the server stops with streams open")
        .unwrap()
        .unwrap();
    subscriptions_become(&app, 0).await;
    // A state whose streams were ended opens no more.
    let router = cairn_server::app(state);
    let res = router.oneshot(events_request(Some(&token))).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}

/// Two server processes on one PostgreSQL database: a push through one is heard on a
/// stream of the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_through_one_instance_is_heard_on_another() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let one = TestApp::new(&backend).await;
    let two = one.second_instance().await;
    let token = one.register("alice@example.org").await;
    let mut on_two = open(&two, &token).await;
    assert_eq!(on_two.next_cursor().await.cursor, 0);
    let t = now();
    for i in 1..=3u64 {
        let reply = one
            .push(&token, &[note(&format!("n{i}"), json!(i), t, "d")])
            .await;
        assert_eq!(reply.seq_after, i);
        let heard = on_two.next_cursor().await;
        assert_eq!(heard.cursor, i, "heard through the other instance");
        assert_eq!(heard.epoch, one.db.epoch());
    }
    // And the other way round, with a stream on each.
    let mut on_one = open(&one, &token).await;
    assert_eq!(on_one.next_cursor().await.cursor, 3);
    let reply = two.push(&token, &[note("m", json!(0), t, "e")]).await;
    assert_eq!(on_one.next_cursor().await.cursor, reply.seq_after);
    assert_eq!(on_two.next_cursor().await.cursor, reply.seq_after);
}

/// The listener of an instance loses its connection: once it listens again, its streams
/// get whatever cursor they missed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_connection_is_made_again_and_nothing_is_missed() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let one = TestApp::new(&backend).await;
    let two = one.second_instance().await;
    let token = one.register("alice@example.org").await;
    let mut on_two = open(&two, &token).await;
    assert_eq!(on_two.next_cursor().await.cursor, 0);
    let t = now();
    let mut listens = two.db.events().watch_resyncs();
    for round in 1..=2u64 {
        // Once `two`'s listener listens (the first time, then again)...
        tokio::time::timeout(GUARD, listens.wait_for(|&n| n >= round))
            .await
            .expect("the listener listens in time")
            .unwrap();
        // ...its connection goes (only `two` listens: one stream, on it).
        let cairn_server::db::Pool::Postgres(pool) = one.db.pool() else {
            unreachable!()
        };
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(
            ended.iter().any(|&ended| ended),
            "the listener's connection was ended: {ended:?}"
        );
        // Pushed while the listener may well be reconnecting.
        let reply = one
            .push(&token, &[note(&format!("n{round}"), json!(round), t, "d")])
            .await;
        assert_eq!(on_two.next_cursor().await.cursor, reply.seq_after);
    }
    tokio::time::timeout(GUARD, listens.wait_for(|&n| n >= 3))
        .await
        .expect("the listener listens again in time")
        .unwrap();
}
