//! The sync server's load generator, run by `cargo xtask bench` against a server it
//! started on 127.0.0.1 (see `BENCHMARKS.md`, "Sync server").
//!
//! ```text
//! loadgen --url http://127.0.0.1:PORT --label sqlite --database-url sqlite://...
//! ```
//!
//! For 1, 10 and 100 concurrent clients, each signed in to an account of its own:
//! - `push_100`: every client pushes batches of 100 new records (about 200 bytes of JSON
//!   each), one request after the other: records/s over the whole run, and p50/p99 of one
//!   push's latency. Baseline `raw-sqlx-<label>`: the same batches inserted into a table
//!   of the same shape straight through sqlx, one multi-row INSERT per transaction, with
//!   the same concurrency, no HTTP, no JSON, no merge.
//! - `pull_1000`: every client then pulls all its records in pages of 1,000: records/s
//!   and p50/p99 of one page. Baseline: the same pages selected straight through sqlx.
//! - `health`: `GET /api/health` (HTTP round trip + `SELECT 1`): p50/p99, the floor of
//!   any request.
//!
//! Prints one JSON line per number on stdout (`{"bench":"server",...}`) and a table on
//! stderr. Every loop is bounded; the only address it talks to is the one it is given.

use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_protocol::api::Change;
use cairn_protocol::{DeviceId, Hlc, Record, RecordKey};
use hyper::{Method, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::json;
use sqlx::{PgPool, QueryBuilder, SqlitePool};

#[path = "support/http.rs"]
mod http;
use http::{request, sign_up, HttpClient};

/// How long one request may take before the loadgen run fails.
const LIMIT: Duration = Duration::from_secs(60);

const CONCURRENCY: [usize; 3] = [1, 10, 100];
const BATCH: usize = 100;
const PAGE: usize = 1000;
/// Pushes per client: enough samples at every concurrency, bounded work at 100 clients.
fn pushes_per_client(clients: usize) -> usize {
    (300 / clients).max(10)
}

struct Args {
    url: String,
    label: String,
    database_url: String,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let (mut url, mut label, mut database_url) = (None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next();
        match flag.as_str() {
            "--url" => url = value,
            "--label" => label = value,
            "--database-url" => database_url = value,
            other => panic!("unknown option {other}"),
        }
    }
    let usage = "usage: loadgen --url URL --label NAME --database-url URL";
    Args {
        url: url.expect(usage).trim_end_matches('/').to_owned(),
        label: label.expect(usage),
        database_url: database_url.expect(usage),
    }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(200)
        .build_http();
    let raw = RawDb::connect(&args.database_url).await;
    let cairn = format!("cairn-{}", args.label);
    let baseline = format!("raw-sqlx-{}", args.label);
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();

    // Warm up: connections, prepared statements, the first pages of the tables.
    let warm = sign_up(&client, &args.url, &format!("warm-{run_id}@bench.test")).await;
    for i in 0..5 {
        let body = push_body(&batch(&format!("warm{i}")));
        request(
            &client,
            &args.url,
            Method::POST,
            "/api/v1/sync/push",
            Some(&warm),
            Some(body),
            LIMIT,
        )
        .await;
    }

    for clients in CONCURRENCY {
        let pushes = pushes_per_client(clients);
        let records = (clients * pushes * BATCH) as f64;
        eprintln!(
            "  [{}] {clients} client(s), {pushes} pushes of {BATCH} each",
            args.label
        );

        // Accounts (not timed).
        let tokens = futures_join(
            (0..clients)
                .map(|c| {
                    let (client, url) = (client.clone(), args.url.clone());
                    let email = format!("c{clients}-{c}-{run_id}@bench.test");
                    tokio::spawn(async move { sign_up(&client, &url, &email).await })
                })
                .collect(),
        )
        .await;

        // Push: every client its own batches, one after the other.
        let started = Instant::now();
        let latencies = futures_join(
            tokens
                .iter()
                .enumerate()
                .map(|(c, token)| {
                    let (client, url, token) = (client.clone(), args.url.clone(), token.clone());
                    let bodies: Vec<Bytes> = (0..pushes)
                        .map(|p| push_body(&batch(&format!("c{c}-p{p}"))))
                        .collect();
                    tokio::spawn(async move {
                        let mut latencies = Vec::with_capacity(bodies.len());
                        for body in bodies {
                            let t = Instant::now();
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
                            latencies.push(t.elapsed());
                            assert_eq!(
                                status,
                                StatusCode::OK,
                                "{}",
                                String::from_utf8_lossy(&reply)
                            );
                        }
                        latencies
                    })
                })
                .collect(),
        )
        .await;
        let push_secs = started.elapsed().as_secs_f64();
        let case = format!("push_100_c{clients}");
        report(&case, &cairn, records / push_secs, &latencies.concat());

        // The same rows straight into the database.
        let user_base = (clients as i64) * 1_000_000 + (run_id as i64 % 1_000_000) * 1000;
        let started = Instant::now();
        let latencies = futures_join(
            (0..clients)
                .map(|c| {
                    let raw = raw.clone();
                    let rows: Vec<Vec<RawRow>> = (0..pushes)
                        .map(|p| raw_rows(&batch(&format!("c{c}-p{p}")), p))
                        .collect();
                    let user = user_base + c as i64;
                    tokio::spawn(async move {
                        let mut latencies = Vec::with_capacity(rows.len());
                        for batch in rows {
                            let t = Instant::now();
                            raw.insert(user, &batch).await;
                            latencies.push(t.elapsed());
                        }
                        latencies
                    })
                })
                .collect(),
        )
        .await;
        let raw_push_secs = started.elapsed().as_secs_f64();
        report(
            &case,
            &baseline,
            records / raw_push_secs,
            &latencies.concat(),
        );

        // Pull: every client all of its records, page by page.
        let case = format!("pull_1000_c{clients}");
        let started = Instant::now();
        let pages = futures_join(
            tokens
                .iter()
                .map(|token| {
                    let (client, url, token) = (client.clone(), args.url.clone(), token.clone());
                    tokio::spawn(async move {
                        let (mut since, mut latencies, mut count) = (0u64, Vec::new(), 0usize);
                        loop {
                            let t = Instant::now();
                            let path = format!("/api/v1/sync/pull?since={since}&limit={PAGE}");
                            let (status, body) = request(
                                &client,
                                &url,
                                Method::GET,
                                &path,
                                Some(&token),
                                None,
                                LIMIT,
                            )
                            .await;
                            latencies.push(t.elapsed());
                            assert_eq!(status, StatusCode::OK);
                            let page: Page = serde_json::from_slice(&body).unwrap();
                            count += page.records.len();
                            since = page.cursor;
                            if !page.more || latencies.len() > 10_000 {
                                break;
                            }
                        }
                        (latencies, count)
                    })
                })
                .collect(),
        )
        .await;
        let pull_secs = started.elapsed().as_secs_f64();
        let pulled: usize = pages.iter().map(|(_, n)| n).sum();
        assert_eq!(pulled as f64, records, "every pushed record pulled once");
        let latencies: Vec<_> = pages.into_iter().flat_map(|(l, _)| l).collect();
        report(&case, &cairn, records / pull_secs, &latencies);

        let started = Instant::now();
        let pages = futures_join(
            (0..clients)
                .map(|c| {
                    let raw = raw.clone();
                    let user = user_base + c as i64;
                    tokio::spawn(async move {
                        let (mut since, mut latencies, mut count) = (0i64, Vec::new(), 0usize);
                        loop {
                            let t = Instant::now();
                            let (n, last) = raw.page(user, since, PAGE as i64).await;
                            latencies.push(t.elapsed());
                            count += n;
                            since = last;
                            if n < PAGE || latencies.len() > 10_000 {
                                break;
                            }
                        }
                        (latencies, count)
                    })
                })
                .collect(),
        )
        .await;
        let raw_pull_secs = started.elapsed().as_secs_f64();
        let latencies: Vec<_> = pages.into_iter().flat_map(|(l, _)| l).collect();
        report(&case, &baseline, records / raw_pull_secs, &latencies);

        // The floor: a request that does (almost) nothing.
        let per_client = (1000 / clients).max(10);
        let latencies = futures_join(
            (0..clients)
                .map(|_| {
                    let (client, url) = (client.clone(), args.url.clone());
                    tokio::spawn(async move {
                        let mut latencies = Vec::with_capacity(per_client);
                        for _ in 0..per_client {
                            let t = Instant::now();
                            let (status, _) = request(
                                &client,
                                &url,
                                Method::GET,
                                "/api/health",
                                None,
                                None,
                                LIMIT,
                            )
                            .await;
                            latencies.push(t.elapsed());
                            assert_eq!(status, StatusCode::OK);
                        }
                        latencies
                    })
                })
                .collect(),
        )
        .await;
        let latencies = latencies.concat();
        let (p50, p99) = percentiles(&latencies);
        let case = format!("health_c{clients}");
        line(&case, &cairn, "p50_ms", p50, latencies.len());
        line(&case, &cairn, "p99_ms", p99, latencies.len());
    }
    raw.drop_table().await;
}

#[derive(Deserialize)]
struct Page {
    records: Vec<serde::de::IgnoredAny>,
    cursor: u64,
    more: bool,
}

/// 100 new note-like records with ids under `prefix`.
fn batch(prefix: &str) -> Vec<Record> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let device = DeviceId::new("bench").unwrap();
    (0..BATCH)
        .map(|i| {
            let value = json!({
                "title": format!("Note {prefix} {i}"),
                "body": "The quick brown fox jumps over the lazy dog. ".repeat(3),
                "tags": ["bench", "load"],
                "starred": i % 7 == 0,
            });
            let hlc = Hlc::new(now, i as u32, device.clone()).unwrap();
            Record::new(RecordKey::new("notes", format!("{prefix}-{i}")), value, hlc)
        })
        .collect()
}

fn push_body(changes: &[Record]) -> Bytes {
    // Each change re-sends its version as it is (its own base): merged by clock alone.
    let changes: Vec<Change> = changes.iter().map(|r| Change::replay(r.clone())).collect();
    Bytes::from(
        serde_json::to_vec(&json!({"protocol": 2, "device_id": "bench", "changes": changes}))
            .unwrap(),
    )
}

async fn futures_join<T: Send + 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.expect("a client task failed"));
    }
    out
}

fn percentiles(latencies: &[Duration]) -> (f64, f64) {
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.99))
}

fn report(case: &str, implementation: &str, records_per_s: f64, latencies: &[Duration]) {
    let (p50, p99) = percentiles(latencies);
    line(
        case,
        implementation,
        "records_per_s",
        records_per_s.round(),
        1,
    );
    line(case, implementation, "p50_ms", p50, latencies.len());
    line(case, implementation, "p99_ms", p99, latencies.len());
}

fn line(case: &str, implementation: &str, metric: &str, value: f64, runs: usize) {
    let value = (value * 100.0).round() / 100.0;
    println!(
        "{}",
        json!({"bench": "server", "case": case, "impl": implementation,
               "metric": metric, "value": value, "runs": runs})
    );
    eprintln!("    {case:<16} {implementation:<20} {metric:<14} {value:>10}");
}

/// A row of the baseline table.
struct RawRow {
    collection: String,
    id: String,
    value: String,
    hlc: String,
    seq: i64,
}

fn raw_rows(records: &[Record], batch_no: usize) -> Vec<RawRow> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| RawRow {
            collection: r.collection.clone(),
            id: r.id.clone(),
            value: serde_json::to_string(&r.value).unwrap(),
            hlc: r.hlc.to_string(),
            seq: (batch_no * BATCH + i + 1) as i64,
        })
        .collect()
}

/// The baseline: a table shaped like `records`, written and read straight through sqlx.
#[derive(Clone)]
enum RawDb {
    /// Writers queue in-process, as the server's do.
    Sqlite(SqlitePool, std::sync::Arc<tokio::sync::Mutex<()>>),
    Postgres(PgPool),
}

const RAW_TABLE: &str = "bench_raw_records";

impl RawDb {
    async fn connect(url: &str) -> RawDb {
        let db = if url.starts_with("sqlite:") {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            let options = options
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(30));
            RawDb::Sqlite(
                SqlitePool::connect_with(options).await.unwrap(),
                Default::default(),
            )
        } else {
            RawDb::Postgres(PgPool::connect(url).await.unwrap())
        };
        let (create, index) = match db {
            RawDb::Sqlite(..) => (
                "CREATE TABLE IF NOT EXISTS bench_raw_records (
                     user_id INTEGER NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL,
                     value TEXT NOT NULL, hlc TEXT NOT NULL, deleted INTEGER NOT NULL,
                     seq INTEGER NOT NULL, PRIMARY KEY (user_id, collection, id))",
                "CREATE UNIQUE INDEX IF NOT EXISTS bench_raw_by_seq
                     ON bench_raw_records (user_id, seq)",
            ),
            RawDb::Postgres(_) => (
                "CREATE TABLE IF NOT EXISTS bench_raw_records (
                     user_id BIGINT NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL,
                     value TEXT NOT NULL, hlc TEXT COLLATE \"C\" NOT NULL,
                     deleted BOOLEAN NOT NULL, seq BIGINT NOT NULL,
                     PRIMARY KEY (user_id, collection, id))",
                "CREATE UNIQUE INDEX IF NOT EXISTS bench_raw_by_seq
                     ON bench_raw_records (user_id, seq)",
            ),
        };
        db.execute(create).await;
        db.execute(index).await;
        db
    }

    async fn execute(&self, sql: &'static str) {
        match self {
            RawDb::Sqlite(pool, _) => drop(sqlx::raw_sql(sql).execute(pool).await.unwrap()),
            RawDb::Postgres(pool) => drop(sqlx::raw_sql(sql).execute(pool).await.unwrap()),
        }
    }

    async fn drop_table(&self) {
        self.execute("DROP TABLE bench_raw_records").await;
    }

    /// One transaction, one multi-row INSERT.
    async fn insert(&self, user: i64, rows: &[RawRow]) {
        macro_rules! insert {
            ($pool:expr, $begin:expr) => {{
                let mut tx = $pool.begin_with($begin).await.unwrap();
                let mut q = QueryBuilder::new(format!(
                    "INSERT INTO {RAW_TABLE} (user_id, collection, id, value, hlc, deleted, seq) "
                ));
                q.push_values(rows, |mut b, r| {
                    b.push_bind(user)
                        .push_bind(&r.collection)
                        .push_bind(&r.id)
                        .push_bind(&r.value)
                        .push_bind(&r.hlc)
                        .push_bind(false)
                        .push_bind(r.seq);
                });
                q.build().execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            }};
        }
        match self {
            RawDb::Sqlite(pool, writer) => {
                let _turn = writer.lock().await;
                insert!(pool, "BEGIN IMMEDIATE")
            }
            RawDb::Postgres(pool) => insert!(pool, "BEGIN"),
        }
    }

    /// One page after `since`: how many rows and the last seq.
    async fn page(&self, user: i64, since: i64, limit: i64) -> (usize, i64) {
        type Row = (String, String, String, String, bool, i64);
        let rows: Vec<Row> = match self {
            RawDb::Sqlite(pool, _) => sqlx::query_as(
                "SELECT collection, id, value, hlc, deleted, seq FROM bench_raw_records
                 WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .bind(user)
            .bind(since)
            .bind(limit)
            .fetch_all(pool)
            .await
            .unwrap(),
            RawDb::Postgres(pool) => sqlx::query_as(
                "SELECT collection, id, value, hlc, deleted, seq FROM bench_raw_records
                 WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(user)
            .bind(since)
            .bind(limit)
            .fetch_all(pool)
            .await
            .unwrap(),
        };
        (rows.len(), rows.last().map_or(since, |r| r.5))
    }
}
