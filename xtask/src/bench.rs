//! `cargo xtask bench`: benchmarks, each against a baseline in the same run, appended as
//! JSON lines to `target/bench/results.jsonl` (see `shared/DESIGN.md`, Quality bars):
//!
//! - `size`: the app's and the worker's wasm, raw and gzipped;
//! - `store`: bulk write and read-all of 10,000 records and 1,000 sequential writes,
//!   the store (`crates/client/examples/store_bench.rs`) against raw IndexedDB
//!   (`tests/e2e/bench/page/raw_idb.js`) and Dexie (`dexie_bench.js`) in the same
//!   headless Chromium;
//! - `app`: time to the first render of persisted state with 10,000 notes stored,
//!   against an empty database;
//! - `sw`: a navigation's first byte with the worker woken from stopped, running, and
//!   absent; the first render of persisted state offline against online; gzipped, what
//!   the worker loads to start (loader, glues, start-up wasm: `size`/`sw_total`), its
//!   sync module (`size`/`sw_sync_module`) and both (`size`/`sw_all`);
//! - `sync`: end to end, 10,000 changes made on device A reach device B through the
//!   server (A's round, then B's), on SQLite and on a throwaway PostgreSQL, against the
//!   same pushes and pulls as bare `fetch` calls without storage, and against PouchDB
//!   in the page replicating the same documents through express-pouchdb;
//! - `images`: end to end, 20 notes with a 1 MB image each: device A's round uploads
//!   the images and pushes the notes, device B fetches every image, against the same
//!   bytes as bare `PUT`/`GET /api/v1/blobs/{hash}` calls, and against PouchDB
//!   replicating the notes with the images as attachments;
//! - `size`/`app_wasm_transfer`: the app's wasm as a fresh browser receives it, checked
//!   to be its brotli copy (and a gzip-only client's, its gzip copy);
//! - `server`: the sync server (release build) under 1, 10 and 100 concurrent clients on
//!   SQLite and on a throwaway PostgreSQL: push and pull throughput and latency, against
//!   the same rows written and read straight through sqlx, and `GET /api/health`
//!   (`server/examples/loadgen.rs`); and its memory holding 1,000 idle change streams
//!   (40 accounts × 25), the resident set before and after and the peak, then one push
//!   per account heard on every stream (`server/examples/streamload.rs`), on both
//!   databases. `cargo xtask bench server` runs only this one;
//! - `lighthouse`: Lighthouse 12 (mobile preset) on `/` and `/notes` of the release app
//!   served by the real server: the performance, accessibility and best-practices scores
//!   and LCP, FCP, TBT (`tests/e2e/bench/lighthouse.mjs`). `cargo xtask bench
//!   lighthouse` runs only this one.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::cmd::{self, step};
use crate::toolchain;
use crate::{build, tools, Paths, Result};

pub fn run(paths: &Paths) -> Result {
    let env = toolchain::prepare(paths)?;
    let browser = tools::ensure_browser()?;
    let sizes = build::app(paths, &env)?;
    let server = build::server(paths)?;
    let e2e = paths.root.join("tests/e2e");
    tools::ensure_e2e_packages(&e2e)?;

    step("Building the store benchmark page");
    let page = paths.target.join("bench/page");
    build::client_example_page(
        paths,
        &env,
        "store_bench",
        &e2e.join("bench/page"),
        &[
            "index.html",
            "raw_idb.js",
            "dexie_bench.js",
            "pouch.html",
            "pouch_bench.js",
        ],
        &page,
    )?;
    peer_libraries(&env, &e2e, &page)?;

    let (out, mut results) = open_results(paths)?;
    // What a worker loads to start and answer (its scripts and the start-up wasm), what it
    // adds when it syncs (the sync wasm), and both.
    let gz = |files: &[&str]| -> Result<u64> {
        files
            .iter()
            .map(|f| build::served_size(&paths.dist.join(f), "gz"))
            .sum()
    };
    let startup_gz = gz(&["sw.js", "sw_wasm.js", "sw_sync.js", "sw_wasm_bg.wasm"])?;
    let sync_gz = gz(&["sw_sync_bg.wasm"])?;
    for (case, value, label) in [
        (
            "sw_total",
            startup_gz,
            "start-up: loader + both glues + start-up wasm",
        ),
        (
            "sw_sync_module",
            sync_gz,
            "sync module wasm, instantiated to sync",
        ),
        ("sw_all", startup_gz + sync_gz, "all of the worker"),
    ] {
        writeln!(
            results,
            r#"{{"bench":"size","case":"{case}","impl":"cairn","metric":"bytes_gz","value":{value},"runs":1}}"#
        )
        .map_err(|e| e.to_string())?;
        eprintln!(
            "  service worker, {label}: {:.1} KiB gzipped",
            value as f64 / 1024.0
        );
    }
    for size in &sizes {
        let case = if size.file.starts_with("sw_sync") {
            "sw_sync_wasm"
        } else if size.file.starts_with("cairn_yaml") {
            "yaml_wasm"
        } else if size.file.starts_with("sw_") {
            "sw_wasm"
        } else {
            "app_wasm"
        };
        for (metric, value) in [
            ("bytes", size.bytes),
            ("bytes_gz", size.gzip_bytes),
            ("bytes_br", size.brotli_bytes),
        ] {
            writeln!(
                results,
                r#"{{"bench":"size","case":"{case}","impl":"cairn","metric":"{metric}","value":{value},"runs":1}}"#
            )
            .map_err(|e| e.to_string())?;
        }
    }

    step("Running the browser benchmarks (headless Chromium)");
    // The end-to-end sync case runs on SQLite and on this throwaway PostgreSQL.
    let pg = tools::Postgres::start(tools::PgDurability::Default)?;
    let outcome = cmd::run(
        Command::new("node")
            .arg("bench/run.mjs")
            .env("CAIRN_SERVER_BIN", &server)
            .env("CAIRN_DIST", &paths.dist)
            .env("CAIRN_BENCH_PAGE", &page)
            .env("CAIRN_BENCH_OUT", &out)
            .env("CAIRN_BENCH_POSTGRES_URL", &pg.url)
            .env("CHROMIUM", &browser.chromium)
            .current_dir(&e2e),
    );
    drop(pg);
    outcome?;
    lighthouse(paths, &server, &browser.chromium, &out)?;
    server_benches(paths, &server, &mut results)?;
    eprintln!("\nresults appended to {}", out.display());
    Ok(())
}

/// The JS peers' libraries, from the npm packages pinned in `tests/e2e/package.json`,
/// into the benchmark page: Dexie's ES module as it ships, and pouchdb-browser bundled
/// with its dependencies into one ES module by esbuild (it ships as modules importing
/// other packages by name, which a page cannot resolve).
fn peer_libraries(env: &toolchain::WasmEnv, e2e: &Path, page: &Path) -> Result {
    let modules = e2e.join("node_modules");
    std::fs::copy(modules.join("dexie/dist/dexie.mjs"), page.join("dexie.mjs"))
        .map_err(|e| format!("cannot copy Dexie: {e}"))?;
    cmd::run(
        Command::new(&env.esbuild)
            .arg(modules.join("pouchdb-browser/lib/index.es.js"))
            .args(["--bundle", "--format=esm", "--platform=browser", "--minify"])
            .args(["--log-level=warning", "--define:global=globalThis"])
            .arg(format!("--outfile={}", page.join("pouchdb.mjs").display()))
            .current_dir(e2e),
    )
}

fn open_results(paths: &Paths) -> Result<(PathBuf, File)> {
    let out = paths.target.join("bench/results.jsonl");
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let results = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .map_err(|e| format!("cannot open {}: {e}", out.display()))?;
    Ok((out, results))
}

/// `cargo xtask bench lighthouse`: only Lighthouse on the release app.
pub fn lighthouse_only(paths: &Paths) -> Result {
    let env = toolchain::prepare(paths)?;
    let browser = tools::ensure_browser()?;
    build::app(paths, &env)?;
    let server = build::server(paths)?;
    tools::ensure_e2e_packages(&paths.root.join("tests/e2e"))?;
    let (out, _) = open_results(paths)?;
    lighthouse(paths, &server, &browser.chromium, &out)?;
    eprintln!("\nresults appended to {}", out.display());
    Ok(())
}

/// Lighthouse 12 (mobile preset) on `/` and `/notes` of the release app served by the
/// real server: `tests/e2e/bench/lighthouse.mjs`, with Lighthouse from its own package dir.
fn lighthouse(paths: &Paths, server: &Path, chromium: &Path, out: &Path) -> Result {
    step("Lighthouse on the app (mobile preset, simulated throttling)");
    let e2e = paths.root.join("tests/e2e");
    tools::ensure_lighthouse(&e2e)?;
    let loadavg = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("  load average before: {}", loadavg().trim());
    let outcome = cmd::run(
        Command::new("node")
            .arg("bench/lighthouse.mjs")
            .env("CAIRN_SERVER_BIN", server)
            .env("CAIRN_DIST", &paths.dist)
            .env("CAIRN_BENCH_OUT", out)
            .env("CHROMIUM", chromium)
            .current_dir(&e2e),
    );
    eprintln!("  load average after: {}", loadavg().trim());
    outcome
}

/// `cargo xtask bench server`: only the sync server's benchmark (no browser, no wasm).
pub fn server_only(paths: &Paths) -> Result {
    let server = build::server(paths)?;
    let (out, mut results) = open_results(paths)?;
    server_benches(paths, &server, &mut results)?;
    eprintln!("\nresults appended to {}", out.display());
    Ok(())
}

/// The server under load from `loadgen`, on SQLite and then on PostgreSQL.
fn server_benches(paths: &Paths, server: &Path, results: &mut File) -> Result {
    step("Building the server's load generators");
    cmd::run(
        Command::new("cargo")
            .args(["build", "--package", "cairn-server"])
            .args(["--example", "loadgen", "--example", "streamload"])
            .args(["--profile", build::SERVER_PROFILE])
            .current_dir(&paths.root),
    )?;
    let examples = paths.target.join(build::SERVER_PROFILE).join("examples");
    let (loadgen, streamload) = (examples.join("loadgen"), examples.join("streamload"));

    step("Sync server benchmark on SQLite");
    let data = paths.target.join("bench/server-sqlite");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    let sqlite_url = format!("sqlite://{}", data.join("cairn.db").display());
    load(server, &loadgen, &data, "sqlite", &sqlite_url, results)?;
    step("Idle change streams on SQLite");
    streams(server, &streamload, &data, "sqlite", &sqlite_url, results)?;
    let _ = std::fs::remove_dir_all(&data);

    step("Sync server benchmark on PostgreSQL (throwaway cluster, default durability)");
    let pg = tools::Postgres::start(tools::PgDurability::Default)?;
    eprintln!(
        "  PostgreSQL on 127.0.0.1:{} (started in {:.1} s)",
        pg.port, pg.start_secs
    );
    let data = paths.target.join("bench/server-postgres");
    std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    let outcome = load(server, &loadgen, &data, "postgres", &pg.url, results).and_then(|()| {
        step("Idle change streams on PostgreSQL");
        streams(server, &streamload, &data, "postgres", &pg.url, results)
    });
    drop(pg);
    let _ = std::fs::remove_dir_all(&data);
    outcome
}

/// Starts the server on `database_url` (rate limits off, warnings only in the log), runs
/// the load generator against it and appends its lines to `results`.
fn load(
    server: &Path,
    loadgen: &Path,
    data: &Path,
    label: &str,
    database_url: &str,
    results: &mut File,
) -> Result {
    // Benchmarks share the machine: say how busy it was.
    let loadavg = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("  load average before: {}", loadavg().trim());
    let outcome = against_server(
        Command::new(server),
        data,
        database_url,
        |url, _| {
            let mut cmd = Command::new(loadgen);
            cmd.args(["--url", url, "--label", label])
                .args(["--database-url", database_url]);
            cmd
        },
        "the load generator",
        results,
    );
    eprintln!("  load average after: {}", loadavg().trim());
    outcome
}

/// Starts a release server on `database_url` (rate limits off, a heartbeat every second)
/// and runs `streamload` against it: 1,000 idle change streams and the server's memory.
/// Both run with their soft limit on open files raised to the hard one (1,000 streams
/// are 1,000 descriptors on each side; a common default soft limit is 1,024).
fn streams(
    server: &Path,
    streamload: &Path,
    data: &Path,
    label: &str,
    database_url: &str,
    results: &mut File,
) -> Result {
    let mut serve = raised_open_files(server);
    serve.args(["--event-heartbeat-secs", "1"]);
    against_server(
        serve,
        data,
        database_url,
        |url, pid| {
            let mut cmd = raised_open_files(streamload);
            cmd.args(["--url", url, "--pid", &pid.to_string()]).args([
                "--label",
                label,
                "--streams",
                "1000",
                "--accounts",
                "40",
            ]);
            cmd
        },
        "the stream load generator",
        results,
    )
}

/// Runs `server` (with the flags every server benchmark uses: 127.0.0.1 on a free port,
/// rate limits off, `data` as its directories, `database_url`) until the command
/// `client(url, server pid)` has run against it, appends that command's output to
/// `results` and stops the server (SIGTERM: it finishes what is in flight).
fn against_server(
    mut server: Command,
    data: &Path,
    database_url: &str,
    client: impl FnOnce(&str, u32) -> Command,
    what: &str,
    results: &mut File,
) -> Result {
    let mut child = server
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(["--user-rate-per-minute", "0", "--auth-rate-per-minute", "0"])
        .arg("--data-dir")
        .arg(data)
        .arg("--static-dir")
        .arg(data)
        .args(["--database-url", database_url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", cmd::describe(&server)))?;
    let outcome = listening_url(&mut child).and_then(|url| {
        let mut client = client(&url, child.id());
        let out = client
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot start {}: {e}", cmd::describe(&client)))?;
        results
            .write_all(&out.stdout)
            .map_err(|e| format!("cannot write the results: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{what} failed ({})", out.status))
        }
    });
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    outcome
}

/// `program` run through `sh` with the soft limit on open files raised to the hard limit
/// (`exec`, so the process id stays the program's).
fn raised_open_files(program: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"ulimit -n "$(ulimit -H -n)" && exec "$0" "$@""#])
        .arg(program);
    cmd
}

/// Reads the server's "Cairn is running at `<url>`" line.
fn listening_url(child: &mut Child) -> Result<String> {
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) => line
            .strip_prefix("Cairn is running at ")
            .map(|u| u.trim_end_matches('/').to_owned())
            .ok_or_else(|| format!("unexpected first line from the server: {line}")),
        _ => Err("the server exited before it listened".into()),
    }
}
