//! Memory of the sync server holding many idle change streams, run by `cargo xtask bench`
//! (server part) against a release server it started on 127.0.0.1 (see `BENCHMARKS.md`,
//! "Idle change streams").
//!
//! ```text
//! cairn-server --port 0 --user-rate-per-minute 0 --auth-rate-per-minute 0 \
//!              --event-heartbeat-secs 1 ... &
//! streamload --url http://127.0.0.1:PORT --pid PID --label sqlite [--streams 1000] [--accounts 40]
//! ```
//!
//! Registers `--accounts` accounts (one session each), reads the server's resident set
//! (`VmRSS` in `/proc/<pid>/status`) and resets its peak (`/proc/<pid>/clear_refs`), then
//! opens `--streams` authenticated `GET /api/v1/sync/events` streams spread evenly over
//! the accounts (25 each by default, within the per-account limit of 32), each on its
//! own connection. Once every stream has had its first event and then `--heartbeats`
//! heartbeats (so they are open and idle, and the server has written to each since), it
//! reads `VmRSS` and the peak `VmHWM` again. Last, it checks the streams are live: one
//! push per account, and the time until every stream has heard its account's new cursor.
//!
//! 1,000 streams take 1,000 descriptors on each side: both this program and the server
//! need a soft `RLIMIT_NOFILE` above that (xtask raises it to the hard limit for both).
//! This program checks both limits first and says so if one is too low.
//!
//! Prints one JSON line per number on stdout (`{"bench":"server",...}`) and a summary on
//! stderr. Every wait is bounded; the only address it talks to is the one it is given.

use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_protocol::api::Change;
use cairn_protocol::{DeviceId, Hlc, Record, RecordKey};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tokio::sync::mpsc;

#[path = "support/http.rs"]
mod http;
#[path = "support/proc_status.rs"]
mod proc_status;
use http::{request, sign_up, HttpClient};
use proc_status::status_mib;

/// How long one request may take before the streamload run fails.
const LIMIT: Duration = Duration::from_secs(60);

/// How long any one phase may take before the run fails.
const PHASE_TIMEOUT: Duration = Duration::from_secs(120);
/// Streams opened at once while opening them.
const OPENING_AT_ONCE: usize = 50;

struct Args {
    url: String,
    pid: u32,
    label: String,
    streams: usize,
    accounts: usize,
    heartbeats: usize,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        url: String::new(),
        pid: 0,
        label: "sqlite".into(),
        streams: 1000,
        accounts: 40,
        heartbeats: 2,
    };
    let usage = "usage: streamload --url URL --pid PID [--label NAME] [--streams N] \
                 [--accounts N] [--heartbeats N]";
    while let Some(flag) = args.next() {
        let value = args.next().expect(usage);
        match flag.as_str() {
            "--url" => parsed.url = value.trim_end_matches('/').to_owned(),
            "--pid" => parsed.pid = value.parse().expect(usage),
            "--label" => parsed.label = value,
            "--streams" => parsed.streams = value.parse().expect(usage),
            "--accounts" => parsed.accounts = value.parse().expect(usage),
            "--heartbeats" => parsed.heartbeats = value.parse().expect(usage),
            other => panic!("unknown option {other}; {usage}"),
        }
    }
    assert!(
        !parsed.url.is_empty() && parsed.pid > 0 && parsed.accounts > 0,
        "{usage}"
    );
    parsed
}

/// The soft limit on open files of process `pid` (`self` for this one).
fn open_files_limit(pid: &str) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("readable limits");
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .map_or(u64::MAX, |soft| soft.parse().unwrap_or(u64::MAX))
}

/// The server's open file descriptors.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Resets the server's peak resident set to what it holds now.
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("may reset the peak RSS");
}

/// What a stream tells the main task.
enum Heard {
    /// Stream `i`'s first event (its account's head).
    Opened(usize),
    /// A later cursor event on stream `i`.
    Cursor(usize),
    /// A heartbeat comment on stream `i`.
    Heartbeat(usize),
    /// Stream `i` ended or failed.
    Ended(usize, String),
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let needed = args.streams as u64 + 64;
    for (who, pid) in [
        ("this program", "self".to_owned()),
        ("the server", args.pid.to_string()),
    ] {
        let limit = open_files_limit(&pid);
        assert!(
            limit >= needed,
            "{who} may open only {limit} files, and {} streams need about {needed}: \
             raise its soft limit (`ulimit -n`), as `cargo xtask bench` does",
            args.streams
        );
    }
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();

    let mut tokens = Vec::new();
    for a in 0..args.accounts {
        let email = format!("streams-{run_id}-{a}@bench.test");
        tokens.push(sign_up(&client, &args.url, &email).await);
    }
    let fds_before = open_fds(args.pid);
    let rss_before = status_mib(args.pid, "VmRSS");
    reset_peak(args.pid);

    // Open every stream, a few at a time; each reads its body until it ends.
    let mut heartbeats = vec![0; args.streams];
    let (tx, mut rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let mut opened = 0;
    let mut next = 0;
    let mut readers = Vec::with_capacity(args.streams);
    while opened < args.streams {
        while next < args.streams && next - opened < OPENING_AT_ONCE {
            let token = tokens[next % args.accounts].clone();
            readers.push(tokio::spawn(read_stream(
                client.clone(),
                args.url.clone(),
                token,
                next,
                tx.clone(),
            )));
            next += 1;
        }
        match next_heard(&mut rx, "every stream's first event").await {
            Heard::Opened(_) => opened += 1,
            Heard::Heartbeat(_) => {}
            Heard::Cursor(i) => panic!("stream {i}: a cursor before anyone pushed"),
            Heard::Ended(i, why) => panic!("stream {i} ended while opening: {why}"),
        }
    }
    let open_secs = started.elapsed().as_secs_f64();

    // Idle: every stream has had its heartbeats since it opened (the server wrote to
    // each; run it with `--event-heartbeat-secs 1`).
    let mut idle = 0;
    while idle < args.streams {
        match next_heard(&mut rx, "the heartbeats of every stream").await {
            Heard::Heartbeat(i) => {
                heartbeats[i] += 1;
                if heartbeats[i] == args.heartbeats {
                    idle += 1;
                }
            }
            Heard::Opened(i) | Heard::Cursor(i) => panic!("stream {i}: an event while idle"),
            Heard::Ended(i, why) => panic!("stream {i} ended while idle: {why}"),
        }
    }
    let rss_after = status_mib(args.pid, "VmRSS");
    let peak = status_mib(args.pid, "VmHWM");
    let fds_after = open_fds(args.pid);

    // Live: one push per account (all at once), heard on every one of its streams.
    let pushed = Instant::now();
    let pushes: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(a, token)| {
            let (client, url, token) = (client.clone(), args.url.clone(), token.clone());
            tokio::spawn(async move { push_one(&client, &url, &token, a).await })
        })
        .collect();
    for push in pushes {
        push.await.expect("a push");
    }
    let mut heard = vec![false; args.streams];
    let mut left = args.streams;
    while left > 0 {
        match next_heard(&mut rx, "every stream's event after the pushes").await {
            Heard::Cursor(i) if !heard[i] => {
                heard[i] = true;
                left -= 1;
            }
            Heard::Cursor(_) | Heard::Opened(_) | Heard::Heartbeat(_) => {}
            Heard::Ended(i, why) => panic!("stream {i} ended before the push: {why}"),
        }
    }
    let fanout_ms = pushed.elapsed().as_secs_f64() * 1000.0;
    for reader in &readers {
        reader.abort();
    }

    let growth = rss_after - rss_before;
    eprintln!(
        "  {} streams over {} accounts ({label}), opened in {open_secs:.1} s; server RSS \
         {rss_before:.1} → {rss_after:.1} MiB (+{growth:.1} MiB, {:.1} KiB a stream), peak \
         {peak:.1} MiB; server fds {fds_before} → {fds_after}; {} pushes heard on every \
         stream within {fanout_ms:.0} ms",
        args.streams,
        args.accounts,
        growth * 1024.0 / args.streams as f64,
        args.accounts,
        label = args.label,
    );
    let case = format!("idle_streams_{}", args.streams);
    let implementation = format!("cairn-{}", args.label);
    let runs = 1;
    for (metric, value) in [
        ("rss_before_mib", rss_before),
        ("rss_after_mib", rss_after),
        ("rss_growth_mib", growth),
        ("peak_rss_mib", peak),
        ("kib_per_stream", growth * 1024.0 / args.streams as f64),
        ("open_secs", open_secs),
        ("fanout_all_ms", fanout_ms),
    ] {
        let value = (value * 100.0).round() / 100.0;
        println!(
            "{}",
            json!({"bench": "server", "case": case, "impl": implementation,
                   "metric": metric, "value": value, "runs": runs})
        );
    }
}

async fn next_heard(rx: &mut mpsc::UnboundedReceiver<Heard>, waiting_for: &str) -> Heard {
    tokio::time::timeout(PHASE_TIMEOUT, rx.recv())
        .await
        .unwrap_or_else(|_| {
            panic!("no progress within {PHASE_TIMEOUT:?} waiting for {waiting_for}")
        })
        .expect("the readers hold the sender")
}

/// Opens stream `i` and reads it until it ends: its first `cursor` event is `Opened`,
/// later ones `Cursor`; heartbeat comments are counted.
async fn read_stream(
    client: HttpClient,
    url: String,
    token: String,
    i: usize,
    tx: mpsc::UnboundedSender<Heard>,
) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("{url}/api/v1/sync/events"))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = match client.request(req).await {
        Ok(res) if res.status() == StatusCode::OK => res,
        Ok(res) => {
            let status = res.status();
            let body = res.into_body().collect().await.map(|b| b.to_bytes());
            let body = body.map_or(String::new(), |b| String::from_utf8_lossy(&b).into_owned());
            let _ = tx.send(Heard::Ended(i, format!("{status}: {body}")));
            return;
        }
        Err(e) => {
            let _ = tx.send(Heard::Ended(i, e.to_string()));
            return;
        }
    };
    let mut body = res.into_body();
    let mut buffer = String::new();
    let mut events = 0;
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                buffer.push_str(&String::from_utf8_lossy(&data));
                // Events end at a blank line.
                while let Some(end) = buffer.find("\n\n") {
                    let event: String = buffer.drain(..end + 2).collect();
                    if event.starts_with(':') {
                        let _ = tx.send(Heard::Heartbeat(i));
                    } else if event.contains("event: cursor") {
                        events += 1;
                        let heard = if events == 1 {
                            Heard::Opened(i)
                        } else {
                            Heard::Cursor(i)
                        };
                        let _ = tx.send(heard);
                    }
                }
            }
            Some(Err(e)) => {
                let _ = tx.send(Heard::Ended(i, e.to_string()));
                return;
            }
            None => {
                let _ = tx.send(Heard::Ended(i, "the server ended the stream".into()));
                return;
            }
        }
    }
}

/// Pushes one new record to the account of `token`.
async fn push_one(client: &HttpClient, url: &str, token: &str, a: usize) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let hlc = Hlc::new(now, 0, DeviceId::new("streams").unwrap()).unwrap();
    let record = Record::new(
        RecordKey::new("notes", format!("poke-{a}")),
        json!("x"),
        hlc,
    );
    let body =
        json!({"protocol": 2, "device_id": "streams", "changes": [Change::new(record, None)]});
    let (status, reply) = request(
        client,
        url,
        Method::POST,
        "/api/v1/sync/push",
        Some(token),
        Some(Bytes::from(body.to_string())),
        LIMIT,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply)
    );
}
