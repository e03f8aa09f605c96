//! Serving the built app.
//!
//! - Files under the static dir are served as they are, or as their precompressed copy
//!   (`name.br`, `name.gz`, made by `cargo xtask build`) when the request's
//!   `Accept-Encoding` takes it: with `Content-Encoding`, the original's `Content-Type`,
//!   and `Vary: Accept-Encoding` on every response that could have been encoded. No
//!   compression happens per request; a file without copies goes as it is. The copies
//!   must come from the same build as the files (a file edited in place needs its copies
//!   made again or removed, or browsers get the old content).
//! - A path with no file extension that matches no file gets `index.html`, so client-side
//!   routes such as `/settings` work on reload. A missing path *with* an extension is a
//!   404: a missing script must fail loudly, not come back as HTML.
//! - Cache policy: content-hashed build outputs (`name-<16 hex digits>.ext`, as trunk
//!   names them) never change, so they are cached for a year as `immutable`. Everything
//!   else — `index.html`, `sw.js`, the worker's unhashed wasm, the manifest — is `no-cache`:
//!   the browser revalidates it on every use, so a new version is picked up at once.

use std::convert::Infallible;
use std::path::Path;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use tower::util::ServiceExt;
use tower::{service_fn, Service};
use tower_http::services::{ServeDir, ServeFile};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// A service answering every non-API request from `dir`.
pub fn service(
    dir: &Path,
) -> impl Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    let index = ServeFile::new(dir.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    service_fn(move |req: Request<Body>| {
        let index = index.clone();
        let files = files.clone();
        async move {
            let path = req.uri().path().to_owned();
            let accept_encoding = req.headers().get(header::ACCEPT_ENCODING).cloned();
            let response = files.oneshot(req).await.map(IntoResponse::into_response);
            let mut response = match response {
                Ok(res) if res.status() == StatusCode::NOT_FOUND && !has_extension(&path) => {
                    let mut req = Request::get("/index.html").body(Body::empty()).unwrap();
                    if let Some(value) = accept_encoding {
                        req.headers_mut().insert(header::ACCEPT_ENCODING, value);
                    }
                    index.oneshot(req).await.map(IntoResponse::into_response)
                }
                other => other,
            }
            .unwrap_or_else(|err| {
                tracing::error!(error = %err, path, "static file error");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            });
            if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
                let policy = if is_content_hashed(&path) {
                    IMMUTABLE
                } else {
                    REVALIDATE
                };
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
            }
            Ok(response)
        }
    })
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or_default()
}

fn has_extension(path: &str) -> bool {
    file_name(path).contains('.')
}

/// Whether `path` names a content-hashed build output: `stem-<16 lowercase hex>[_bg].ext`.
pub fn is_content_hashed(path: &str) -> bool {
    let name = file_name(path);
    let Some((stem, _ext)) = name.split_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    match stem.rsplit_once('-') {
        Some((_, hash)) => {
            hash.len() == 16
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_trunk_hashed_names_only() {
        assert!(is_content_hashed("/cairn-4f1c2b3a4d5e6f70_bg.wasm"));
        assert!(is_content_hashed("/cairn-4f1c2b3a4d5e6f70.js"));
        assert!(is_content_hashed("/styles-0123456789abcdef.css"));
        assert!(!is_content_hashed("/sw.js"));
        assert!(!is_content_hashed("/sw_wasm_bg.wasm"));
        assert!(!is_content_hashed("/index.html"));
        assert!(!is_content_hashed("/cairn-123.js"));
        assert!(!is_content_hashed("/settings"));
    }
}
