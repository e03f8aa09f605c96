//! The server as a black box: requests through `app(state)` with `oneshot`, no socket.

use std::path::Path;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use cairn_server::api::Health;
use cairn_server::{app, AppState, Database, Settings};
use http_body_util::BodyExt;
use tower::ServiceExt;

const INDEX: &str = "<!doctype html><title>Cairn</title>";
const HASHED_WASM: &str = "cairn-0123456789abcdef_bg.wasm";

struct TestApp {
    router: Router,
    _dist: tempfile::TempDir,
}

async fn test_app() -> TestApp {
    let dist = tempfile::tempdir().unwrap();
    write(dist.path(), "index.html", INDEX);
    write(dist.path(), "sw.js", "importScripts('./sw_wasm.js');");
    write(dist.path(), HASHED_WASM, "\0asm");
    write(dist.path(), "sw_wasm_bg.wasm", "\0asm");
    write(dist.path(), "manifest.webmanifest", "{}");
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let router = app(AppState::new(
        db,
        dist.path().to_owned(),
        Settings::default(),
    ));
    TestApp {
        router,
        _dist: dist,
    }
}

fn write(dir: &Path, name: &str, content: &str) {
    std::fs::write(dir.join(name), content).unwrap();
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = app
        .router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn cache_control(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(header::CACHE_CONTROL)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn health_reports_version_and_database() {
    let app = test_app().await;
    let (status, headers, body) = get(&app, "/api/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let health: Health = serde_json::from_str(&body).unwrap();
    assert_eq!(
        health,
        Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            database: "sqlite".into(),
        }
    );
}

#[tokio::test]
async fn health_is_503_with_a_json_error_when_the_database_is_gone() {
    let dist = tempfile::tempdir().unwrap();
    let db = Database::connect("sqlite::memory:").await.unwrap();
    db.close().await;
    let app = TestApp {
        router: app(AppState::new(
            db,
            dist.path().to_owned(),
            Settings::default(),
        )),
        _dist: dist,
    };
    let (status, _, body) = get(&app, "/api/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "database_unavailable");
    assert!(!body.contains("pool"), "no internals leak: {body}");
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s_not_the_app() {
    let app = test_app().await;
    let (status, _, body) = get(&app, "/api/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "not_found");
}

#[tokio::test]
async fn index_and_service_worker_are_never_cached_long() {
    let app = test_app().await;
    for path in ["/", "/index.html", "/sw.js", "/sw_wasm_bg.wasm"] {
        let (status, headers, _) = get(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(cache_control(&headers), "no-cache", "{path}");
    }
}

#[tokio::test]
async fn hashed_assets_are_immutable() {
    let app = test_app().await;
    let (status, headers, _) = get(&app, &format!("/{HASHED_WASM}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        cache_control(&headers),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
}

#[tokio::test]
async fn client_routes_get_the_app_on_reload() {
    let app = test_app().await;
    for path in ["/settings", "/notes/abc"] {
        let (status, headers, body) = get(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, INDEX, "{path}");
        assert_eq!(cache_control(&headers), "no-cache", "{path}");
    }
}

#[tokio::test]
async fn missing_files_with_an_extension_are_404_not_html() {
    let app = test_app().await;
    let (status, headers, body) = get(&app, "/missing-0123456789abcdef.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_ne!(body, INDEX);
    assert_eq!(cache_control(&headers), "");
}

#[tokio::test]
async fn paths_cannot_escape_the_static_dir() {
    let app = test_app().await;
    let (status, _, body) = get(&app, "/../Cargo.toml").await;
    assert!(!body.contains("[package]"));
    assert_ne!(status, StatusCode::OK);
}

#[tokio::test]
async fn sqlite_file_databases_are_created_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cairn.db").display());
    let db = Database::connect(&url).await.unwrap();
    db.ping().await.unwrap();
    let cairn_server::db::Pool::Sqlite(sqlite) = db.pool() else {
        panic!("expected sqlite")
    };
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&sqlite.pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(dir.path().join("cairn.db").exists());
}

#[tokio::test]
async fn unsupported_database_urls_are_refused() {
    let err = Database::connect("mysql://localhost/x").await.unwrap_err();
    assert!(err.to_string().contains("unsupported database URL"));
}

#[tokio::test]
async fn the_web_manifest_has_its_content_type_and_is_revalidated() {
    let app = test_app().await;
    let (status, headers, _) = get(&app, "/manifest.webmanifest").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/manifest+json");
    assert_eq!(cache_control(&headers), "no-cache");
}

#[tokio::test]
async fn the_openapi_description_lists_every_route_and_each_answers() {
    let app = test_app().await;
    let (status, headers, body) = get(&app, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut routes: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    routes.sort();
    let expected = [
        ("DELETE", "/api/v1/sessions/current"),
        ("DELETE", "/api/v1/sessions/others"),
        ("DELETE", "/api/v1/sessions/{id}"),
        ("GET", "/api/health"),
        ("GET", "/api/v1/blobs"),
        ("GET", "/api/v1/blobs/{hash}"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/sessions"),
        ("GET", "/api/v1/sync/events"),
        ("GET", "/api/v1/sync/pull"),
        ("POST", "/api/v1/accounts"),
        ("POST", "/api/v1/blobs/missing"),
        ("POST", "/api/v1/sessions"),
        ("POST", "/api/v1/sync/push"),
        ("PUT", "/api/v1/blobs/{hash}"),
    ];
    assert_eq!(
        routes,
        expected.map(|(m, p)| (m.to_owned(), p.to_owned())),
        "documented routes"
    );
    // Every documented route is served (whatever it answers without credentials).
    for (method, path) in &routes {
        let path = path
            .replace("{id}", "0123456789abcdef0123456789abcdef")
            .replace("{hash}", &"0".repeat(64));
        let req = Request::builder()
            .method(method.as_str())
            .uri(path.as_str())
            .body(Body::empty())
            .unwrap();
        let res = app.router.clone().oneshot(req).await.unwrap();
        assert_ne!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_ne!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }
    // The bodies' schemas come from the protocol types; clocks are strings.
    let schemas = &doc["components"]["schemas"];
    for name in [
        "Credentials",
        "Session",
        "PushRequest",
        "PushResponse",
        "PullResponse",
        "CursorEvent",
        "Record",
        "ErrorBody",
        "Hlc",
        "RefusedChange",
        "ServerClock",
        "SessionInfo",
        "EndedSessions",
        "BlobUsage",
        "MissingBlobsRequest",
        "MissingBlobs",
        "StoredBlob",
    ] {
        assert!(schemas.get(name).is_some(), "schema {name} missing");
    }
    assert_eq!(schemas["Hlc"]["type"], "string");
    // The change stream is described as a stream of cursor events.
    let stream = &doc["paths"]["/api/v1/sync/events"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        stream["text/event-stream"]["schema"]["$ref"], "#/components/schemas/CursorEvent",
        "{stream}"
    );
    // Every reference resolves.
    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(schemas.get(name).is_some(), "dangling reference {r}");
    }
    // The new reply fields are described (the server clock flattened into both replies).
    let described = |schema: &serde_json::Value, field: &str| {
        serde_json::to_string(schema)
            .unwrap()
            .contains(&format!("\"{field}\""))
    };
    assert!(described(&schemas["PushRequest"], "partial"));
    assert!(described(&schemas["PushResponse"], "refused"));
    assert!(described(&schemas["PullResponse"], "head"));
    for field in ["epoch", "server_time_ms"] {
        assert!(described(&schemas["ServerClock"], field));
    }
    for reply in ["PushResponse", "PullResponse"] {
        assert!(
            serde_json::to_string(&schemas[reply])
                .unwrap()
                .contains("#/components/schemas/ServerClock")
                || described(&schemas[reply], "epoch"),
            "{reply} lacks the server clock: {}",
            schemas[reply]
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn the_app_still_starts_on_a_memory_database_with_its_schema() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    assert_eq!(db.migrate().await.unwrap(), 0, "connect already migrated");
}

#[tokio::test]
async fn a_wrong_method_on_an_api_path_is_a_json_405_with_allow() {
    let app = test_app().await;
    for (method, path, allow) in [
        ("PUT", "/api/v1/sync/push", "POST"),
        ("GET", "/api/v1/sync/push", "POST"),
        ("OPTIONS", "/api/v1/sync/push", "POST"),
        ("POST", "/api/v1/sync/pull", "GET,HEAD"),
        ("DELETE", "/api/v1/accounts", "POST"),
        ("GET", "/api/v1/sessions/current", "DELETE"),
        ("POST", "/api/health", "GET,HEAD"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let res = app.router.clone().oneshot(req).await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(res.headers()[header::ALLOW], allow, "{method} {path}");
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/json",
            "{method} {path}"
        );
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body:?}"));
        assert_eq!(json["error"], "method_not_allowed", "{method} {path}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // An unknown path is still a 404, whatever the method.
    let req = Request::builder()
        .method("PUT")
        .uri("/api/v1/nope")
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

fn header_of<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn directive<'a>(policy: &'a str, name: &str) -> &'a str {
    policy
        .split(';')
        .map(str::trim)
        .find(|d| d.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in {policy}"))
}

fn sha256_source(script: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script))
    )
}

#[tokio::test]
async fn every_response_has_security_headers_fitting_its_kind() {
    let app = test_app().await;
    for path in [
        "/",
        "/settings",
        "/sw.js",
        &format!("/{HASHED_WASM}"),
        "/missing-0123456789abcdef.js",
        "/api/health",
        "/api/nope",
        "/api/v1/sync/pull",
    ] {
        let (_, headers, _) = get(&app, path).await;
        assert_eq!(
            header_of(&headers, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(header_of(&headers, "x-frame-options"), "DENY", "{path}");
        assert_eq!(
            header_of(&headers, "referrer-policy"),
            "no-referrer",
            "{path}"
        );
        let permissions = header_of(&headers, "permissions-policy");
        assert!(permissions.contains("camera=()"), "{path}: {permissions}");
        let csp = header_of(&headers, "content-security-policy");
        assert_eq!(
            directive(csp, "frame-ancestors"),
            "frame-ancestors 'none'",
            "{path}"
        );
        if path.starts_with("/api") {
            assert_eq!(
                directive(csp, "default-src"),
                "default-src 'none'",
                "{path}"
            );
            assert_eq!(header_of(&headers, "cache-control"), "no-store", "{path}");
        } else {
            let scripts = directive(csp, "script-src");
            assert!(scripts.contains("'self'") && scripts.contains("'wasm-unsafe-eval'"));
            assert!(!scripts.contains("unsafe-inline"), "{path}: {scripts}");
            assert_eq!(directive(csp, "worker-src"), "worker-src 'self'");
            assert_eq!(directive(csp, "connect-src"), "connect-src 'self'");
            assert_eq!(directive(csp, "object-src"), "object-src 'none'");
        }
    }
}

/// Trunk's `index.html` bootstraps the wasm with an inline module script: the policy
/// allows exactly that script by its hash, recomputed when a new build replaces the file.
#[tokio::test]
async fn the_app_policy_allows_exactly_the_inline_scripts_of_the_index_being_served() {
    let app = test_app().await;
    let (_, headers, _) = get(&app, "/").await;
    let csp = header_of(&headers, "content-security-policy");
    assert_eq!(
        directive(csp, "script-src"),
        "script-src 'self' 'wasm-unsafe-eval'",
        "no inline script in this index.html: none allowed"
    );

    let bootstrap = "\nimport init, * as bindings from '/cairn-0123456789abcdef.js';\n\
                     const wasm = await init({ module_or_path: '/cairn-0123456789abcdef_bg.wasm' });\n";
    let index = format!(
        "<!doctype html><html><head><script type=\"module\">{bootstrap}</script>\
         <script src=\"/other.js\"></script></head><body></body></html>"
    );
    write(app._dist.path(), "index.html", &index);
    for path in ["/", "/index.html", "/notes/abc", "/sw.js"] {
        let (status, headers, _) = get(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let csp = header_of(&headers, "content-security-policy");
        assert_eq!(
            directive(csp, "script-src"),
            format!(
                "script-src 'self' 'wasm-unsafe-eval' {}",
                sha256_source(bootstrap)
            ),
            "{path}"
        );
    }
    // A tampered script no longer matches.
    write(
        app._dist.path(),
        "index.html",
        &index.replace("await init", "await evil_init"),
    );
    let (_, headers, _) = get(&app, "/").await;
    let csp = header_of(&headers, "content-security-policy");
    assert!(!csp.contains(&sha256_source(bootstrap)), "{csp}");
    assert!(csp.contains(&sha256_source(
        &bootstrap.replace("await init", "await evil_init")
    )));
}
