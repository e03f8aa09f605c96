//! Peak memory of the sync server under large records: one account pushes `--records`
//! records of `--value-bytes` each (a JSON string: 1,000 × 250,000 bytes by default,
//! about 240 MiB, in pushes of just under 4 MiB from `--clients` parallel clients), then
//! `--clients` clients pull all of them back at once, in pages of 1,000 (the most a pull
//! may ask for). Reads the server's peak resident set (`VmHWM` in `/proc/<pid>/status`)
//! after each phase, resetting it in between (`/proc/<pid>/clear_refs`), and prints both.
//! `--phase push` only pushes (to an account `--email`, registered), `--phase pull` only
//! pulls (signing in to `--email`): with a server restarted in between, each phase's peak
//! is measured from a fresh process, without what the allocator kept from the other.
//!
//! ```text
//! cairn-server --port 0 --user-rate-per-minute 0 --auth-rate-per-minute 0 ... &
//! memload --url http://127.0.0.1:PORT --pid PID [--records N] [--value-bytes N]
//!         [--clients N] [--phase push|pull|both] [--email ADDRESS]
//! ```
//!
//! A black-box client of the HTTP API (register, push, pull), so it runs against older
//! builds of the server too; the only address it talks to is the one it is given.

use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_protocol::api::Change;
use cairn_protocol::{DeviceId, Hlc, Record, RecordKey};
use hyper::{Method, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

#[path = "support/http.rs"]
mod http;
#[path = "support/proc_status.rs"]
mod proc_status;
use http::{request, sign_in, HttpClient};
use proc_status::status_mib;

/// How long one request may take before the memload run fails.
const LIMIT: Duration = Duration::from_secs(300);

/// Bytes of one push body at most (the server takes 4 MiB).
const PUSH_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;

struct Args {
    url: String,
    pid: u32,
    records: usize,
    value_bytes: usize,
    clients: usize,
    push: bool,
    pull: bool,
    email: Option<String>,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        url: String::new(),
        pid: 0,
        records: 1000,
        value_bytes: 250_000,
        clients: 4,
        push: true,
        pull: true,
        email: None,
    };
    let usage = "usage: memload --url URL --pid PID [--records N] [--value-bytes N] \
                 [--clients N] [--phase push|pull|both] [--email ADDRESS]";
    while let Some(flag) = args.next() {
        let value = args.next().expect(usage);
        match flag.as_str() {
            "--url" => parsed.url = value.trim_end_matches('/').to_owned(),
            "--pid" => parsed.pid = value.parse().expect(usage),
            "--records" => parsed.records = value.parse().expect(usage),
            "--value-bytes" => parsed.value_bytes = value.parse().expect(usage),
            "--clients" => parsed.clients = value.parse().expect(usage),
            "--phase" => {
                (parsed.push, parsed.pull) = match value.as_str() {
                    "push" => (true, false),
                    "pull" => (false, true),
                    "both" => (true, true),
                    _ => panic!("{usage}"),
                }
            }
            "--email" => parsed.email = Some(value),
            other => panic!("unknown option {other}; {usage}"),
        }
    }
    assert!(!parsed.url.is_empty() && parsed.pid > 0, "{usage}");
    parsed
}

/// Resets the server's peak resident set to what it holds now.
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("may reset the peak RSS");
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let email = args
        .email
        .clone()
        .unwrap_or_else(|| format!("mem-{run_id}@bench.test"));
    let path = if args.push {
        "/api/v1/accounts"
    } else {
        "/api/v1/sessions"
    };
    let token = sign_in(&client, &args.url, path, &email).await;
    let idle = status_mib(args.pid, "VmRSS");
    eprintln!(
        "  {} records of {} bytes, {} clients; server RSS before: {idle:.0} MiB",
        args.records, args.value_bytes, args.clients
    );

    let (push_secs, push_peak) = if args.push {
        push(&args, &client, &token).await
    } else {
        (0.0, 0.0)
    };
    let (pull_secs, pull_peak, pages, largest) = if args.pull {
        pull(&args, &client, &token).await
    } else {
        (0.0, 0.0, 0, 0)
    };
    eprintln!(
        "  push: {push_secs:.1} s, server peak RSS {push_peak:.0} MiB\n  \
         pull: {pull_secs:.1} s, {pages} pages per client (largest {:.1} MiB), \
         server peak RSS {pull_peak:.0} MiB",
        largest as f64 / (1024.0 * 1024.0)
    );
    println!(
        "{}",
        json!({
            "records": args.records, "value_bytes": args.value_bytes, "clients": args.clients,
            "rss_before_mib": idle.round(), "push_peak_rss_mib": push_peak.round(),
            "pull_peak_rss_mib": pull_peak.round(), "pull_pages_per_client": pages,
            "largest_page_bytes": largest,
        })
    );
}

/// The records split among the clients, each pushing its share in bodies of just under
/// 4 MiB, one after the other: seconds, and the server's peak RSS (MiB).
async fn push(args: &Args, client: &HttpClient, token: &str) -> (f64, f64) {
    reset_peak(args.pid);
    let per_push = (PUSH_BYTES / (args.value_bytes + 200)).clamp(1, 500);
    let value = "x".repeat(args.value_bytes);
    let started = Instant::now();
    let pushers: Vec<_> = (0..args.clients)
        .map(|c| {
            let (client, url, token, value) = (
                client.clone(),
                args.url.clone(),
                token.to_owned(),
                value.clone(),
            );
            let mine: Vec<usize> = (c..args.records).step_by(args.clients).collect();
            tokio::spawn(async move {
                for chunk in mine.chunks(per_push) {
                    let changes: Vec<_> = chunk.iter().map(|&i| record(i, &value)).collect();
                    let body = Bytes::from(
                        serde_json::to_vec(&json!({"protocol": 2, "device_id": "mem", "changes": replays(&changes)}))
                            .unwrap(),
                    );
                    let (status, reply) = request(
                        &client,
                        &url,
                        Method::POST,
                        "/api/v1/sync/push",
                        Some(&token),
                        Some(body),
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
            })
        })
        .collect();
    for pusher in pushers {
        pusher.await.unwrap();
    }
    (
        started.elapsed().as_secs_f64(),
        status_mib(args.pid, "VmHWM"),
    )
}

/// Every client pulls all the records, in pages of up to 1,000, all at once: seconds,
/// the server's peak RSS (MiB), pages per client and the largest page's bytes.
async fn pull(args: &Args, client: &HttpClient, token: &str) -> (f64, f64, usize, usize) {
    reset_peak(args.pid);
    let started = Instant::now();
    let pullers: Vec<_> = (0..args.clients)
        .map(|_| {
            let (client, url, token) = (client.clone(), args.url.clone(), token.to_owned());
            tokio::spawn(async move {
                let (mut since, mut records, mut pages, mut largest) = (0u64, 0usize, 0usize, 0);
                loop {
                    let path = format!("/api/v1/sync/pull?since={since}&limit=1000");
                    let (status, body) =
                        request(&client, &url, Method::GET, &path, Some(&token), None, LIMIT).await;
                    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
                    largest = largest.max(body.len());
                    let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    records += page["records"].as_array().unwrap().len();
                    pages += 1;
                    since = page["cursor"].as_u64().unwrap();
                    if !page["more"].as_bool().unwrap() {
                        return (records, pages, largest);
                    }
                }
            })
        })
        .collect();
    let mut pulled = Vec::new();
    for puller in pullers {
        pulled.push(puller.await.unwrap());
    }
    let pull_secs = started.elapsed().as_secs_f64();
    let pull_peak = status_mib(args.pid, "VmHWM");
    for &(records, _, _) in &pulled {
        assert_eq!(records, args.records, "every client pulled every record");
    }
    let (_, pages, largest) = pulled[0];
    (pull_secs, pull_peak, pages, largest)
}

/// `records` as changes that re-send each version as it is (its own base): merged by
/// clock alone. (Servers before protocol 2 ignore the extra fields.)
fn replays(records: &[Record]) -> Vec<Change> {
    records.iter().map(|r| Change::replay(r.clone())).collect()
}

fn record(i: usize, value: &str) -> Record {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let hlc = Hlc::new(now, 0, DeviceId::new("mem").unwrap()).unwrap();
    Record::new(
        RecordKey::new("notes", format!("big-{i}")),
        json!(value),
        hlc,
    )
}
