//! `cargo xtask bench`: benchmarks, each against a baseline in the same run, appended as
//! JSON lines to `target/bench/results.jsonl` (see `shared/DESIGN.md`, Quality bars):
//!
//! - `size`: the app's and the worker's wasm, raw and gzipped;
//! - `store`: bulk write and read-all of 10,000 records and 1,000 sequential writes,
//!   the store (`crates/client/examples/store_bench.rs`) against raw IndexedDB
//!   (`tests/e2e/bench/page/raw_idb.js`) in the same headless Chromium;
//! - `app`: time to the first render of persisted state with 10,000 notes stored,
//!   against an empty database;
//! - `sw`: a navigation's first byte with the worker woken from stopped, running, and
//!   absent; the first render of persisted state offline against online; the worker's
//!   loader + glue + wasm gzipped (`size`/`sw_total`).

use std::fs::OpenOptions;
use std::io::Write;
use std::process::Command;

use crate::cmd::{self, step};
use crate::toolchain::{self, WASM_TARGET};
use crate::{build, tools, Paths, Result};

pub fn run(paths: &Paths) -> Result {
    let env = toolchain::prepare(paths)?;
    let browser = tools::ensure_browser()?;
    let sizes = build::app(paths, &env)?;
    let server = build::server(paths)?;
    let e2e = paths.root.join("tests/e2e");
    tools::ensure_e2e_packages(&e2e)?;

    step("Building the store benchmark page");
    cmd::run(
        env.apply(&mut Command::new("cargo"))
            .args(["build", "--release", "--target", WASM_TARGET])
            .args(["--package", "cairn-client", "--example", "store_bench"])
            .current_dir(&paths.root),
    )?;
    let page = paths.target.join("bench/page");
    std::fs::create_dir_all(&page).map_err(|e| format!("cannot create {}: {e}", page.display()))?;
    cmd::run(
        env.apply(&mut Command::new(env.tools_bin.join("wasm-bindgen")))
            .args(["--target", "web", "--out-dir"])
            .arg(&page)
            .arg(
                paths
                    .target
                    .join(WASM_TARGET)
                    .join("release/examples/store_bench.wasm"),
            ),
    )?;
    for file in ["index.html", "raw_idb.js"] {
        std::fs::copy(e2e.join("bench/page").join(file), page.join(file))
            .map_err(|e| format!("cannot copy {file}: {e}"))?;
    }

    let out = paths.target.join("bench/results.jsonl");
    let mut results = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .map_err(|e| format!("cannot open {}: {e}", out.display()))?;
    let worker_files = ["sw.js", "sw_wasm.js", "sw_wasm_bg.wasm"].map(|f| paths.dist.join(f));
    let worker_gz: u64 = worker_files
        .iter()
        .map(|f| build::gzip_size(f))
        .sum::<Result<u64>>()?;
    writeln!(
        results,
        r#"{{"bench":"size","case":"sw_total","impl":"cairn","metric":"bytes_gz","value":{worker_gz},"runs":1}}"#
    )
    .map_err(|e| e.to_string())?;
    eprintln!(
        "  service worker total (loader + glue + wasm): {:.1} KiB gzipped",
        worker_gz as f64 / 1024.0
    );
    for size in &sizes {
        let case = if size.file.starts_with("sw_") {
            "sw_wasm"
        } else {
            "app_wasm"
        };
        for (metric, value) in [("bytes", size.bytes), ("bytes_gz", size.gzip_bytes)] {
            writeln!(
                results,
                r#"{{"bench":"size","case":"{case}","impl":"cairn","metric":"{metric}","value":{value},"runs":1}}"#
            )
            .map_err(|e| e.to_string())?;
        }
    }

    step("Running the browser benchmarks (headless Chromium)");
    cmd::run(
        Command::new("node")
            .arg("bench/run.mjs")
            .env("CAIRN_SERVER_BIN", server)
            .env("CAIRN_DIST", &paths.dist)
            .env("CAIRN_BENCH_PAGE", &page)
            .env("CAIRN_BENCH_OUT", &out)
            .env("CHROMIUM", &browser.chromium)
            .current_dir(&e2e),
    )?;
    eprintln!("\nresults appended to {}", out.display());
    Ok(())
}
