//! Security headers on every response, fitting what it is.
//!
//! Every response: `X-Content-Type-Options: nosniff` (a JSON error or an uploaded-looking
//! file is never run as a script), `X-Frame-Options: DENY` and CSP `frame-ancestors
//! 'none'` (no page can frame the app and trick a click on a destructive button),
//! `Referrer-Policy: no-referrer`, a `Permissions-Policy` turning off the powerful
//! features the app does not use, and `Cross-Origin-Opener-Policy: same-origin`.
//!
//! The app (every response outside `/api`) gets the content security policy of
//! [`app_policy`]: scripts only from this origin plus `'wasm-unsafe-eval'` (to compile
//! the wasm), and no inline script except the exact inline scripts of the `index.html`
//! being served, by their SHA-256 hashes: trunk's build puts its bootstrap (an inline
//! `<script type="module">` importing the wasm glue) into `index.html`, and a hash
//! allows exactly that text, where `'unsafe-inline'` would allow any injected one. The
//! hashes are computed from the file on disk, again whenever it changes (a new build
//! deployed in place), so the policy always fits the page it is sent with. Workers get
//! their policy from their own script's response, so `sw.js` carries the same policy.
//!
//! Styles: `style-src 'self' 'unsafe-inline'`. The app's CSS is stylist's, which inserts
//! `<style>` elements at run time with generated content no hash can be known for, and
//! the appearance settings set a `style` attribute on `<html>`; both are inline styles,
//! as is the `<style>` of the static shell in `index.html`.
//! Inline style cannot run script; what it could do (restyle the page) needs an
//! injection that the script policy already keeps harmless otherwise.
//!
//! API responses get `default-src 'none'` (a JSON body opened as a page can load and run
//! nothing) and `Cache-Control: no-store` unless they set their own: they carry tokens
//! and account data, which no cache should keep.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The CSP of API responses.
pub const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
                              form-action 'none'";

/// Powerful features the app never uses, off for it and for anything it embeds.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), \
    browsing-topics=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), \
    hid=(), magnetometer=(), microphone=(), midi=(), payment=(), serial=(), usb=()";

/// The app's CSP, allowing the inline scripts with these hashes (`sha256-<base64>`).
pub fn app_policy(script_hashes: &[String]) -> String {
    let mut script_src = String::from("'self' 'wasm-unsafe-eval'");
    for hash in script_hashes {
        script_src.push_str(&format!(" '{hash}'"));
    }
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' blob: data:; connect-src 'self'; worker-src 'self'; \
         manifest-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The `sha256-<base64>` source of each inline script (a `<script>` element without
/// `src`) in `html`, in document order. The hash is of the exact text between the tags,
/// as browsers compute it.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut hashes = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<script").map(|i| at + i) {
        let Some(tag_end) = lower[start..].find('>').map(|i| start + i) else {
            break;
        };
        let tag = &lower[start + "<script".len()..tag_end];
        let content_start = tag_end + 1;
        let Some(end) = lower[content_start..]
            .find("</script")
            .map(|i| content_start + i)
        else {
            break;
        };
        // An attribute named `src` (not `data-src`, not inside another attribute's name).
        let has_src = tag
            .split(|c: char| c.is_ascii_whitespace())
            .any(|attr| attr == "src" || attr.starts_with("src="));
        if !has_src {
            let digest = Sha256::digest(&html.as_bytes()[content_start..end]);
            hashes.push(format!("sha256-{}", STANDARD.encode(digest)));
        }
        at = end;
    }
    hashes
}

/// A file's modification time and length (`None`: no file).
type FileStamp = Option<(SystemTime, u64)>;

/// The app's policy, for the `index.html` of one static dir: computed from the file, and
/// again whenever its modification time or length changes.
#[derive(Debug)]
pub struct AppPolicy {
    index: PathBuf,
    cached: Mutex<Option<(FileStamp, HeaderValue)>>,
}

impl AppPolicy {
    pub fn new(index: PathBuf) -> AppPolicy {
        AppPolicy {
            index,
            cached: Mutex::new(None),
        }
    }

    /// The policy for the `index.html` on disk now.
    pub fn current(&self) -> HeaderValue {
        let stamp = std::fs::metadata(&self.index)
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, value)) = cached.as_ref() {
            if *seen == stamp {
                return value.clone();
            }
        }
        let html = std::fs::read_to_string(&self.index).unwrap_or_default();
        let policy = app_policy(&inline_script_hashes(&html));
        let value = HeaderValue::from_str(&policy).unwrap_or_else(|_| {
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'")
        });
        *cached = Some((stamp, value.clone()));
        value
    }
}

/// The middleware adding the headers; `policy` is the app's.
pub async fn add(State(policy): State<Arc<AppPolicy>>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path() == crate::api::PREFIX
        || req
            .uri()
            .path()
            .starts_with(&format!("{}/", crate::api::PREFIX));
    let mut res: Response<Body> = next.run(req).await;
    let headers = res.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if is_api {
        set(headers, header::CONTENT_SECURITY_POLICY, API_POLICY);
        if !headers.contains_key(header::CACHE_CONTROL) {
            set(headers, header::CACHE_CONTROL, "no-store");
        }
    } else {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy.current());
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_are_not() {
        let html = "<html><head>\
            <script src=\"/a.js\"></script>\
            <SCRIPT type=\"module\">import init from '/x.js';\nawait init();</SCRIPT>\
            <script data-src=\"y\">1</script>\
            </head></html>";
        let hash = |s: &str| format!("sha256-{}", STANDARD.encode(Sha256::digest(s.as_bytes())));
        assert_eq!(
            inline_script_hashes(html),
            [hash("import init from '/x.js';\nawait init();"), hash("1")]
        );
        assert!(inline_script_hashes("<p>no scripts</p>").is_empty());
        assert!(inline_script_hashes("<script>unterminated").is_empty());
    }

    #[test]
    fn the_app_policy_lists_the_hashes_and_no_unsafe_inline_script() {
        let policy = app_policy(&["sha256-abc=".into()]);
        let script_src = policy
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap();
        assert_eq!(
            script_src,
            "script-src 'self' 'wasm-unsafe-eval' 'sha256-abc='"
        );
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(HeaderValue::from_str(&policy).is_ok());
    }
}
