//! Every external tool Cairn builds or tests with: the pinned versions (this is the one
//! place they are written down) and how each is installed when missing.
//!
//! Cargo-installed tools, binaryen and esbuild go to the tools dir (see [`crate::Paths`]), outside
//! the clone; system packages come from Debian's apt when running as root on Debian.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cmd::{self, step};
use crate::{Paths, Result};

/// trunk, the wasm app bundler. 0.22 needs rustc >= 1.96.1.
pub const TRUNK: &str = "0.21.14";
/// binaryen (wasm-opt), from npm: Debian's binaryen is too old for today's wasm features.
pub const BINARYEN: &str = "132.0.0";
/// esbuild, from npm: minifies the wasm-bindgen glue and the worker's loader. One native
/// binary with no JavaScript dependencies (its platform package is pinned by esbuild
/// itself), so this one version pins everything it runs.
pub const ESBUILD: &str = "0.28.2";
/// Debian packages for building wasm where no rustup wasm target is installed:
/// Debian's Rust with its standard library source (built for wasm with build-std).
pub const APT_WASM_FALLBACK: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "lld-19"];
/// Debian packages for the browser tests.
pub const APT_BROWSER: &[&str] = &["chromium", "chromium-driver"];
/// Debian packages for Node.js (binaryen, esbuild and the end-to-end tests run on it).
pub const APT_NODE: &[&str] = &["nodejs", "npm"];
// wasm-bindgen-cli has no constant: it must equal the wasm-bindgen crate version, which
// is pinned with `=` in the workspace Cargo.toml and read from Cargo.lock.

/// The version of the `wasm-bindgen` crate in Cargo.lock.
pub fn wasm_bindgen_version(root: &Path) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
            {
                return Ok(version.to_owned());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen package".into())
}

/// `PATH` with the tools dir's `bin` first.
pub fn path_with_tools(paths: &Paths) -> OsString {
    let mut dirs = vec![paths.tools.join("bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).expect("PATH entries are valid")
}

/// Installs trunk and wasm-bindgen-cli (with wasm-bindgen-test-runner) at their pinned
/// versions into the tools dir, unless already there.
pub fn ensure_cargo_tools(paths: &Paths) -> Result {
    let bin = paths.tools.join("bin");
    let bindgen = wasm_bindgen_version(&paths.root)?;
    ensure_cargo_tool(paths, &bin.join("trunk"), "trunk", TRUNK, true)?;
    ensure_cargo_tool(
        paths,
        &bin.join("wasm-bindgen"),
        "wasm-bindgen-cli",
        &bindgen,
        false,
    )
}

fn ensure_cargo_tool(
    paths: &Paths,
    binary: &Path,
    krate: &str,
    version: &str,
    locked: bool,
) -> Result {
    let installed = cmd::output(Command::new(binary).arg("--version"));
    if installed.is_some_and(|v| v.split_whitespace().nth(1) == Some(version)) {
        return Ok(());
    }
    step(&format!(
        "Installing {krate} {version} (once; takes several minutes)"
    ));
    let mut install = Command::new("cargo");
    install
        .args(["install", "--force", "--root"])
        .arg(&paths.tools)
        .args([krate, "--version", version])
        // Never the wasm fallback toolchain: these are native tools.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_TARGET_DIR");
    // wasm-bindgen-cli does not resolve with --locked.
    if locked {
        install.arg("--locked");
    }
    cmd::run(&mut install)
}

/// Installs binaryen into the tools dir unless there, and returns the `wasm-opt` script.
pub fn ensure_binaryen(paths: &Paths) -> Result<PathBuf> {
    ensure_npm_tool(paths, "binaryen", BINARYEN, "bin/wasm-opt", "wasm-opt")
}

/// Installs esbuild into the tools dir unless there, and returns its binary.
pub fn ensure_esbuild(paths: &Paths) -> Result<PathBuf> {
    ensure_npm_tool(paths, "esbuild", ESBUILD, "bin/esbuild", "the JS minifier")
}

/// Installs the npm package `name@version` into its own folder of the tools dir unless
/// there, and returns the path of its file `file`.
fn ensure_npm_tool(
    paths: &Paths,
    name: &str,
    version: &str,
    file: &str,
    what: &str,
) -> Result<PathBuf> {
    ensure_node()?;
    let prefix = paths.tools.join(format!("{name}-{version}"));
    let path = prefix.join("node_modules").join(name).join(file);
    if path.is_file() {
        return Ok(path);
    }
    step(&format!("Installing {name} {version} ({what}) from npm"));
    std::fs::create_dir_all(&prefix)
        .map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
    cmd::run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("{name}@{version}")),
    )?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{name} installed but {} is missing",
            path.display()
        ))
    }
}

/// Node.js and npm, from apt if missing.
pub fn ensure_node() -> Result {
    if cmd::exists("node") && cmd::exists("npm") {
        return Ok(());
    }
    ensure_apt(APT_NODE, "Node.js and npm (https://nodejs.org)")
}

/// Installs the end-to-end tests' npm packages from their lockfile when it changed.
pub fn ensure_e2e_packages(e2e_dir: &Path) -> Result {
    ensure_npm_packages(e2e_dir, "the end-to-end tests' npm packages")
}

/// Installs Lighthouse (npm `lighthouse`, pinned in its own package dir
/// `tests/e2e/bench/lighthouse/`, so that the tests' `npm ci` does not fetch it) when
/// its lockfile changed. 12.2.3: Lighthouse 13 needs a newer Node.js than Debian's 20.
pub fn ensure_lighthouse(e2e_dir: &Path) -> Result {
    ensure_npm_packages(
        &e2e_dir.join("bench/lighthouse"),
        "Lighthouse for the benchmark",
    )
}

/// `npm ci` in `dir` unless its packages are installed from its current lockfile.
fn ensure_npm_packages(dir: &Path, what: &str) -> Result {
    ensure_node()?;
    let lock = dir.join("package-lock.json");
    // npm ci writes this hidden lockfile; it is newer than package-lock.json unless the
    // lockfile changed since.
    let installed = dir.join("node_modules/.package-lock.json");
    let lock_modified = std::fs::metadata(&lock).and_then(|m| m.modified()).ok();
    let installed_modified = std::fs::metadata(&installed)
        .and_then(|m| m.modified())
        .ok();
    if installed_modified.is_some() && installed_modified >= lock_modified {
        return Ok(());
    }
    step(&format!("Installing {what} (npm ci)"));
    cmd::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir),
    )
}

/// Chromium and its WebDriver for the browser tests.
pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

/// Finds Chromium and chromedriver (`CHROMIUM` / `CHROMEDRIVER` override), installing
/// Debian's packages if missing.
pub fn ensure_browser() -> Result<Browser> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or("/usr/bin/chromium".into());
    let chromedriver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or("/usr/bin/chromedriver".into());
    if !chromium.is_file() || !chromedriver.is_file() {
        ensure_apt(
            APT_BROWSER,
            "Chromium and its chromedriver, or set CHROMIUM and CHROMEDRIVER to their paths",
        )?;
    }
    Ok(Browser {
        chromium,
        chromedriver,
    })
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    cmd::output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}

pub fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists() && cmd::exists("apt-get")
}

/// Installs the Debian `packages` that are missing; `what` names them for the error
/// shown where apt cannot be used.
pub fn ensure_apt(packages: &[&str], what: &str) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|pkg| {
            !cmd::output(Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg])).is_some_and(
                |status| status.ends_with("installed") && !status.contains("not-installed"),
            )
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_debian() || !is_root() {
        return Err(format!(
            "missing: {what}.\nInstall it, or run this command as root on Debian/Ubuntu to let it run\n    apt-get install {}",
            missing.join(" ")
        ));
    }
    static UPDATED: AtomicBool = AtomicBool::new(false);
    if !UPDATED.swap(true, Ordering::SeqCst) {
        step("Updating the apt package lists");
        cmd::run(Command::new("apt-get").args(["update", "-q"]))?;
    }
    step(&format!("Installing {}", missing.join(" ")));
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Debian's PostgreSQL server, for the server's tests and benchmarks.
pub const APT_POSTGRES: &[&str] = &["postgresql"];

/// How a throwaway PostgreSQL cluster is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgDurability {
    /// Tests: no fsync (the cluster is deleted afterwards anyway).
    Off,
    /// Benchmarks: PostgreSQL's defaults, every commit flushed, like the SQLite side.
    Default,
}

/// A throwaway PostgreSQL cluster on 127.0.0.1, in a temp dir of its own, stopped and
/// deleted when dropped (also when the caller fails). `url` connects as the superuser
/// `postgres` (trust authentication, loopback only) to the `postgres` database.
pub struct Postgres {
    pub url: String,
    pub port: u16,
    /// Seconds from initdb to accepting connections.
    pub start_secs: f64,
    bin: PathBuf,
    dir: PathBuf,
    as_postgres_user: bool,
}

impl Postgres {
    /// Installs Debian's `postgresql` if no server is installed, then initialises and
    /// starts a cluster on a free port. PostgreSQL refuses to run as root, so as root
    /// its tools run as the `postgres` user (`runuser`) in a directory that user owns.
    pub fn start(durability: PgDurability) -> Result<Postgres> {
        let bin = match postgres_bin_dir() {
            Some(bin) => bin,
            None => {
                ensure_apt(APT_POSTGRES, "PostgreSQL (initdb and pg_ctl)")?;
                postgres_bin_dir()
                    .ok_or("postgresql is installed but no /usr/lib/postgresql/*/bin/initdb")?
            }
        };
        let started = std::time::Instant::now();
        let as_postgres_user = is_root();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("cairn-pg-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = free_port()?;
        let mut cluster = Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            start_secs: 0.0,
            bin,
            dir,
            as_postgres_user,
        };
        if as_postgres_user {
            cmd::run(
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&cluster.dir),
            )?;
        }
        let data = cluster.dir.join("data");
        cluster.quiet(
            cluster
                .tool("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8"])
                .args(["--locale=C", "--no-sync", "--no-instructions"]),
        )?;
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} \
             -c max_connections=200",
            cluster.dir.display()
        );
        if durability == PgDurability::Off {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let started_ok = cluster.quiet(
            cluster
                .tool("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(cluster.dir.join("server.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"]),
        );
        if let Err(e) = started_ok {
            let log = std::fs::read_to_string(cluster.dir.join("server.log")).unwrap_or_default();
            return Err(format!("{e}\n{log}"));
        }
        cluster.start_secs = started.elapsed().as_secs_f64();
        Ok(cluster)
    }

    /// A command running one of PostgreSQL's tools (as `postgres` when we are root).
    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    /// Runs a tool, showing its output only if it fails.
    fn quiet(&self, cmd: &mut Command) -> Result {
        let out = cmd
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("cannot start {}: {e}", cmd::describe(cmd)))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed ({}):\n{}{}",
                cmd::describe(cmd),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let stopped = self.quiet(
            self.tool("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"]),
        );
        if let Err(e) = stopped {
            eprintln!("xtask: could not stop the test PostgreSQL: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed PostgreSQL server's `bin` directory.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}
