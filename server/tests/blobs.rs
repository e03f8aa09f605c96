//! Blobs (a note's images) as a black box, against SQLite and PostgreSQL: upload and
//! download, the limits, accounts kept apart, pushes naming blobs the server lacks, and
//! the references that keep a blob until the sweep frees it.

#[macro_use]
mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use cairn_protocol::api::{BlobUsage, MissingBlobs, PushResponse, StoredBlob};
use cairn_protocol::Record;
use cairn_server::Settings;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{note, now, test_settings, Backend, TestApp};
use tower::ServiceExt;

on_both_backends!(
    a_blob_round_trips_with_its_type_and_tag,
    a_repeat_upload_writes_nothing,
    uploads_that_break_a_rule_are_refused_and_store_nothing,
    a_blob_may_be_larger_than_a_push_body,
    the_quota_holds_for_uploads_one_after_another_and_at_once,
    another_accounts_blob_is_never_served_or_revealed,
    a_change_naming_a_missing_blob_is_refused_alone_until_it_is_uploaded,
    a_blob_no_record_names_is_swept_after_the_grace_period,
    a_blob_named_again_is_kept,
    a_repeat_upload_starts_the_grace_period_again,
    the_server_sweeps_on_its_purge_timer,
    blob_bytes_are_never_compressed,
    blob_requests_count_toward_the_accounts_rate_limit,
);

/// The hash of `bytes`: lowercase hex SHA-256.
fn hash_of(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// `n` bytes made from `seed`.
fn bytes(seed: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| seed.wrapping_add((i % 251) as u8)).collect()
}

/// A raw response: status, headers, body bytes.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    #[track_caller]
    fn expect<T: serde::de::DeserializeOwned>(&self, status: StatusCode) -> T {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Asserts an error with this status and code; its message.
    #[track_caller]
    fn expect_error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let json = self.json();
        assert_eq!(json["error"], code, "body: {json}");
        json["message"].as_str().unwrap().to_owned()
    }
}

async fn send(app: &TestApp, request: Request<Body>) -> Raw {
    let res = app.router.clone().oneshot(request).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Raw {
        status,
        headers,
        body,
    }
}

async fn put(
    app: &TestApp,
    token: &str,
    hash: &str,
    data: &[u8],
    content_type: Option<&str>,
) -> Raw {
    let mut req = Request::put(format!("/api/v1/blobs/{hash}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        req = req.header(header::CONTENT_TYPE, content_type);
    }
    send(app, req.body(Body::from(data.to_vec())).unwrap()).await
}

/// Uploads `data` as a PNG; asserts it was stored anew; its hash.
async fn upload(app: &TestApp, token: &str, data: &[u8]) -> String {
    let hash = hash_of(data);
    let stored: StoredBlob = put(app, token, &hash, data, Some("image/png"))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        stored,
        StoredBlob {
            hash: hash.clone(),
            size: data.len() as u64,
            created: true
        }
    );
    hash
}

async fn get(app: &TestApp, token: &str, hash: &str, headers: &[(&str, &str)]) -> Raw {
    let mut req = Request::get(format!("/api/v1/blobs/{hash}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

async fn usage(app: &TestApp, token: &str) -> BlobUsage {
    app.call(Method::GET, "/api/v1/blobs", Some(token), None)
        .await
        .expect(StatusCode::OK)
}

async fn missing(app: &TestApp, token: &str, hashes: &[&str]) -> Vec<String> {
    let body = json!({ "hashes": hashes });
    let reply: MissingBlobs = app
        .call(
            Method::POST,
            "/api/v1/blobs/missing",
            Some(token),
            Some(&body),
        )
        .await
        .expect(StatusCode::OK);
    reply.missing
}

/// A note naming `blobs`, written at `wall`.
fn note_with(id: &str, blobs: &[&str], wall: u64) -> Record {
    note(id, json!({"title": id, "blobs": blobs}), wall, "dev1")
}

/// Whether the account can download the blob.
async fn held(app: &TestApp, token: &str, hash: &str) -> bool {
    match get(app, token, hash, &[]).await.status {
        StatusCode::OK => true,
        StatusCode::NOT_FOUND => false,
        other => panic!("GET blob: {other}"),
    }
}

/// A time past the grace period of a blob unreferenced now.
fn after_grace(settings: &Settings) -> i64 {
    (now() + settings.blob_grace.as_millis() as u64 + 1) as i64
}

async fn a_blob_round_trips_with_its_type_and_tag(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let data = bytes(7, 3000);
    let hash = upload(&app, &alice, &data).await;

    let got = get(&app, &alice, &hash, &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, data);
    assert_eq!(got.headers[header::CONTENT_TYPE], "image/png");
    let tag = format!("\"{hash}\"");
    assert_eq!(got.headers[header::ETAG], tag.as_str());
    assert_eq!(
        got.headers[header::CACHE_CONTROL],
        "private, max-age=31536000, immutable"
    );

    for asked in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"other\", {tag}"),
        "*".into(),
    ] {
        let cached = get(&app, &alice, &hash, &[("if-none-match", &asked)]).await;
        assert_eq!(cached.status, StatusCode::NOT_MODIFIED, "{asked}");
        assert!(cached.body.is_empty());
        assert_eq!(cached.headers[header::ETAG], tag.as_str());
    }
    let other = get(&app, &alice, &hash, &[("if-none-match", "\"other\"")]).await;
    assert_eq!((other.status, other.body), (StatusCode::OK, data.clone()));

    // No Content-Type: stored and served as bytes.
    let plain = bytes(8, 10);
    let stored: StoredBlob = put(&app, &alice, &hash_of(&plain), &plain, None)
        .await
        .expect(StatusCode::CREATED);
    assert!(stored.created);
    let got = get(&app, &alice, &hash_of(&plain), &[]).await;
    assert_eq!(
        got.headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );

    assert_eq!(
        usage(&app, &alice).await,
        BlobUsage {
            bytes: 3010,
            count: 2,
            quota_bytes: 1024 * 1024 * 1024,
            max_blob_bytes: 10 * 1024 * 1024,
        }
    );
}

async fn a_repeat_upload_writes_nothing(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let data = bytes(1, 500);
    let hash = upload(&app, &alice, &data).await;
    // Again, even with another type: nothing changes.
    let again: StoredBlob = put(&app, &alice, &hash, &data, Some("image/jpeg"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        again,
        StoredBlob {
            hash: hash.clone(),
            size: 500,
            created: false
        }
    );
    assert_eq!(
        get(&app, &alice, &hash, &[]).await.headers[header::CONTENT_TYPE],
        "image/png"
    );
    assert_eq!(usage(&app, &alice).await.count, 1);
    // The bytes of a repeat are still checked.
    put(&app, &alice, &hash, &bytes(2, 500), Some("image/png"))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "hash_mismatch");
}

async fn uploads_that_break_a_rule_are_refused_and_store_nothing(backend: Backend) {
    let settings = Settings {
        max_blob_bytes: 1000,
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let alice = app.register("alice@example.org").await;
    let data = bytes(3, 1000);
    let hash = hash_of(&data);

    let message = put(&app, &alice, &hash_of(b"other"), &data, Some("image/png"))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "hash_mismatch");
    assert!(message.contains(&hash), "{message}");

    for bad in [hash.to_uppercase(), hash[1..].to_owned(), "x".repeat(64)] {
        put(&app, &alice, &bad, &data, Some("image/png"))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    put(&app, &alice, &hash, &data, Some("not a type"))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");

    let big = bytes(4, 1001);
    let message = put(&app, &alice, &hash_of(&big), &big, Some("image/png"))
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "blob_too_large");
    assert!(message.contains("1000 bytes"), "{message}");
    // Said so by Content-Length too, before any byte is read.
    let req = Request::put(format!("/api/v1/blobs/{}", hash_of(&big)))
        .header(header::AUTHORIZATION, format!("Bearer {alice}"))
        .header(header::CONTENT_LENGTH, "1001")
        .body(Body::from(big.clone()))
        .unwrap();
    send(&app, req)
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "blob_too_large");

    // Unauthenticated: 401.
    let req = Request::put(format!("/api/v1/blobs/{hash}"))
        .body(Body::from(data.clone()))
        .unwrap();
    send(&app, req)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");

    assert_eq!(usage(&app, &alice).await.count, 0);
    // At the limit exactly: taken.
    upload(&app, &alice, &data).await;
    assert_eq!(usage(&app, &alice).await.max_blob_bytes, 1000);

    // The missing query checks what it is asked.
    let many: Vec<String> = (0..1001)
        .map(|i| hash_of(&[i as u8, (i >> 8) as u8]))
        .collect();
    app.call(
        Method::POST,
        "/api/v1/blobs/missing",
        Some(&alice),
        Some(&json!({ "hashes": many })),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    app.call(
        Method::POST,
        "/api/v1/blobs/missing",
        Some(&alice),
        Some(&json!({ "hashes": ["nope"] })),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "bad_request");
}

async fn a_blob_may_be_larger_than_a_push_body(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let data = bytes(5, cairn_protocol::limits::MAX_PUSH_BYTES + 1024 * 1024);
    let hash = upload(&app, &alice, &data).await;
    assert_eq!(get(&app, &alice, &hash, &[]).await.body, data);
    // Other routes keep their limit.
    let body = vec![b' '; cairn_protocol::limits::MAX_PUSH_BYTES + 1];
    let req = Request::post("/api/v1/sync/push")
        .header(header::AUTHORIZATION, format!("Bearer {alice}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    send(&app, req)
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

async fn the_quota_holds_for_uploads_one_after_another_and_at_once(backend: Backend) {
    let settings = Settings {
        blob_quota_bytes: 2500,
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let alice = app.register("alice@example.org").await;
    let first = upload(&app, &alice, &bytes(1, 1000)).await;
    upload(&app, &alice, &bytes(2, 1000)).await;
    let third = bytes(3, 1000);
    let message = put(&app, &alice, &hash_of(&third), &third, Some("image/png"))
        .await
        .expect_error(StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded");
    assert!(
        message.contains("MB") && message.contains("2000 of 2500 bytes"),
        "{message}"
    );
    assert!(
        !held(&app, &alice, &hash_of(&third)).await,
        "nothing stored"
    );
    let totals = usage(&app, &alice).await;
    assert_eq!(
        (totals.count, totals.bytes, totals.quota_bytes),
        (2, 2000, 2500)
    );
    // A blob held already is no new bytes: still fine.
    put(&app, &alice, &first, &bytes(1, 1000), Some("image/png"))
        .await
        .expect::<StoredBlob>(StatusCode::OK);
    // Another account has a quota of its own.
    let bob = app.register("bob@example.org").await;
    upload(&app, &bob, &third).await;

    // Uploads at once cannot pass it together: exactly two of five fit.
    let carol = app.register("carol@example.org").await;
    let uploads = (10..15u8).map(|seed| {
        let (app, carol) = (&app, &carol);
        async move {
            let data = bytes(seed, 1000);
            put(app, carol, &hash_of(&data), &data, Some("image/png"))
                .await
                .status
        }
    });
    let statuses = futures_util::future::join_all(uploads).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::INSUFFICIENT_STORAGE)
        .count();
    assert_eq!((created, refused), (2, 3), "{statuses:?}");
    assert_eq!(usage(&app, &carol).await.bytes, 2000);
}

async fn another_accounts_blob_is_never_served_or_revealed(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let bob = app.register("bob@example.org").await;
    let hash = upload(&app, &alice, &bytes(9, 100)).await;
    let tag = format!("\"{hash}\"");
    get(&app, &bob, &hash, &[])
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    get(&app, &bob, &hash, &[("if-none-match", &tag)])
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    let never = hash_of(b"never uploaded");
    assert_eq!(
        missing(&app, &bob, &[&hash, &never, &hash]).await,
        [hash.clone(), never.clone()]
    );
    assert_eq!(missing(&app, &alice, &[&never, &hash]).await, [never]);
    assert_eq!(usage(&app, &bob).await.count, 0);
    // Bob may upload the same bytes: his own copy.
    upload(&app, &bob, &bytes(9, 100)).await;
    assert!(held(&app, &bob, &hash).await);
}

async fn a_change_naming_a_missing_blob_is_refused_alone_until_it_is_uploaded(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let data = bytes(6, 200);
    let hash = hash_of(&data);
    let t = now();
    let with_image = note_with("x", &[&hash], t);
    let plain = note_with("y", &[], t);
    // Not a partial push: still refused change by change.
    let reply: PushResponse = app
        .push_reply(&alice, &[with_image.clone(), plain.clone()])
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.applied, 1);
    assert_eq!(reply.refused.len(), 1, "{:?}", reply.refused);
    let refused = &reply.refused[0];
    assert_eq!(
        (
            &refused.error[..],
            &refused.collection[..],
            &refused.id[..],
            &refused.hlc
        ),
        ("blob_missing", "notes", "x", &with_image.hlc)
    );
    assert!(
        refused.message.contains("notes/x") && refused.message.contains(&hash[..8]),
        "{}",
        refused.message
    );
    let stored = app.pull_all(&alice).await;
    assert_eq!(stored, std::slice::from_ref(&plain));

    // A later version of the key in the same push that names nothing missing is stored.
    let later = note_with("x", &[], t + 1);
    let reply = app
        .push_partial(&alice, &[with_image.clone(), later.clone()])
        .await;
    assert!(reply.refused.is_empty(), "{:?}", reply.refused);
    // A later one naming it is refused, and the earlier one naming nothing is stored.
    let z_plain = note_with("z", &[], t);
    let z_image = note_with("z", &[&hash], t + 1);
    let reply = app.push_partial(&alice, &[z_plain.clone(), z_image]).await;
    assert_eq!(reply.refused.len(), 1);
    assert_eq!(reply.refused[0].id, "z");
    assert!(app.pull_all(&alice).await.contains(&z_plain));

    // Once uploaded, the change goes through.
    upload(&app, &alice, &data).await;
    let newer = note_with("x", &[&hash], t + 2);
    let reply = app.push(&alice, std::slice::from_ref(&newer)).await;
    assert_eq!(reply.applied, 1);
    assert!(app.pull_all(&alice).await.contains(&newer));
}

async fn a_blob_no_record_names_is_swept_after_the_grace_period(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let settings = test_settings();
    let alice = app.register("alice@example.org").await;
    let kept = upload(&app, &alice, &bytes(1, 100)).await;
    let freed = upload(&app, &alice, &bytes(2, 100)).await;
    let dropped = upload(&app, &alice, &bytes(3, 100)).await;
    let t = now();
    app.push(
        &alice,
        &[
            note_with("a", &[&kept], t),
            note_with("b", &[&freed, &kept], t),
            note_with("c", &[&dropped], t),
        ],
    )
    .await;
    // Everything is named: nothing goes, however late.
    assert_eq!(app.db.sweep_blobs(i64::MAX).await.unwrap(), 0);

    // Note b deleted, note c edited to drop its image.
    let mut tombstone = note_with("b", &[], t + 1);
    tombstone.deleted = true;
    tombstone.value = Value::Null;
    app.push(&alice, &[tombstone, note_with("c", &[], t + 1)])
        .await;
    // Within the grace period: kept.
    assert_eq!(
        cairn_server::sweep_blobs(&app.db, settings.blob_grace)
            .await
            .unwrap(),
        0
    );
    assert!(held(&app, &alice, &freed).await);
    // After it: the unnamed ones go, the one note a still names stays.
    assert_eq!(app.db.sweep_blobs(after_grace(&settings)).await.unwrap(), 2);
    assert!(!held(&app, &alice, &freed).await);
    assert!(!held(&app, &alice, &dropped).await);
    assert!(held(&app, &alice, &kept).await);
    assert_eq!(
        missing(&app, &alice, &[&kept, &freed]).await,
        std::slice::from_ref(&freed)
    );
    assert_eq!(usage(&app, &alice).await.count, 1);
    // A record naming a freed blob is refused again until it is uploaded again.
    let reply = app
        .push_partial(&alice, &[note_with("d", &[&freed], t + 2)])
        .await;
    assert_eq!(reply.refused[0].error, "blob_missing");
    // A blob uploaded and never named goes too.
    let lonely = upload(&app, &alice, &bytes(4, 100)).await;
    assert_eq!(app.db.sweep_blobs(after_grace(&settings)).await.unwrap(), 1);
    assert!(!held(&app, &alice, &lonely).await);
}

async fn a_blob_named_again_is_kept(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let hash = upload(&app, &alice, &bytes(1, 100)).await;
    let t = now();
    app.push(&alice, &[note_with("a", &[&hash], t)]).await;
    app.push(&alice, &[note_with("a", &[], t + 1)]).await;
    // Named by another record before the sweep: kept.
    app.push(&alice, &[note_with("b", &[&hash], t + 2)]).await;
    assert_eq!(app.db.sweep_blobs(i64::MAX).await.unwrap(), 0);
    assert!(held(&app, &alice, &hash).await);
    // And by the same record's newer version.
    app.push(&alice, &[note_with("b", &[], t + 3)]).await;
    app.push(&alice, &[note_with("b", &[&hash], t + 4)]).await;
    assert_eq!(app.db.sweep_blobs(i64::MAX).await.unwrap(), 0);
    // Unnamed again: its grace period counts from now, not from the first time.
    let between = now();
    while now() <= between {
        tokio::task::yield_now().await;
    }
    app.push(&alice, &[note_with("b", &[], t + 5)]).await;
    assert_eq!(app.db.sweep_blobs(between as i64).await.unwrap(), 0);
    app.push(&alice, &[note_with("b", &[&hash], t + 6)]).await;
    // Another account's records never keep it.
    let bob = app.register("bob@example.org").await;
    let bobs = upload(&app, &bob, &bytes(1, 100)).await;
    assert_eq!(bobs, hash);
    assert_eq!(app.db.sweep_blobs(i64::MAX).await.unwrap(), 1);
    assert!(held(&app, &alice, &hash).await);
    assert!(!held(&app, &bob, &hash).await);
}

async fn a_repeat_upload_starts_the_grace_period_again(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let again = bytes(1, 100);
    let hash = upload(&app, &alice, &again).await;
    let once = upload(&app, &alice, &bytes(2, 100)).await;
    let between = now();
    // The clock moves past `between` (ms): no waiting on anything else.
    while now() <= between {
        tokio::task::yield_now().await;
    }
    put(&app, &alice, &hash, &again, Some("image/png"))
        .await
        .expect::<StoredBlob>(StatusCode::OK);
    // Unreferenced since before `between`: only the one uploaded once.
    assert_eq!(app.db.sweep_blobs(between as i64).await.unwrap(), 1);
    assert!(held(&app, &alice, &hash).await);
    assert!(!held(&app, &alice, &once).await);
}

async fn the_server_sweeps_on_its_purge_timer(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let named = upload(&app, &alice, &bytes(1, 100)).await;
    let lonely = upload(&app, &alice, &bytes(2, 100)).await;
    app.push(&alice, &[note_with("a", &[&named], now())]).await;
    let settings = Settings {
        session_purge_interval: Duration::from_millis(20),
        blob_grace: Duration::ZERO,
        ..test_settings()
    };
    let dist = tempfile::tempdir().unwrap();
    let state = cairn_server::AppState::new(app.db.clone(), dist.path().to_owned(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cairn_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while held(&app, &alice, &lonely).await {
        assert!(std::time::Instant::now() < deadline, "not swept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(held(&app, &alice, &named).await);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

async fn blob_bytes_are_never_compressed(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    // Very compressible, and typed as JSON: still sent as uploaded.
    let data = format!("[{}0]", "0,".repeat(5000)).into_bytes();
    let hash = hash_of(&data);
    put(&app, &alice, &hash, &data, Some("application/json"))
        .await
        .expect::<StoredBlob>(StatusCode::CREATED);
    let got = get(&app, &alice, &hash, &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(got.body, data);
    // The API's other JSON still is.
    let page = app
        .push(
            &alice,
            &[note(
                "big",
                json!({"text": "x".repeat(5000)}),
                now(),
                "dev1",
            )],
        )
        .await;
    assert_eq!(page.applied, 1);
    let req = Request::get("/api/v1/sync/pull?since=0")
        .header(header::AUTHORIZATION, format!("Bearer {alice}"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, req).await.headers[header::CONTENT_ENCODING],
        "gzip"
    );
}

async fn blob_requests_count_toward_the_accounts_rate_limit(backend: Backend) {
    let settings = Settings {
        user_rate: cairn_server::rate_limit::RateLimit {
            per_minute: 1,
            burst: 3,
        },
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let alice = app.register("alice@example.org").await;
    let hash = upload(&app, &alice, &bytes(1, 10)).await;
    assert!(held(&app, &alice, &hash).await);
    usage(&app, &alice).await;
    let limited = get(&app, &alice, &hash, &[]).await;
    limited.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    // Another account is not held up.
    let bob = app.register("bob@example.org").await;
    upload(&app, &bob, &bytes(1, 10)).await;
}
