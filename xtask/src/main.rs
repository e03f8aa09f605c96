//! `cargo xtask`: the one entry point for building, running and testing Cairn.
//!
//! - `cargo xtask run [--port N] [--data-dir DIR]`: set up what is missing, build the app
//!   and the service worker (release), and serve them with the API on 127.0.0.1.
//! - `cargo xtask test [--native-only | --soak]`: native tests (the server's against SQLite
//!   and a throwaway PostgreSQL), wasm tests in headless Chromium, end-to-end tests; ends
//!   with `N passed, N failed`. `--soak`: only the client's randomized checker, large.
//! - `cargo xtask build`: only build the app into `dist/` and print the wasm sizes, and
//!   the example app (`examples/conversations`) into `<target>/conversations-dist`.
//! - `cargo xtask bench [server | lighthouse]`: benchmarks against baselines, into
//!   `target/bench/results.jsonl` (`server`: only the sync server's; `lighthouse`: only
//!   Lighthouse on the app).
//!
//! # Layout
//! - [`tools`]: pinned versions of every external tool, and their installation.
//! - [`toolchain`]: how to build wasm on this machine (rustup target or Debian fallback).
//! - [`build`]: trunk + wasm-opt + esbuild, and the server binary.
//! - [`compress`]: the brotli and gzip copies of the built files.
//! - [`test`](mod@test): the test suites and the summary.
//! - [`bench`](mod@bench): the benchmarks.
//! - [`cmd`]: running commands with clear failures.

mod bench;
mod build;
mod cmd;
mod compress;
mod test;
mod toolchain;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub type Result<T = ()> = std::result::Result<T, String>;

/// Where things live.
pub struct Paths {
    /// The repository root.
    pub root: PathBuf,
    /// Cargo's target dir (`CARGO_TARGET_DIR` or `<root>/target`).
    pub target: PathBuf,
    /// Installed tools, outside the clone so they survive fresh clones
    /// (`CAIRN_TOOLS_DIR` or `~/.cache/cairn/tools`).
    pub tools: PathBuf,
    /// The built app.
    pub dist: PathBuf,
}

impl Paths {
    fn discover() -> Paths {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace")
            .to_owned();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { root.join(t) })
            .unwrap_or_else(|| root.join("target"));
        let tools = std::env::var_os("CAIRN_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let cache = std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                    .unwrap_or_else(|| root.join("target"));
                cache.join("cairn").join("tools")
            });
        let dist = root.join("dist");
        Paths {
            root,
            target,
            tools,
            dist,
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run [--port N] [--data-dir DIR]   build the app and serve it with the API
                                    (default http://127.0.0.1:8080, data in ./data;
                                    also CAIRN_PORT, CAIRN_DATA_DIR, DATABASE_URL)
  test [--native-only | --soak]     run every test: native (with a throwaway PostgreSQL
                                    for the server), wasm (headless Chromium), e2e;
                                    --native-only: just the native ones; --soak: only
                                    the client's randomized checker, large
                                    (CHECKER_SEEDS seeds of CHECKER_OPS ops, 50 x 400)
  build                             build the app into dist/ and print the wasm sizes,
                                    and the example examples/conversations into
                                    <target>/conversations-dist
  bench [server | lighthouse]       benchmarks against baselines, appended to
                                    target/bench/results.jsonl; `server`: only the
                                    sync server's (no browser needed); `lighthouse`:
                                    only Lighthouse on the app (mobile preset)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let paths = Paths::discover();
    let result = match args.first().map(String::as_str) {
        Some("run") => {
            parse_run_args(&args[1..]).and_then(|server_args| build::run(&paths, &server_args))
        }
        Some("test") => match &args[1..] {
            [] => test::run(&paths, false),
            [flag] if flag == "--native-only" => test::run(&paths, true),
            [flag] if flag == "--soak" => test::soak(&paths),
            _ => Err(USAGE.to_owned()),
        },
        Some("build") if args.len() == 1 => toolchain::prepare(&paths)
            .and_then(|env| {
                build::app(&paths, &env).and_then(|_| build::conversations(&paths, &env))
            })
            .map(|_| ()),
        Some("bench") => match &args[1..] {
            [] => bench::run(&paths),
            [only] if only == "server" => bench::server_only(&paths),
            [only] if only == "lighthouse" => bench::lighthouse_only(&paths),
            _ => Err(USAGE.to_owned()),
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("\nxtask: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// `run`'s flags, turned into the server's flags.
fn parse_run_args(args: &[String]) -> Result<Vec<String>> {
    let mut server_args = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--port" | "--data-dir" => {
                let value = it
                    .next()
                    .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
                server_args.extend([flag.clone(), value.clone()]);
            }
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    Ok(server_args)
}
