//! How to build wasm on this machine.
//!
//! 1. The active Rust toolchain has the `wasm32-unknown-unknown` standard library (rustup
//!    with the target installed, the usual case): use it as it is.
//! 2. Otherwise, on Debian as root: install Debian's Rust with its standard library source
//!    (`rustc-web`, `rust-web-src`) and build `std` for wasm from source. Those settings
//!    apply to the wasm builds only (see `shared/TOOLCHAIN.md`).
//! 3. Otherwise: stop and say exactly what to install.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{self, step};
use crate::tools;
use crate::{Paths, Result};

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
const FALLBACK_TOOLCHAIN: &str = "debian-web";

/// Everything a wasm build or wasm test needs: extra environment and tool locations.
pub struct WasmEnv {
    /// Variables to set on every wasm `cargo`/`trunk` command.
    pub vars: Vec<(OsString, OsString)>,
    pub wasm_opt: PathBuf,
    /// esbuild, minifying the JavaScript of the build.
    pub esbuild: PathBuf,
    pub tools_bin: PathBuf,
}

impl WasmEnv {
    /// Applies the wasm environment to `cmd`.
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.envs(self.vars.iter().map(|(k, v)| (k, v)))
    }
}

/// Makes this machine able to build Cairn's wasm, installing what is missing.
pub fn prepare(paths: &Paths) -> Result<WasmEnv> {
    let mut vars: Vec<(OsString, OsString)> = vec![("PATH".into(), tools::path_with_tools(paths))];
    if has_wasm_std(&paths.root) {
        // Case 1: nothing special.
    } else if tools::is_debian() && tools::is_root() {
        vars.extend(debian_fallback(&paths.root)?);
    } else {
        return Err(format!(
            "this Rust toolchain cannot build WebAssembly (no {WASM_TARGET} standard library).\n\
             Install the target:\n    rustup target add {WASM_TARGET}\n\
             (On Debian or Ubuntu without that target, run this command as root instead: it then\n \
             installs Debian's rustc-web and rust-web-src and builds the standard library for wasm.)"
        ));
    }
    tools::ensure_cargo_tools(paths)?;
    let wasm_opt = tools::ensure_binaryen(paths)?;
    let esbuild = tools::ensure_esbuild(paths)?;
    Ok(WasmEnv {
        vars,
        wasm_opt,
        esbuild,
        tools_bin: paths.tools.join("bin"),
    })
}

/// Whether the active toolchain ships the wasm standard library.
fn has_wasm_std(root: &Path) -> bool {
    cmd::output(
        Command::new("rustc")
            .args(["--print", "sysroot"])
            .current_dir(root),
    )
    .map(|sysroot| {
        Path::new(sysroot.trim())
            .join("lib/rustlib")
            .join(WASM_TARGET)
            .join("lib")
    })
    .is_some_and(|dir| dir.is_dir())
}

fn debian_fallback(root: &Path) -> Result<Vec<(OsString, OsString)>> {
    tools::ensure_apt(
        tools::APT_WASM_FALLBACK,
        "Debian's Rust for wasm (rustc-web, cargo-web, rust-web-src, lld-19)",
    )?;
    if !cmd::exists("rustup") {
        return Err(format!(
            "rustup is needed to use Debian's Rust for wasm builds; install rustup, or the target:\n    rustup target add {WASM_TARGET}"
        ));
    }
    let linked = cmd::output(Command::new("rustup").args(["toolchain", "list"]))
        .is_some_and(|list| list.lines().any(|l| l.starts_with(FALLBACK_TOOLCHAIN)));
    if !linked {
        step("Linking Debian's Rust as the rustup toolchain `debian-web`");
        cmd::run(Command::new("rustup").args(["toolchain", "link", FALLBACK_TOOLCHAIN, "/usr"]))?;
    }
    let version = cmd::output(
        Command::new("rustc")
            .arg("--version")
            .env("RUSTUP_TOOLCHAIN", FALLBACK_TOOLCHAIN)
            .current_dir(root),
    )
    .ok_or("Debian's rustc (rustup toolchain debian-web) does not run")?;
    eprintln!(
        "wasm builds use {} with std built from source",
        version.trim()
    );
    Ok([
        ("RUSTUP_TOOLCHAIN", FALLBACK_TOOLCHAIN),
        ("RUSTC_BOOTSTRAP", "1"),
        ("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort"),
        ("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", "wasm-ld-19"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect())
}
