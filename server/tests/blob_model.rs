//! Random sequences of uploads, records naming blobs, records deleted and sweeps (with no
//! grace period: the harshest), checked after every step against a model: a blob named
//! by a stored live record is always downloadable, a change naming a blob the server
//! lacks is refused, and the server holds exactly the blobs uploaded and not swept since
//! no record named them. A failing case is saved by proptest (its seed in
//! `tests/blob_model.proptest-regressions`) and replayed first on later runs.

#[macro_use]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use cairn_protocol::api::{MissingBlobs, PushResponse};
use proptest::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{note, Backend, TestApp};
use tower::ServiceExt;

const BLOBS: u8 = 4;
const NOTES: u8 = 3;

#[derive(Debug, Clone)]
enum Op {
    Upload(u8),
    /// The note's new version names these blobs.
    Name(u8, Vec<u8>),
    Delete(u8),
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..BLOBS).prop_map(Op::Upload),
        4 => (0..NOTES, proptest::collection::vec(0..BLOBS, 0..3))
            .prop_map(|(n, blobs)| Op::Name(n, blobs)),
        1 => (0..NOTES).prop_map(Op::Delete),
        2 => Just(Op::Sweep),
    ]
}

fn data(blob: u8) -> Vec<u8> {
    vec![blob; 64 + usize::from(blob)]
}

fn hash(blob: u8) -> String {
    format!("{:x}", Sha256::digest(data(blob)))
}

async fn status_of(app: &TestApp, request: Request<Body>) -> StatusCode {
    app.router.clone().oneshot(request).await.unwrap().status()
}

async fn run(backend: Backend, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let app = TestApp::new(&backend).await;
    let token = app.register("model@example.org").await;
    let auth = format!("Bearer {token}");
    // The model: the blobs the server holds, and what each live note names.
    let mut held: BTreeSet<u8> = BTreeSet::new();
    let mut notes: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
    let mut wall = support::now();
    for (step, op) in ops.iter().enumerate() {
        wall += 1;
        match op {
            Op::Upload(blob) => {
                let req = Request::put(format!("/api/v1/blobs/{}", hash(*blob)))
                    .header(header::AUTHORIZATION, &auth)
                    .header(header::CONTENT_TYPE, "image/png")
                    .body(Body::from(data(*blob)))
                    .unwrap();
                let expected = if held.contains(blob) {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                };
                prop_assert_eq!(status_of(&app, req).await, expected, "step {}", step);
                held.insert(*blob);
            }
            Op::Name(n, blobs) => {
                let hashes: Vec<String> = blobs.iter().map(|b| hash(*b)).collect();
                let change = note(
                    &format!("n{n}"),
                    json!({"title": "x", "blobs": hashes}),
                    wall,
                    "dev1",
                );
                let reply: PushResponse = app
                    .push_partial_reply(&token, &[change])
                    .await
                    .expect(StatusCode::OK);
                if blobs.iter().all(|b| held.contains(b)) {
                    prop_assert_eq!(reply.applied, 1, "step {}: {:?}", step, reply.refused);
                    notes.insert(*n, blobs.clone());
                } else {
                    prop_assert_eq!(reply.applied, 0, "step {}", step);
                    prop_assert_eq!(&reply.refused[0].error, "blob_missing");
                }
            }
            Op::Delete(n) => {
                let mut tombstone = note(&format!("n{n}"), serde_json::Value::Null, wall, "dev1");
                tombstone.deleted = true;
                let reply = app.push(&token, &[tombstone]).await;
                prop_assert_eq!(reply.applied, 1);
                notes.remove(n);
            }
            Op::Sweep => {
                app.db.sweep_blobs(i64::MAX).await.unwrap();
                let named: BTreeSet<u8> = notes.values().flatten().copied().collect();
                held.retain(|b| named.contains(b));
            }
        }
        // Every blob a live stored record names downloads.
        for record in app.pull_all(&token).await.iter().filter(|r| !r.deleted) {
            for h in cairn_protocol::blobs::referenced(&record.value) {
                let req = Request::get(format!("/api/v1/blobs/{h}"))
                    .header(header::AUTHORIZATION, &auth)
                    .body(Body::empty())
                    .unwrap();
                prop_assert_eq!(
                    status_of(&app, req).await,
                    StatusCode::OK,
                    "step {}: {}/{} names {}",
                    step,
                    record.collection,
                    record.id,
                    h
                );
            }
        }
        // The server holds exactly the model's blobs.
        let all: Vec<String> = (0..BLOBS).map(hash).collect();
        let missing: MissingBlobs = app
            .call(
                Method::POST,
                "/api/v1/blobs/missing",
                Some(&token),
                Some(&json!({ "hashes": all })),
            )
            .await
            .expect(StatusCode::OK);
        let expected: Vec<String> = (0..BLOBS).filter(|b| !held.contains(b)).map(hash).collect();
        prop_assert_eq!(missing.missing, expected, "step {}", step);
    }
    Ok(())
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn sqlite_a_named_blob_is_always_downloadable(ops in proptest::collection::vec(op(), 1..25)) {
        block_on(run(Backend::Sqlite, ops))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn postgres_a_named_blob_is_always_downloadable(ops in proptest::collection::vec(op(), 1..25)) {
        if let Some(backend) = Backend::postgres() {
            block_on(run(backend, ops))?;
        }
    }
}
