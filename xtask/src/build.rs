//! Building: the app and its service worker with trunk, wasm-opt over trunk's output,
//! esbuild minifying the JavaScript, brotli and gzip copies of every compressible file
//! ([`crate::compress`]), and the server binary; the example app on cairn-yew
//! (`examples/conversations`, [`conversations`]) the same way.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{self, step};
use crate::compress;
use crate::toolchain::{self, WasmEnv};
use crate::{Paths, Result};

/// The server's cargo profile: optimised, without the wasm build's slow LTO.
pub const SERVER_PROFILE: &str = "server-release";

/// wasm-opt flags: optimise for size, with the wasm features today's rustc emits.
const WASM_OPT_FLAGS: &[&str] = &[
    "-Oz",
    "--enable-bulk-memory",
    "--enable-reference-types",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-multivalue",
];

/// One built wasm file.
pub struct WasmSize {
    pub file: String,
    pub bytes: u64,
    pub gzip_bytes: u64,
    pub brotli_bytes: u64,
}

/// `cargo xtask run`: set up, build everything, then become the server.
pub fn run(paths: &Paths, server_args: &[String]) -> Result {
    let env = toolchain::prepare(paths)?;
    app(paths, &env)?;
    let server = server(paths)?;
    step("Starting the server (Ctrl-C stops it)");
    let mut cmd = Command::new(server);
    cmd.arg("--static-dir")
        .arg(&paths.dist)
        .args(server_args)
        .current_dir(&paths.root);
    use std::os::unix::process::CommandExt;
    Err(format!("cannot start the server: {}", cmd.exec()))
}

/// Builds the app and the service worker into `dist/` (release) and optimises the wasm.
pub fn app(paths: &Paths, env: &WasmEnv) -> Result<Vec<WasmSize>> {
    step("Building the app and its service worker (trunk, release)");
    cmd::run(
        env.apply(&mut Command::new(env.tools_bin.join("trunk")))
            .args(["build", "--release", "--offline", "--dist"])
            .arg(&paths.dist)
            .current_dir(&paths.root),
    )?;
    optimise_wasm(env, &paths.dist, &paths.target.join("cairn-wasm-opt"))?;
    rename_sync_glue_global(&paths.dist)?;
    // The loader last: the precache manifest written into it holds the hashes of the
    // other files as served (minified), and minifying drops its placeholder comment.
    let scripts = js_files(&paths.dist)?;
    let (loader, others): (Vec<_>, Vec<_>) = scripts.into_iter().partition(|f| f.ends_with(LOADER));
    minify_js(env, &paths.dist, &others)?;
    write_precache_manifest(&paths.dist)?;
    minify_js(env, &paths.dist, &loader)?;
    step("Precompressing the build (brotli and gzip)");
    let copies = compress::precompress(&paths.dist)?;
    eprintln!("  {copies} compressed copies written");
    let sizes = wasm_sizes(&paths.dist)?;
    for s in &sizes {
        eprintln!(
            "  {:<34} {:>8.1} KiB, {:>7.1} KiB gzipped, {:>7.1} KiB brotli",
            s.file,
            s.bytes as f64 / 1024.0,
            s.gzip_bytes as f64 / 1024.0,
            s.brotli_bytes as f64 / 1024.0
        );
    }
    Ok(sizes)
}

/// The example app built on cairn-yew's public API alone.
pub const CONVERSATIONS: &str = "examples/conversations";

/// Where [`conversations`] builds the example app.
pub fn conversations_dist(paths: &Paths) -> PathBuf {
    paths.target.join("conversations-dist")
}

/// Builds the example app [`CONVERSATIONS`] with trunk (release, the app's toolchain)
/// into [`conversations_dist`], optimises its wasm and minifies its JavaScript as the
/// app's, and writes the compressed copies the server serves. Returns the directory, to
/// serve with `cairn-server --static-dir`.
pub fn conversations(paths: &Paths, env: &WasmEnv) -> Result<PathBuf> {
    step("Building the example app examples/conversations (trunk, release)");
    let dist = conversations_dist(paths);
    cmd::run(
        env.apply(&mut Command::new(env.tools_bin.join("trunk")))
            .args(["build", "--release", "--offline", "--dist"])
            .arg(&dist)
            .current_dir(paths.root.join(CONVERSATIONS)),
    )?;
    optimise_wasm(
        env,
        &dist,
        &paths.target.join("cairn-wasm-opt-conversations"),
    )?;
    minify_js(env, &dist, &js_files(&dist)?)?;
    compress::precompress(&dist)?;
    for s in wasm_sizes(&dist)? {
        eprintln!(
            "  {:<34} {:>8.1} KiB, {:>7.1} KiB brotli",
            s.file,
            s.bytes as f64 / 1024.0,
            s.brotli_bytes as f64 / 1024.0
        );
    }
    Ok(dist)
}

/// Builds the server and returns its binary.
pub fn server(paths: &Paths) -> Result<PathBuf> {
    step("Building the server");
    cmd::run(
        Command::new("cargo")
            .args([
                "build",
                "--package",
                "cairn-server",
                "--profile",
                SERVER_PROFILE,
            ])
            .current_dir(&paths.root),
    )?;
    Ok(paths.target.join(SERVER_PROFILE).join("cairn-server"))
}

/// Builds `cairn-client`'s example `example` for the browser and puts it, with
/// wasm-bindgen's `web` glue and the static `files` of `source`, into `page`: a page the
/// end-to-end driver serves (the store benchmark, the randomized checker).
pub fn client_example_page(
    paths: &Paths,
    env: &WasmEnv,
    example: &str,
    source: &Path,
    files: &[&str],
    page: &Path,
) -> Result {
    cmd::run(
        env.apply(&mut Command::new("cargo"))
            .args(["build", "--release", "--target", toolchain::WASM_TARGET])
            .args(["--package", "cairn-client", "--example", example])
            .current_dir(&paths.root),
    )?;
    std::fs::create_dir_all(page).map_err(|e| format!("cannot create {}: {e}", page.display()))?;
    let wasm = paths
        .target
        .join(toolchain::WASM_TARGET)
        .join(format!("release/examples/{example}.wasm"));
    cmd::run(
        env.apply(&mut Command::new(env.tools_bin.join("wasm-bindgen")))
            .args(["--target", "web", "--out-dir"])
            .arg(page)
            .arg(wasm),
    )?;
    for file in files {
        std::fs::copy(source.join(file), page.join(file))
            .map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    Ok(())
}

/// Runs wasm-opt over every `.wasm` in `dist`. Outputs are cached in `cache` by the
/// input's content, so an unchanged build costs nothing; entries not used by this build
/// are removed (so each build has its own cache).
fn optimise_wasm(env: &WasmEnv, dist: &Path, cache: &Path) -> Result {
    std::fs::create_dir_all(cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let mut used = HashSet::new();
    for file in wasm_files(dist)? {
        let input = read(&file)?;
        let cached = cache.join(format!("{:016x}.wasm", fnv1a64(&input)));
        if !cached.is_file() {
            eprintln!("  wasm-opt {}", file.display());
            let tmp = cached.with_extension("tmp");
            cmd::run(
                Command::new("node")
                    .arg(&env.wasm_opt)
                    .args(WASM_OPT_FLAGS)
                    .arg(&file)
                    .arg("-o")
                    .arg(&tmp),
            )?;
            std::fs::rename(&tmp, &cached).map_err(|e| e.to_string())?;
        }
        std::fs::copy(&cached, &file)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        used.insert(cached);
    }
    for entry in std::fs::read_dir(cache)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        if !used.contains(&entry.path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// The worker's loader, in dist.
const LOADER: &str = "sw.js";

/// Scripts loaded as classic scripts (the worker's loader and its `importScripts`ed
/// no-modules glues): their top-level names are globals, which esbuild then keeps.
/// Every other script of the build is an ES module (the app's wasm-bindgen glue).
const CLASSIC_SCRIPTS: &[&str] = &[LOADER, "sw_wasm.js", "sw_sync.js"];

/// Every `.js` file below `dist`.
fn js_files(dist: &Path) -> Result<Vec<PathBuf>> {
    let mut urls = Vec::new();
    list_files(dist, "", &mut urls)?;
    urls.sort();
    Ok(urls
        .iter()
        .filter(|url| url.ends_with(".js"))
        .map(|url| dist.join(&url[1..]))
        .collect())
}

/// Minifies each script in place with esbuild (whitespace, syntax and local names; ES
/// modules also their top-level names, which no other script can see).
fn minify_js(env: &WasmEnv, dist: &Path, scripts: &[PathBuf]) -> Result {
    for script in scripts {
        let before = std::fs::metadata(script).map_err(|e| e.to_string())?.len();
        let name = script
            .strip_prefix(dist)
            .unwrap_or(script)
            .to_string_lossy();
        let mut esbuild = Command::new(&env.esbuild);
        esbuild
            .arg(script)
            .args(["--minify", "--charset=utf8", "--log-level=warning"])
            .arg("--allow-overwrite")
            .arg(format!("--outfile={}", script.display()));
        if !CLASSIC_SCRIPTS.contains(&name.as_ref()) {
            esbuild.arg("--format=esm");
        }
        cmd::run(&mut esbuild)?;
        let after = std::fs::metadata(script).map_err(|e| e.to_string())?.len();
        eprintln!(
            "  minified {name}: {:.1} → {:.1} KiB",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
    }
    Ok(())
}

/// The global the worker's sync glue (`sw_sync.js`) declares, and the one it must declare.
const SYNC_GLUE_GLOBAL: (&str, &str) = ("let wasm_bindgen = ", "let cairn_sync = ");

/// Renames the global of the worker's sync glue: wasm-bindgen's no-modules glue declares
/// `wasm_bindgen`, and `sw.js` imports two such glues into one global scope, where the
/// second declaration would fail. (wasm-bindgen can name the global itself, but trunk
/// does not pass that option.)
fn rename_sync_glue_global(dist: &Path) -> Result {
    let glue = dist.join("sw_sync.js");
    let script = std::fs::read_to_string(&glue)
        .map_err(|e| format!("cannot read {}: {e}", glue.display()))?;
    match with_sync_global(&script).map_err(|e| format!("{}: {e}", glue.display()))? {
        Some(renamed) => std::fs::write(&glue, renamed)
            .map_err(|e| format!("cannot write {}: {e}", glue.display())),
        None => Ok(()),
    }
}

/// `script` (no-modules glue) declaring [`SYNC_GLUE_GLOBAL`]'s new name instead of
/// `wasm_bindgen`; `None` if it already does.
fn with_sync_global(script: &str) -> Result<Option<String>> {
    let (from, to) = SYNC_GLUE_GLOBAL;
    if script.starts_with(to) {
        return Ok(None);
    }
    match script.strip_prefix(from) {
        Some(rest) => Ok(Some(format!("{to}{rest}"))),
        None => Err(format!(
            "the glue does not start with `{from}`: wasm-bindgen's output changed shape, \
             so sw.js could not load it beside sw_wasm.js"
        )),
    }
}

/// Where `sw/sw.js` takes the precache manifest.
const PRECACHE_PLACEHOLDER: &str = "/* precache manifest */ null";

/// Writes the precache manifest into `dist/sw.js`: every other file of the build as
/// `{"url", "hash"}`, and a version derived from all of them. Any change to the build
/// changes the worker script's bytes, which is how browsers notice a new version.
fn write_precache_manifest(dist: &Path) -> Result {
    let mut files = Vec::new();
    list_files(dist, "", &mut files)?;
    files.sort();
    files.retain(|url| url != "/sw.js");
    let mut entries = Vec::new();
    let mut all = Vec::new();
    for url in &files {
        if !url
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        {
            return Err(format!(
                "unexpected characters in the built file name {url:?}"
            ));
        }
        let hash = fnv1a64(&read(&dist.join(&url[1..]))?);
        entries.push(format!(r#"{{"url":"{url}","hash":"{hash:016x}"}}"#));
        all.extend_from_slice(url.as_bytes());
        all.extend_from_slice(&hash.to_le_bytes());
    }
    let manifest = format!(
        r#"{{"version":"{:016x}","files":[{}]}}"#,
        fnv1a64(&all),
        entries.join(",")
    );
    let sw = dist.join("sw.js");
    let script =
        std::fs::read_to_string(&sw).map_err(|e| format!("cannot read {}: {e}", sw.display()))?;
    if !script.contains(PRECACHE_PLACEHOLDER) {
        return Err(format!(
            "{} has no `{PRECACHE_PLACEHOLDER}` to fill in",
            sw.display()
        ));
    }
    let filled = script.replace(
        PRECACHE_PLACEHOLDER,
        &format!("/* precache manifest */ {manifest}"),
    );
    std::fs::write(&sw, filled).map_err(|e| format!("cannot write {}: {e}", sw.display()))
}

/// Every file below `dir` except compressed copies, as URL paths (`/a/b.png`) under `prefix`.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result {
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?
    {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            list_files(&path, &format!("{prefix}/{name}"), out)?;
        } else if !compress::is_compressed_copy(&name) {
            // A compressed copy is another encoding of a listed file, not a file.
            out.push(format!("{prefix}/{name}"));
        }
    }
    Ok(())
}

fn wasm_sizes(dist: &Path) -> Result<Vec<WasmSize>> {
    wasm_files(dist)?
        .into_iter()
        .map(|file| {
            Ok(WasmSize {
                file: file.file_name().unwrap().to_string_lossy().into_owned(),
                bytes: std::fs::metadata(&file).map_err(|e| e.to_string())?.len(),
                gzip_bytes: served_size(&file, "gz")?,
                brotli_bytes: served_size(&file, "br")?,
            })
        })
        .collect()
}

/// The bytes the server sends for `file` to a browser accepting the encoding `suffix`
/// (`gz`, `br`): its precompressed copy's, or its own where it has none.
pub fn served_size(file: &Path, suffix: &str) -> Result<u64> {
    let mut copy = file.as_os_str().to_owned();
    copy.push(format!(".{suffix}"));
    let served = if Path::new(&copy).is_file() {
        Path::new(&copy)
    } else {
        file
    };
    std::fs::metadata(served)
        .map(|m| m.len())
        .map_err(|e| format!("cannot read {}: {e}", served.display()))
}

fn wasm_files(dist: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dist)
        .map_err(|e| format!("cannot read {}: {e}", dist.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

fn read(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
}

/// FNV-1a, 64 bits: a stable content key for the wasm-opt cache.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_glue_gets_its_own_global_once() {
        let glue = "let wasm_bindgen = (function(exports) { /* … */ })({ __proto__: null });";
        let renamed = with_sync_global(glue).unwrap().unwrap();
        assert_eq!(
            renamed,
            "let cairn_sync = (function(exports) { /* … */ })({ __proto__: null });"
        );
        assert_eq!(with_sync_global(&renamed).unwrap(), None);
    }

    #[test]
    fn a_glue_of_another_shape_is_an_error() {
        let err = with_sync_global("export function on_sync() {}").unwrap_err();
        assert!(err.contains("changed shape"), "{err}");
    }
}
