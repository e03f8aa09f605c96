//! `cargo xtask test`: every suite, then one summary line `N passed, N failed`.
//!
//! 1. native: `cargo test --workspace`, with a throwaway PostgreSQL cluster for the
//!    server's PostgreSQL variants (`CAIRN_TEST_POSTGRES_URL`; `CAIRN_REQUIRE_POSTGRES=1`
//!    makes them fail rather than skip when it could not be started);
//! 2. wasm: `cargo test --target wasm32-unknown-unknown` of the browser crates, run by
//!    wasm-bindgen-test-runner in headless Chromium;
//! 3. end-to-end: the release build served by the real server, driven in headless
//!    Chromium by Playwright (`tests/e2e`, node's test runner); screenshots are saved to
//!    `target/e2e-artifacts/`; a throwaway PostgreSQL (`CAIRN_E2E_POSTGRES_URL`) for the
//!    live-sync test across two server instances on one database. Among them the
//!    randomized checker of the client
//!    (`tests/e2e/checker.test.mjs`, small: its regression seeds and 2 fresh ones), on
//!    the page built from `crates/client/examples/checker.rs` ([`checker_page`]), and
//!    the example app on cairn-yew (`tests/e2e/conversations.test.mjs`, served from
//!    [`build::conversations`]'s build, named in `CAIRN_CONVERSATIONS_DIST`).
//!
//! `cargo xtask test --soak` runs only the checker, large: `CHECKER_SEEDS` seeds (50) of
//! `CHECKER_OPS` operations (400).
//!
//! Every suite runs even when an earlier one fails; a suite that cannot run at all (a
//! build error, a missing tool) counts as one failure.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use std::path::PathBuf;

use crate::cmd::{self, step};
use crate::{build, toolchain, tools, Paths, Result};

/// Crates with tests that run in the browser.
const WASM_TEST_CRATES: &[&str] = &["cairn-client"];

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    passed: u64,
    failed: u64,
}

/// `cargo xtask test --soak`: only the randomized checker, with many seeds and operations.
pub fn soak(paths: &Paths) -> Result {
    let counts = suite((|| {
        let env = toolchain::prepare(paths)?;
        let browser = tools::ensure_browser()?;
        step("The randomized checker, large (headless Chromium)");
        let page = checker_page(paths, &env)?;
        let server = build::server(paths)?;
        let dir = paths.root.join("tests/e2e");
        tools::ensure_e2e_packages(&dir)?;
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        run_counted(
            Command::new("node")
                .args(["--test", "--test-reporter=tap", "checker.test.mjs"])
                .env("CAIRN_SERVER_BIN", server)
                .env("CAIRN_CHECKER_PAGE", page)
                .env("CHROMIUM", &browser.chromium)
                .env("CHECKER_SEEDS", var("CHECKER_SEEDS", "50"))
                .env("CHECKER_OPS", var("CHECKER_OPS", "400"))
                .current_dir(&dir),
        )
    })());
    summary(&[("checker", counts)])
}

/// Builds the checker's page (`tests/e2e/checker/page/` plus the wasm of the client
/// example `checker`, through wasm-bindgen) and returns its directory.
pub fn checker_page(paths: &Paths, env: &toolchain::WasmEnv) -> Result<PathBuf> {
    step("Building the client checker's page");
    let page = paths.target.join("checker/page");
    build::client_example_page(
        paths,
        env,
        "checker",
        &paths.root.join("tests/e2e/checker/page"),
        &["index.html", "worker.js"],
        &page,
    )?;
    Ok(page)
}

/// Runs every suite, or with `native_only` only the native one.
pub fn run(paths: &Paths, native_only: bool) -> Result {
    let mut suites: Vec<(&str, Counts)> = Vec::new();

    step("Native tests (cargo test --workspace)");
    suites.push(("native", suite(native(paths))));

    if !native_only {
        browser_suites(paths, &mut suites);
    }
    summary(&suites)
}

fn browser_suites(paths: &Paths, suites: &mut Vec<(&'static str, Counts)>) {
    let prepared = toolchain::prepare(paths).and_then(|env| Ok((env, tools::ensure_browser()?)));
    match prepared {
        Err(e) => {
            eprintln!("cannot build wasm: {e}");
            suites.push(("wasm", failed_to_run()));
            suites.push(("e2e", failed_to_run()));
        }
        Ok((env, browser)) => {
            step("wasm tests in headless Chromium");
            suites.push(("wasm", suite(wasm(paths, &env, &browser))));
            step("End-to-end tests in headless Chromium");
            suites.push(("e2e", suite(e2e(paths, &env, &browser))));
        }
    }
}

fn summary(suites: &[(&str, Counts)]) -> Result {
    let total = suites.iter().fold(Counts::default(), |t, (_, c)| Counts {
        passed: t.passed + c.passed,
        failed: t.failed + c.failed,
    });
    println!();
    for (name, c) in suites {
        println!("  {name:<7} {} passed, {} failed", c.passed, c.failed);
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    if total.failed == 0 && total.passed > 0 {
        Ok(())
    } else {
        Err("some tests failed".into())
    }
}

fn suite(result: Result<Counts>) -> Counts {
    result.unwrap_or_else(|e| {
        eprintln!("xtask: {e}");
        failed_to_run()
    })
}

fn failed_to_run() -> Counts {
    Counts {
        passed: 0,
        failed: 1,
    }
}

fn native(paths: &Paths) -> Result<Counts> {
    let mut cmd = Command::new("cargo");
    cmd.args(["test", "--workspace"])
        .env("CAIRN_REQUIRE_POSTGRES", "1")
        .current_dir(&paths.root);
    step("Starting a throwaway PostgreSQL for the server tests");
    // Kept alive until the tests are done; dropping it stops and deletes the cluster.
    let _postgres = match tools::Postgres::start(tools::PgDurability::Off) {
        Ok(pg) => {
            eprintln!(
                "  PostgreSQL on 127.0.0.1:{} (started in {:.1} s)",
                pg.port, pg.start_secs
            );
            cmd.env("CAIRN_TEST_POSTGRES_URL", &pg.url);
            Some(pg)
        }
        Err(e) => {
            // The PostgreSQL variants then fail (CAIRN_REQUIRE_POSTGRES), and are counted.
            eprintln!("xtask: cannot start PostgreSQL for the server tests: {e}");
            None
        }
    };
    run_counted(&mut cmd)
}

fn wasm(paths: &Paths, env: &toolchain::WasmEnv, browser: &tools::Browser) -> Result<Counts> {
    let mut cmd = Command::new("cargo");
    env.apply(&mut cmd)
        .args(["test", "--target", toolchain::WASM_TARGET])
        .args(WASM_TEST_CRATES.iter().flat_map(|c| ["--package", c]))
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            env.tools_bin.join("wasm-bindgen-test-runner"),
        )
        .env("CHROMEDRIVER", &browser.chromedriver)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "60")
        .current_dir(&paths.root);
    run_counted(&mut cmd)
}

fn e2e(paths: &Paths, env: &toolchain::WasmEnv, browser: &tools::Browser) -> Result<Counts> {
    build::app(paths, env)?;
    let conversations = build::conversations(paths, env)?;
    let checker = checker_page(paths, env)?;
    let server = build::server(paths)?;
    let dir = paths.root.join("tests/e2e");
    tools::ensure_e2e_packages(&dir)?;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-reporter=tap", "--test-concurrency=1"])
        .args(&files)
        .env("CAIRN_SERVER_BIN", server)
        .env("CAIRN_DIST", &paths.dist)
        .env("CAIRN_CHECKER_PAGE", checker)
        .env("CAIRN_CONVERSATIONS_DIST", conversations)
        .env("CHROMIUM", &browser.chromium)
        .env("CAIRN_E2E_ARTIFACTS", paths.target.join("e2e-artifacts"))
        .current_dir(&dir);
    step("Starting a throwaway PostgreSQL for the end-to-end tests");
    // Two server instances on one database (live sync across instances). Kept alive until
    // the tests are done; dropping it stops and deletes the cluster.
    let _postgres = match tools::Postgres::start(tools::PgDurability::Off) {
        Ok(pg) => {
            eprintln!(
                "  PostgreSQL on 127.0.0.1:{} (started in {:.1} s)",
                pg.port, pg.start_secs
            );
            cmd.env("CAIRN_E2E_POSTGRES_URL", &pg.url);
            Some(pg)
        }
        Err(e) => {
            // The tests that need it then fail (they never skip), and are counted.
            eprintln!("xtask: cannot start PostgreSQL for the end-to-end tests: {e}");
            None
        }
    };
    run_counted(&mut cmd)
}

/// Runs a test command, echoing its output and adding up the counts its runner prints
/// (`test result: ... N passed; M failed` for Rust, `# pass N` / `# fail M` for node).
/// A command that fails without reporting a failed test counts one failure.
fn run_counted(cmd: &mut Command) -> Result<Counts> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", cmd::describe(cmd)))?;
    let mut counts = Counts::default();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(result) = line.trim_start().strip_prefix("test result:") {
            counts.passed += count_before(result, "passed;");
            counts.failed += count_before(result, "failed;");
        } else if let Some(n) = line.strip_prefix("# pass ") {
            counts.passed += n.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(n) = line.strip_prefix("# fail ") {
            counts.failed += n.trim().parse::<u64>().unwrap_or(0);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() && counts.failed == 0 {
        eprintln!("xtask: {} failed ({status})", cmd::describe(cmd));
        counts.failed = 1;
    }
    Ok(counts)
}

/// In `"ok. 3 passed; 0 failed; ..."`, the number before `word`.
fn count_before(text: &str, word: &str) -> u64 {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    tokens
        .windows(2)
        .find(|w| w[1] == word)
        .and_then(|w| w[0].parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counts_from_a_rust_test_result_line() {
        let line =
            " ok. 12 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s";
        assert_eq!(count_before(line, "passed;"), 12);
        assert_eq!(count_before(line, "failed;"), 3);
        assert_eq!(count_before("nothing here", "passed;"), 0);
    }
}
