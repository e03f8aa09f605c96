//! Compression as a browser sees it, through `app(state)` with `oneshot`: static files as
//! their precompressed copies chosen by `Accept-Encoding` (with `Content-Encoding`,
//! `Vary` and the headers a plain response has), and large API JSON compressed.

use std::io::{Read, Write};
use std::path::Path;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use cairn_server::{app, AppState, Database, Settings};
use http_body_util::BodyExt;
use sha2::Digest as _;
use tower::ServiceExt;

const INLINE_SCRIPT: &str = "import init from '/cairn-0123456789abcdef.js';await init();";
const HASHED_WASM: &str = "cairn-0123456789abcdef_bg.wasm";

/// A built app in a temp dir: each file with `.br` and `.gz` copies, as `cargo xtask
/// build` leaves them.
struct TestApp {
    router: Router,
    wasm: Vec<u8>,
    index: String,
    _dist: tempfile::TempDir,
}

async fn test_app() -> TestApp {
    let dist = tempfile::tempdir().unwrap();
    let index = format!(
        "<!doctype html><html><head><title>Cairn</title><script type=\"module\">{INLINE_SCRIPT}\
         </script></head><body>{}</body></html>",
        "<p>shell</p>".repeat(50)
    );
    // Something wasm-like and compressible: a header, then repeating code-ish bytes.
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    for i in 0..20_000u32 {
        wasm.extend_from_slice(&(i % 251).to_le_bytes()[..1]);
        wasm.extend_from_slice(b"\x20\x00\x41\x01\x6a");
    }
    let sw = "importScripts('./sw_wasm.js');\n".repeat(40);
    precompressed(dist.path(), "index.html", index.as_bytes());
    precompressed(dist.path(), HASHED_WASM, &wasm);
    precompressed(dist.path(), "sw.js", sw.as_bytes());
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let router = app(AppState::new(
        db,
        dist.path().to_owned(),
        Settings::default(),
    ));
    TestApp {
        router,
        wasm,
        index,
        _dist: dist,
    }
}

/// Writes `name` and its brotli and gzip copies.
fn precompressed(dir: &Path, name: &str, content: &[u8]) {
    std::fs::write(dir.join(name), content).unwrap();
    let mut br = Vec::new();
    brotli::BrotliCompress(
        &mut &content[..],
        &mut br,
        &brotli::enc::BrotliEncoderParams::default(),
    )
    .unwrap();
    std::fs::write(dir.join(format!("{name}.br")), br).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(content).unwrap();
    std::fs::write(dir.join(format!("{name}.gz")), gz.finish().unwrap()).unwrap();
}

async fn get(
    app: &TestApp,
    path: &str,
    accept_encoding: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(value) = accept_encoding {
        req = req.header(header::ACCEPT_ENCODING, value);
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// `body` decoded from `encoding` (`br`, `gzip`, or none).
fn decode(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        "" => out.extend_from_slice(body),
        other => panic!("unexpected encoding {other}"),
    }
    out
}

#[tokio::test]
async fn static_files_come_precompressed_in_the_encoding_the_browser_takes() {
    let app = test_app().await;
    for (accept, expected) in [
        (Some("br"), "br"),
        (Some("gzip"), "gzip"),
        // What Chromium sends: brotli is preferred.
        (Some("gzip, deflate, br, zstd"), "br"),
        (Some("br;q=0, gzip"), "gzip"),
        (Some("deflate"), ""),
        (None, ""),
    ] {
        let (status, headers, body) = get(&app, &format!("/{HASHED_WASM}"), accept).await;
        assert_eq!(status, StatusCode::OK, "{accept:?}");
        assert_eq!(
            header(&headers, header::CONTENT_ENCODING),
            expected,
            "{accept:?}"
        );
        assert_eq!(
            header(&headers, header::VARY),
            "accept-encoding",
            "{accept:?}"
        );
        assert_eq!(header(&headers, header::CONTENT_TYPE), "application/wasm");
        assert_eq!(
            header(&headers, header::CONTENT_LENGTH),
            body.len().to_string(),
            "{accept:?}"
        );
        // The cache policy and the security headers of the plain file.
        assert_eq!(
            header(&headers, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert!(header(&headers, header::CONTENT_SECURITY_POLICY).contains("script-src"));
        if !expected.is_empty() {
            assert!(
                body.len() < app.wasm.len() / 2,
                "{accept:?}: {}",
                body.len()
            );
        }
        assert_eq!(decode(expected, &body), app.wasm, "{accept:?}");
    }
}

#[tokio::test]
async fn the_worker_and_the_page_come_precompressed_and_revalidated() {
    let app = test_app().await;
    let (status, headers, body) = get(&app, "/sw.js", Some("gzip")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "gzip");
    assert_eq!(header(&headers, header::VARY), "accept-encoding");
    assert_eq!(header(&headers, header::CACHE_CONTROL), "no-cache");
    assert!(header(&headers, header::CONTENT_TYPE).contains("javascript"));
    assert!(String::from_utf8(decode("gzip", &body))
        .unwrap()
        .starts_with("importScripts"));

    // The page, at its own path and at a client-side route: its compressed copy, with a
    // policy allowing the inline script it contains.
    let hash = format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(INLINE_SCRIPT.as_bytes()))
    );
    for path in ["/", "/index.html", "/notes"] {
        let (status, headers, body) = get(&app, path, Some("br, gzip")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&headers, header::CONTENT_ENCODING), "br", "{path}");
        assert_eq!(header(&headers, header::VARY), "accept-encoding", "{path}");
        assert!(header(&headers, header::CONTENT_TYPE).starts_with("text/html"));
        assert_eq!(
            header(&headers, header::CACHE_CONTROL),
            "no-cache",
            "{path}"
        );
        assert!(header(&headers, header::CONTENT_SECURITY_POLICY).contains(&hash));
        assert_eq!(String::from_utf8(decode("br", &body)).unwrap(), app.index);
    }
    let (_, headers, body) = get(&app, "/notes", None).await;
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "");
    assert_eq!(String::from_utf8(body).unwrap(), app.index);
}

#[tokio::test]
async fn large_api_json_is_compressed_and_small_is_not() {
    let app = test_app().await;
    for encoding in ["br", "gzip"] {
        let (status, headers, body) = get(&app, "/api/v1/openapi.json", Some(encoding)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, header::CONTENT_ENCODING), encoding);
        assert!(header(&headers, header::VARY).contains("accept-encoding"));
        assert_eq!(header(&headers, header::CACHE_CONTROL), "no-store");
        assert!(header(&headers, header::CONTENT_SECURITY_POLICY).starts_with("default-src 'none'"));
        let json: serde_json::Value = serde_json::from_slice(&decode(encoding, &body)).unwrap();
        assert!(json["paths"].is_object());
    }
    let (_, plain_headers, plain) = get(&app, "/api/v1/openapi.json", None).await;
    assert_eq!(header(&plain_headers, header::CONTENT_ENCODING), "");
    assert!(plain.len() > 1024);

    // A response below the size is sent as it is.
    let (status, headers, body) = get(&app, "/api/health", Some("br, gzip")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "");
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
}
