//! Precompressing the built app: every compressible file of `dist/` gets a brotli
//! (`name.br`) and a gzip (`name.gz`) copy beside it, made once at build time at the
//! highest levels; the server picks one by `Accept-Encoding` and compresses nothing per
//! request (`server/src/static_files.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Result;

/// The endings of the files worth compressing: text and wasm. Images other than SVG
/// (PNG) are compressed already.
const COMPRESSIBLE: &[&str] = &[
    "wasm",
    "js",
    "mjs",
    "html",
    "css",
    "json",
    "webmanifest",
    "svg",
    "txt",
    "xml",
    "map",
];

/// The encodings made, as file suffixes.
pub const SUFFIXES: &[&str] = &["br", "gz"];

/// Brotli's highest quality and its largest standard window (16 MiB): the slowest and
/// smallest, affordable once per build.
const BROTLI_QUALITY: u32 = 11;
const BROTLI_WINDOW_BITS: u32 = 24;

/// Whether `path` is a compressed copy this module made.
pub fn is_compressed_copy(path: &str) -> bool {
    SUFFIXES
        .iter()
        .any(|suffix| path.ends_with(&format!(".{suffix}")))
}

/// Writes `.br` and `.gz` beside every compressible file below `dir`; a copy that
/// would not be smaller is not written (the server then sends the file as it is).
/// Copies left from an earlier build are removed first. Returns how many were written.
pub fn precompress(dir: &Path) -> Result<usize> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    for file in &files {
        if file.to_str().is_some_and(is_compressed_copy) {
            std::fs::remove_file(file)
                .map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
        }
    }
    let mut written = 0;
    for file in files.iter().filter(|f| is_compressible(f)) {
        let bytes =
            std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        for (suffix, compressed) in [("br", brotli(&bytes)?), ("gz", gzip(&bytes)?)] {
            if compressed.len() < bytes.len() {
                let mut name = file.clone().into_os_string();
                name.push(format!(".{suffix}"));
                std::fs::write(&name, compressed)
                    .map_err(|e| format!("cannot write {}: {e}", Path::new(&name).display()))?;
                written += 1;
            }
        }
    }
    Ok(written)
}

fn is_compressible(file: &Path) -> bool {
    file.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| COMPRESSIBLE.contains(&ext))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result {
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?
    {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// `bytes` compressed with brotli at [`BROTLI_QUALITY`].
pub fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() / 3);
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY as i32,
        lgwin: BROTLI_WINDOW_BITS as i32,
        size_hint: bytes.len(),
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)
        .map_err(|e| format!("brotli: {e}"))?;
    Ok(out)
}

/// `bytes` compressed with gzip at its best level (as `gzip -9`).
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::best(),
    );
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| format!("gzip: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn compressible_files_get_both_copies_and_the_rest_none() {
        let dir = std::env::temp_dir().join(format!("cairn-compress-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("icons")).unwrap();
        let text = "let wasm_bindgen = 1;\n".repeat(200);
        std::fs::write(dir.join("app.js"), &text).unwrap();
        std::fs::write(dir.join("icons/icon.svg"), "<svg></svg>".repeat(100)).unwrap();
        std::fs::write(dir.join("icons/a.png"), [0u8; 400]).unwrap();
        std::fs::write(dir.join("tiny.json"), "{}").unwrap();
        std::fs::write(dir.join("gone.js.br"), "stale").unwrap();

        assert_eq!(precompress(&dir).unwrap(), 4);
        for copy in [
            "app.js.br",
            "app.js.gz",
            "icons/icon.svg.br",
            "icons/icon.svg.gz",
        ] {
            assert!(dir.join(copy).is_file(), "{copy}");
        }
        for none in [
            "icons/a.png.br",
            "tiny.json.br",
            "tiny.json.gz",
            "gone.js.br",
        ] {
            assert!(!dir.join(none).exists(), "{none}");
        }
        let mut gunzipped = String::new();
        flate2::read::GzDecoder::new(&std::fs::read(dir.join("app.js.gz")).unwrap()[..])
            .read_to_string(&mut gunzipped)
            .unwrap();
        assert_eq!(gunzipped, text);
        let mut unbrotlied = String::new();
        brotli::Decompressor::new(&std::fs::read(dir.join("app.js.br")).unwrap()[..], 4096)
            .read_to_string(&mut unbrotlied)
            .unwrap();
        assert_eq!(unbrotlied, text);
        // Running again makes the same copies, not copies of copies.
        assert_eq!(precompress(&dir).unwrap(), 4);
        assert!(!dir.join("app.js.br.br").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
