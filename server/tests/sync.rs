//! Accounts, sessions, push and pull as a black box, against SQLite and PostgreSQL: every
//! case below runs once per backend (`sqlite::<case>` and `postgres::<case>`).

#[macro_use]
mod support;

use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use cairn_protocol::api::{EndedSessions, SessionInfo};
use cairn_protocol::api::{PushResponse, RefusedChange, Session};
use cairn_protocol::limits::{
    MAX_CHANGES_PER_PUSH, MAX_PULL_LIMIT, MAX_PUSH_BYTES, MAX_RECORD_BYTES,
};
use cairn_protocol::{Record, RecordKey};
use cairn_server::db::{NewSession, Pool};
use cairn_server::rate_limit::RateLimit;
use cairn_server::{Database, Settings};
use serde_json::json;
use support::{note, now, test_settings, Backend, RawPool, TestApp, PASSWORD};

on_both_backends!(
    registration_signs_in_and_the_token_works,
    emails_are_normalised_and_taken_only_once,
    malformed_credentials_are_refused_at_registration,
    log_in_works_and_failures_are_indistinguishable,
    log_out_invalidates_the_token,
    missing_and_unknown_tokens_are_unauthorized,
    expired_tokens_are_unauthorized,
    push_then_pull_round_trips,
    an_empty_push_is_fine,
    retried_pushes_change_nothing,
    newer_versions_win_and_losers_get_the_winner,
    tombstones_follow_the_merge_rule,
    a_change_made_from_a_replaced_version_is_handed_back_not_stored,
    pushes_without_a_protocol_version_are_refused_and_store_nothing,
    a_key_pushed_twice_in_one_push_keeps_the_newer,
    accounts_are_isolated,
    an_invalid_change_stores_nothing,
    every_push_limit_is_enforced,
    oversized_bodies_are_413,
    malformed_requests_are_400,
    pull_pages_in_server_order,
    pull_after_a_cursor_returns_only_newer_versions,
    concurrent_pushes_of_one_account_take_turns,
    per_account_rate_limit,
    per_address_rate_limit_on_sign_in,
    migrations_are_idempotent,
    every_reply_carries_the_epoch_and_the_server_time,
    the_epoch_outlives_restarts_and_each_database_has_its_own,
    servers_starting_at_once_agree_on_the_epoch,
    a_new_epoch_replaces_the_old_for_good,
    the_server_takes_a_new_epoch_by_flag_or_environment,
    pull_pages_carry_the_accounts_head,
    pull_pages_say_how_many_records_remain,
    a_cursor_past_the_head_shows_a_restored_database,
    a_partial_push_applies_the_valid_changes_and_refuses_the_others,
    a_partial_push_refuses_changes_dated_too_far_ahead,
    a_partial_push_still_fails_as_a_whole_for_request_limits,
    pull_pages_of_large_records_stay_within_the_byte_budget,
    failed_log_ins_are_limited_per_account_from_any_address,
    behind_a_trusted_proxy_clients_are_told_apart_by_forwarded_for,
    ipv6_clients_are_limited_by_their_slash_64,
    one_noisy_account_does_not_starve_the_others,
    two_instances_on_one_database_serve_one_accounts_devices,
    sessions_are_listed_with_the_current_one_marked,
    last_used_at_moves_when_a_session_is_used,
    last_used_at_is_written_at_most_once_a_minute,
    ending_the_other_sessions_keeps_only_the_current_one,
    one_session_ends_by_its_id_and_only_the_accounts_own,
    sessions_beyond_the_cap_end_least_recently_used_first,
    expired_sessions_are_purged_in_batches,
    the_server_purges_expired_sessions_on_a_timer,
    sessions_from_before_the_session_list_are_listed,
);

async fn registration_signs_in_and_the_token_works(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let before = now();
    let session: Session = app
        .register_reply("alice@example.org", PASSWORD)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(session.token.len(), 43, "256 bits of base64url");
    let thirty_days = 30 * 24 * 60 * 60 * 1000;
    assert!(session.expires_at >= before + thirty_days);
    assert!(session.expires_at <= now() + thirty_days);
    let page = app.pull(&session.token, 0, 10).await;
    assert!(page.records.is_empty());
    assert_eq!((page.cursor, page.more), (0, false));
}

async fn emails_are_normalised_and_taken_only_once(backend: Backend) {
    let app = TestApp::new(&backend).await;
    app.register(" Alice@Example.ORG ").await;
    app.register_reply("alice@example.org", "another password")
        .await
        .expect_error(StatusCode::CONFLICT, "email_taken");
    let session: Session = app
        .log_in_reply("ALICE@example.org", PASSWORD)
        .await
        .expect(StatusCode::OK);
    assert_eq!(session.token.len(), 43);
}

async fn malformed_credentials_are_refused_at_registration(backend: Backend) {
    let app = TestApp::new(&backend).await;
    for (email, password) in [
        ("not-an-address", PASSWORD),
        ("a@b", PASSWORD),
        ("alice@example.org", "short"),
        ("alice@example.org", &"x".repeat(1025)),
    ] {
        app.register_reply(email, password).await.expect_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_credentials_format",
        );
    }
    // Nothing was created: the address is still free.
    app.register("alice@example.org").await;
}

async fn log_in_works_and_failures_are_indistinguishable(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let first = app.register("alice@example.org").await;
    let session: Session = app
        .log_in_reply("alice@example.org", PASSWORD)
        .await
        .expect(StatusCode::OK);
    assert_ne!(session.token, first, "every log-in gets a new token");
    app.pull(&session.token, 0, 1).await;
    app.pull(&first, 0, 1).await;

    let wrong_password = app
        .log_in_reply("alice@example.org", "wrong password")
        .await;
    let unknown = app.log_in_reply("bob@example.org", PASSWORD).await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.json, unknown.json, "same answer for both");
    wrong_password.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    // Log-in does not apply registration's format rules: just a wrong password.
    app.log_in_reply("alice@example.org", "x")
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

async fn log_out_invalidates_the_token(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let other: Session = app
        .log_in_reply("alice@example.org", PASSWORD)
        .await
        .expect(StatusCode::OK);
    let reply = app
        .call(
            Method::DELETE,
            "/api/v1/sessions/current",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    app.pull_reply(&token, "")
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.call(
        Method::DELETE,
        "/api/v1/sessions/current",
        Some(&token),
        None,
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    // Only that session ended.
    app.pull(&other.token, 0, 1).await;
}

async fn missing_and_unknown_tokens_are_unauthorized(backend: Backend) {
    let app = TestApp::new(&backend).await;
    app.register("alice@example.org").await;
    for auth in [
        None,
        Some("Bearer "),
        Some("Bearer nope"),
        Some("Basic YTpi"),
    ] {
        let mut req = Request::get("/api/v1/sync/pull");
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let reply = app.send(req.body(Body::empty()).unwrap()).await;
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
        reply.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    app.push_reply("nope", &[note("n", json!(1), now(), "d")])
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn expired_tokens_are_unauthorized(backend: Backend) {
    let settings = Settings {
        session_ttl: Duration::ZERO,
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let token = app.register("alice@example.org").await;
    app.pull_reply(&token, "")
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn push_then_pull_round_trips(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let mut changes = vec![
        note(
            "n1",
            json!({"title": "hello", "tags": ["a", "b"], "n": 1.5}),
            t,
            "dev1",
        ),
        note("n2", json!("just a string"), t + 1, "dev1"),
        Record::new(
            RecordKey::new("ui_prefs", "théme 1"),
            json!(null),
            super_hlc(t),
        ),
    ];
    changes.push(Record::tombstone(
        RecordKey::new("notes", "gone"),
        support::hlc(t, "dev2"),
    ));
    let reply = app.push(&token, &changes).await;
    assert_eq!(
        reply,
        PushResponse {
            applied: 4,
            duplicates: 0,
            superseded: vec![],
            seq_before: 0,
            seq_after: 4,
            refused: vec![],
            server: reply.server.clone(),
        }
    );
    let page = app.pull(&token, 0, 100).await;
    assert_eq!(page.records, changes, "same records, in push order");
    assert_eq!((page.cursor, page.more), (4, false));
}

fn super_hlc(t: u64) -> cairn_protocol::Hlc {
    support::hlc(t, "dev3")
}

async fn an_empty_push_is_fine(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let reply = app.push(&token, &[]).await;
    assert_eq!((reply.applied, reply.duplicates), (0, 0));
    assert!(reply.superseded.is_empty());
    assert_eq!((reply.seq_before, reply.seq_after), (0, 0));
    // Once the account has versions, an empty push answers its current number.
    let t = now();
    let changes: Vec<_> = (0..3)
        .map(|i| note(&format!("n{i}"), json!(i), t, "d"))
        .collect();
    assert_eq!(app.push(&token, &changes).await.seq_after, 3);
    let reply = app.push(&token, &[]).await;
    assert_eq!((reply.seq_before, reply.seq_after), (3, 3));
    assert_eq!(reply.applied, 0);
}

async fn retried_pushes_change_nothing(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let changes: Vec<_> = (0..5)
        .map(|i| note(&format!("n{i}"), json!(i), t + i, "dev1"))
        .collect();
    assert_eq!(app.push(&token, &changes).await.applied, 5);
    let first = app.pull(&token, 0, 100).await;
    let again = app.push(&token, &changes).await;
    assert_eq!(
        again,
        PushResponse {
            applied: 0,
            duplicates: 5,
            superseded: vec![],
            seq_before: 5,
            seq_after: 5,
            refused: vec![],
            server: again.server.clone(),
        }
    );
    let second = app.pull(&token, 0, 100).await;
    assert_eq!(
        (first.records, first.cursor, first.head),
        (second.records, second.cursor, second.head),
        "no new versions, no new sequence numbers"
    );
    assert_eq!(second.cursor, 5);
}

async fn newer_versions_win_and_losers_get_the_winner(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let v2 = note("n1", json!("v2"), t, "laptop");
    let v1 = note("n1", json!("v1"), t - 1000, "phone");
    let v3 = note("n1", json!("v3"), t + 1, "phone");
    assert_eq!(app.push(&token, std::slice::from_ref(&v2)).await.applied, 1);
    let lost = app
        .push(&token, &[v1, note("n2", json!(2), t, "phone")])
        .await;
    assert_eq!(
        lost,
        PushResponse {
            applied: 1,
            duplicates: 0,
            superseded: vec![v2.clone()],
            seq_before: 1,
            seq_after: 2,
            refused: vec![],
            server: lost.server.clone(),
        }
    );
    assert_eq!(app.push(&token, std::slice::from_ref(&v3)).await.applied, 1);
    let all = app.pull_all(&token).await;
    assert_eq!(all.len(), 2, "one version per record: {all:?}");
    assert_eq!(all[0].id, "n2");
    assert_eq!(
        all[1], v3,
        "the newest version, moved to the end of server order"
    );
}

async fn tombstones_follow_the_merge_rule(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let write = note("n1", json!("text"), t, "a");
    let delete = Record::tombstone(write.key(), support::hlc(t + 1, "b"));
    app.push(&token, std::slice::from_ref(&write)).await;
    app.push(&token, std::slice::from_ref(&delete)).await;
    let stale = app
        .push(&token, &[note("n1", json!("old"), t - 1, "c")])
        .await;
    assert_eq!(stale.superseded, vec![delete.clone()]);
    assert_eq!(app.pull_all(&token).await, vec![delete]);
    let revived = note("n1", json!("back"), t + 2, "a");
    app.push(&token, std::slice::from_ref(&revived)).await;
    assert_eq!(app.pull_all(&token).await, vec![revived]);
}

async fn a_key_pushed_twice_in_one_push_keeps_the_newer(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let old = note("n1", json!("old"), t, "a");
    let new = note("n1", json!("new"), t + 1, "a");
    let reply = app.push(&token, &[new.clone(), old]).await;
    assert_eq!(reply.applied, 1);
    assert_eq!(reply.superseded, vec![new.clone()]);
    assert_eq!(app.pull_all(&token).await, vec![new]);
}

async fn accounts_are_isolated(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let bob = app.register("bob@example.org").await;
    let t = now();
    let alices = vec![
        note("n1", json!("alice's"), t, "a"),
        note("n2", json!("alice's too"), t, "a"),
    ];
    app.push(&alice, &alices).await;

    // Bob sends Alice's ids: older, equal and newer clocks. Each is new to Bob's account.
    let bobs = vec![
        note("n1", json!("bob's"), t - 1, "b"),
        alices[1].clone(),
        note("n3", json!("bob's"), t + 1, "b"),
    ];
    let reply = app.push(&bob, &bobs).await;
    assert_eq!(
        reply,
        PushResponse {
            applied: 3,
            duplicates: 0,
            superseded: vec![],
            seq_before: 0,
            seq_after: 3,
            refused: vec![],
            server: reply.server.clone(),
        }
    );
    assert_eq!(app.pull_all(&bob).await, bobs, "Bob sees only his own");
    assert_eq!(app.pull_all(&alice).await, alices, "Alice's are untouched");

    // A newer version from Bob changes Bob's record only.
    app.push(&bob, &[note("n2", json!("bob's newer"), t + 5, "b")])
        .await;
    assert_eq!(app.pull_all(&alice).await, alices);
    // Cursors are per account: Bob's cursor past Alice's numbers shows nothing of hers.
    assert!(app.pull(&alice, 2, 100).await.records.is_empty());
}

async fn an_invalid_change_stores_nothing(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let mut bad = note("n2", json!(1), t, "a");
    bad.collection = "Bad Name".into();
    let message = app
        .push_reply(&token, &[note("n1", json!(1), t, "a"), bad])
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_change");
    assert!(message.contains("Bad Name"), "{message}");
    assert!(app.pull_all(&token).await.is_empty(), "nothing stored");
}

async fn every_push_limit_is_enforced(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let too_many: Vec<_> = (0..=MAX_CHANGES_PER_PUSH)
        .map(|i| note(&format!("n{i}"), json!(i), t, "a"))
        .collect();
    let mut empty_id = note("x", json!(1), t, "a");
    empty_id.id = String::new();
    let mut tombstone_with_value = note("x", json!(1), t, "a");
    tombstone_with_value.deleted = true;
    let future = note("x", json!(1), t + 2 * 24 * 60 * 60 * 1000, "a");
    let oversized = note("big", json!("x".repeat(MAX_RECORD_BYTES)), t, "a");
    for (what, changes) in [
        ("too many changes", too_many),
        ("empty id", vec![empty_id]),
        ("tombstone with a value", vec![tombstone_with_value]),
        ("from the future", vec![future]),
        ("oversized record", vec![oversized]),
    ] {
        let reply = app.push_reply(&token, &changes).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_change");
    }
    assert!(app.pull_all(&token).await.is_empty(), "nothing stored");
    // At the limits exactly, all is well.
    let at_limit = note("big", json!("x".repeat(MAX_RECORD_BYTES - 2)), t, "a");
    assert_eq!(app.push(&token, &[at_limit]).await.applied, 1);
}

async fn oversized_bodies_are_413(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    // 17 records of 255 KiB each: every record within its limit, the body over 4 MiB.
    let changes: Vec<_> = (0..17)
        .map(|i| note(&format!("n{i}"), json!("x".repeat(255 * 1024)), t, "a"))
        .collect();
    let body =
        serde_json::to_vec(&json!({"protocol": 2, "device_id": "d", "changes": changes})).unwrap();
    assert!(body.len() > MAX_PUSH_BYTES);
    let req = Request::post("/api/v1/sync/push")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    app.send(req)
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(app.pull_all(&token).await.is_empty());
}

async fn malformed_requests_are_400(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let post = |body: &'static str, content_type: &'static str| {
        Request::post("/api/v1/sync/push")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    };
    for req in [
        post("{not json", "application/json"),
        post(r#"{"protocol": 2, "device_id": "d"}"#, "application/json"),
        post(
            r#"{"protocol": 2, "device_id": "NOT VALID", "changes": []}"#,
            "application/json",
        ),
        post(
            r#"{"protocol": 2, "device_id": "d", "changes": [{"collection": "notes", "id": "n", "value": 1, "hlc": "yesterday"}]}"#,
            "application/json",
        ),
        post(
            r#"{"protocol": 2, "device_id": "d", "changes": []}"#,
            "text/plain",
        ),
    ] {
        app.send(req)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    for query in ["?since=abc", "?limit=-1", "?since=-5"] {
        app.pull_reply(&token, query)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let req = Request::post("/api/v1/accounts")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"email": "a@example.org"}"#))
        .unwrap();
    app.send(req)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");
}

async fn pull_pages_in_server_order(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let mut pushed = Vec::new();
    for batch in 0..3 {
        let changes: Vec<_> = (0..9)
            .map(|i| note(&format!("b{batch}-{i}"), json!([batch, i]), t, "a"))
            .collect();
        app.push(&token, &changes).await;
        pushed.extend(changes);
    }
    let (mut since, mut pages, mut seen) = (0, 0, Vec::new());
    loop {
        let page = app.pull(&token, since, 10).await;
        pages += 1;
        assert!(page.records.len() <= 10);
        assert_eq!(page.cursor, since + page.records.len() as u64);
        seen.extend(page.records);
        since = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, pushed, "every version once, in server order");
    let past_the_end = app.pull(&token, since, 10).await;
    assert!(past_the_end.records.is_empty());
    assert_eq!((past_the_end.cursor, past_the_end.more), (since, false));

    // limit=0 is clamped to 1; an absent limit and a huge one to their defaults.
    let one = app.pull(&token, 0, 0).await;
    assert_eq!((one.records.len(), one.more, one.cursor), (1, true, 1));
    let default: cairn_protocol::api::PullResponse =
        app.pull_reply(&token, "").await.expect(StatusCode::OK);
    assert_eq!(default.records.len(), 27);
    let huge = app.pull(&token, 0, MAX_PULL_LIMIT * 10).await;
    assert_eq!(huge.records.len(), 27);
}

async fn pull_after_a_cursor_returns_only_newer_versions(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    app.push(
        &token,
        &[note("a", json!(1), t, "d"), note("b", json!(1), t, "d")],
    )
    .await;
    let cursor = app.pull(&token, 0, 100).await.cursor;
    let a2 = note("a", json!(2), t + 1, "d");
    let c1 = note("c", json!(1), t, "d");
    app.push(&token, &[a2.clone(), c1.clone()]).await;
    let page = app.pull(&token, cursor, 100).await;
    assert_eq!(page.records, vec![a2, c1]);
    assert_eq!(page.cursor, cursor + 2);
}

async fn concurrent_pushes_of_one_account_take_turns(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::new(&backend).await);
    let token = app.register("alice@example.org").await;
    let t = now();
    let pushes: Vec<_> = (0..8)
        .map(|p| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let changes: Vec<_> = (0..20)
                    .map(|i| note(&format!("p{p}-{i}"), json!(i), t, "d"))
                    // and one contended key, newer in each later push
                    .chain([note("shared", json!(p), t + p, "d")])
                    .collect();
                app.push(&token, &changes).await
            })
        })
        .collect();
    let mut applied = 0;
    for push in pushes {
        let reply = push.await.unwrap();
        assert!(reply.applied >= 20);
        applied += u64::from(reply.applied);
    }
    let all = app.pull_all(&token).await;
    assert_eq!(all.len(), 8 * 20 + 1);
    let shared = all.iter().find(|r| r.id == "shared").unwrap();
    assert_eq!(shared.value, json!(7), "the newest clock won");
    // Every stored version took the next number: the numbers are dense, so the last
    // one equals the count of versions stored.
    assert_eq!(app.pull(&token, 0, 1000).await.cursor, applied);
}

async fn per_account_rate_limit(backend: Backend) {
    let settings = Settings {
        user_rate: RateLimit {
            per_minute: 1,
            burst: 2,
        },
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let alice = app.register("alice@example.org").await;
    let bob = app.register("bob@example.org").await;
    app.pull(&alice, 0, 1).await;
    app.pull(&alice, 0, 1).await;
    let reply = app.pull_reply(&alice, "").await;
    let retry_after: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    app.push_reply(&alice, &[])
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Other accounts have their own budget.
    app.pull(&bob, 0, 1).await;
}

async fn per_address_rate_limit_on_sign_in(backend: Backend) {
    let settings = Settings {
        auth_rate: RateLimit {
            per_minute: 1,
            burst: 2,
        },
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let from = |ip: [u8; 4], path: &str, email: &str| {
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"email": email, "password": PASSWORD}).to_string(),
            ))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((ip, 40000))));
        req
    };
    let a = [10, 0, 0, 1];
    assert_eq!(
        app.send(from(a, "/api/v1/accounts", "alice@example.org"))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.send(from(a, "/api/v1/sessions", "alice@example.org"))
            .await
            .status,
        StatusCode::OK
    );
    let reply = app
        .send(from(a, "/api/v1/sessions", "alice@example.org"))
        .await;
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    app.send(from(a, "/api/v1/accounts", "bob@example.org"))
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Another address is not affected.
    assert_eq!(
        app.send(from([10, 0, 0, 2], "/api/v1/sessions", "alice@example.org"))
            .await
            .status,
        StatusCode::OK
    );
}

async fn migrations_are_idempotent(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    app.push(&token, &[note("n1", json!(1), now(), "d")]).await;
    // Start again on the same database, twice: nothing to apply, nothing lost.
    for _ in 0..2 {
        let db = Database::connect(&app.url).await.unwrap();
        assert_eq!(db.migrate().await.unwrap(), 0);
        db.close().await;
    }
    assert_eq!(app.pull_all(&token).await.len(), 1);
    let session: Session = app
        .log_in_reply("alice@example.org", PASSWORD)
        .await
        .expect(StatusCode::OK);
    assert_eq!(app.pull_all(&session.token).await.len(), 1);
}

async fn every_reply_carries_the_epoch_and_the_server_time(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let epoch = app.db.epoch().to_owned();
    assert_eq!(epoch.len(), 32, "128 bits in hex: {epoch}");
    assert!(
        epoch
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
        "{epoch}"
    );
    // The support helpers check each reply's clock: this epoch, a time between the
    // request and its answer.
    let pushed = app.push(&token, &[note("n1", json!(1), now(), "d")]).await;
    let empty = app.push(&token, &[]).await;
    let page = app.pull(&token, 0, 10).await;
    let past_the_end = app.pull(&token, page.cursor, 10).await;
    for clock in [
        &pushed.server,
        &empty.server,
        &page.server,
        &past_the_end.server,
    ] {
        assert_eq!(clock.epoch, epoch);
    }
    // On the wire, flat in the reply.
    let raw = app.pull_reply(&token, "").await.json;
    assert_eq!(raw["epoch"], epoch.as_str());
    assert!(raw["server_time_ms"].as_u64().unwrap().abs_diff(now()) < 60_000);
    let raw = app.push_reply(&token, &[]).await.json;
    assert_eq!(raw["epoch"], epoch.as_str());
    assert!(raw["server_time_ms"].as_u64().unwrap().abs_diff(now()) < 60_000);
    assert_eq!(raw["refused"], json!([]));
}

async fn the_epoch_outlives_restarts_and_each_database_has_its_own(backend: Backend) {
    let mut app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let epoch = app.pull(&token, 0, 1).await.server.epoch;
    for _ in 0..2 {
        app.restart().await;
        assert_eq!(app.db.epoch(), epoch);
        assert_eq!(app.pull(&token, 0, 1).await.server.epoch, epoch);
    }
    let other = TestApp::new(&backend).await;
    assert_ne!(
        other.db.epoch(),
        epoch,
        "a fresh database has an epoch of its own"
    );
}

async fn servers_starting_at_once_agree_on_the_epoch(backend: Backend) {
    let (url, _dir) = backend.fresh_database().await;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Database::connect(&url).await.unwrap() })
        })
        .collect();
    let mut epochs = Vec::new();
    for start in starts {
        let db = start.await.unwrap();
        epochs.push(db.epoch().to_owned());
        db.close().await;
    }
    assert!(epochs.iter().all(|e| *e == epochs[0]), "{epochs:?}");
    let db = Database::connect(&url).await.unwrap();
    assert_eq!(db.epoch(), epochs[0], "the one stored");
    db.close().await;
}

async fn a_new_epoch_replaces_the_old_for_good(backend: Backend) {
    let mut app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    app.push(&token, &[note("n1", json!(1), now(), "d")]).await;
    let old = app.db.epoch().to_owned();
    app.stop().await;
    let mut db = Database::connect(&app.url).await.unwrap();
    assert_eq!(
        db.renew_epoch().await.unwrap(),
        old,
        "the epoch it replaced"
    );
    let new = db.epoch().to_owned();
    assert_ne!(new, old);
    assert_eq!(new.len(), 32);
    db.close().await;
    app.start().await;
    assert_eq!(app.db.epoch(), new, "stored, not just remembered");
    let page = app.pull(&token, 0, 10).await;
    assert_eq!(page.server.epoch, new);
    assert_eq!(page.records.len(), 1, "nothing else changed");
}

/// `cairn-server --new-epoch` and `CAIRN_NEW_EPOCH=1` replace the epoch at start (and
/// say so in the log); a plain start keeps it.
async fn the_server_takes_a_new_epoch_by_flag_or_environment(backend: Backend) {
    let (url, _dir) = backend.fresh_database().await;
    let epoch_now = || async {
        let db = Database::connect(&url).await.unwrap();
        let epoch = db.epoch().to_owned();
        db.close().await;
        epoch
    };
    let first = epoch_now().await;
    let (args, env): (&[&str], Option<&str>) = (&[], None);
    let log = run_server(&url, args, env);
    assert!(
        log.contains(&first),
        "the start is logged with its epoch: {log}"
    );
    assert_eq!(epoch_now().await, first, "a plain start keeps the epoch");
    let mut seen = vec![first];
    for (args, env) in [
        (&["--new-epoch"][..], None),
        (&[][..], Some("1")),
        (&[][..], Some("true")),
    ] {
        let log = run_server(&url, args, env);
        let epoch = epoch_now().await;
        assert!(!seen.contains(&epoch), "{args:?} {env:?}: epoch kept");
        assert!(log.contains("new epoch"), "{log}");
        assert!(
            log.contains(&epoch) && log.contains(seen.last().unwrap()),
            "{log}"
        );
        seen.push(epoch);
    }
    let log = run_server(&url, &[], Some("0"));
    assert!(!log.contains("new epoch"), "{log}");
    assert_eq!(&epoch_now().await, seen.last().unwrap());
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("--new-epoch") && help.contains("CAIRN_NEW_EPOCH"),
        "{help}"
    );
}

/// Starts the server binary on `url`, waits until it listens, stops it; its log.
fn run_server(url: &str, args: &[&str], new_epoch_env: Option<&str>) -> String {
    use std::io::{BufRead, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-server"));
    command
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", url])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--static-dir")
        .arg(dir.path())
        .args(args)
        .env("RUST_LOG", "info")
        .env("CAIRN_LOG_FORMAT", "json")
        .env_remove("CAIRN_NEW_EPOCH")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(value) = new_epoch_env {
        command.env("CAIRN_NEW_EPOCH", value);
    }
    let mut child = command.spawn().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        line.starts_with("Cairn is running at http://127.0.0.1:"),
        "{line}\n{log}"
    );
    log
}

async fn pull_pages_carry_the_accounts_head(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let bob = app.register("bob@example.org").await;
    let empty = app.pull(&alice, 0, 10).await;
    assert_eq!((empty.head, empty.cursor), (0, 0), "no records, head 0");
    let t = now();
    let changes: Vec<_> = (0..3)
        .map(|i| note(&format!("n{i}"), json!(i), t, "d"))
        .collect();
    app.push(&alice, &changes).await;
    let first = app.pull(&alice, 0, 1).await;
    assert_eq!((first.cursor, first.more, first.head), (1, true, 3));
    // A newer version takes the next number: the head follows it.
    let reply = app
        .push(&alice, &[note("n0", json!("new"), t + 1, "d")])
        .await;
    assert_eq!(reply.seq_after, 4);
    let rest = app.pull(&alice, first.cursor, 10).await;
    assert_eq!((rest.cursor, rest.more, rest.head), (4, false, 4));
    let past_the_end = app.pull(&alice, 4, 10).await;
    assert_eq!((past_the_end.cursor, past_the_end.head), (4, 4));
    // Heads are per account.
    app.push(&bob, &changes).await;
    app.push(&bob, &changes[..1]).await;
    assert_eq!(app.pull(&alice, 0, 10).await.head, 4);
    assert_eq!(app.pull(&bob, 0, 10).await.head, 3);
    // The head on the wire.
    assert_eq!(app.pull_reply(&alice, "?since=2").await.json["head"], 4);
}

async fn pull_pages_say_how_many_records_remain(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let bob = app.register("bob@example.org").await;
    let t = now();
    let changes: Vec<_> = (0..10)
        .map(|i| note(&format!("n{i}"), json!(i), t, "d"))
        .collect();
    app.push(&alice, &changes).await;
    app.push(&bob, &changes).await;
    let (mut since, mut seen) = (0, Vec::new());
    loop {
        let page = app.pull(&alice, since, 3).await;
        seen.push((page.records.len(), page.remaining, page.more));
        since = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(
        seen,
        [(3, 7, true), (3, 4, true), (3, 1, true), (1, 0, false)],
        "(records, remaining, more) of each page"
    );
    // Versions replaced by newer ones are counted once: records, not versions.
    app.push(&alice, &[note("n0", json!("new"), t + 1, "d")])
        .await;
    let page = app.pull(&alice, 0, 2).await;
    assert_eq!((page.cursor, page.remaining), (3, 8));
    // On the wire, and 0 on a last page.
    assert_eq!(
        app.pull_reply(&alice, "?since=0&limit=4").await.json["remaining"],
        6
    );
    assert_eq!(
        app.pull_reply(&alice, "?since=5").await.json["remaining"],
        0
    );
}

/// A database restored from an older copy has lost versions devices already pulled: a
/// pull with such a device's cursor shows `since > head`.
async fn a_cursor_past_the_head_shows_a_restored_database(backend: Backend) {
    let mut app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    app.push(
        &token,
        &[note("a", json!(1), t, "d"), note("b", json!(1), t, "d")],
    )
    .await;
    app.stop().await;
    let backup = app.backup().await;
    app.start().await;
    let more: Vec<_> = (0..3)
        .map(|i| note(&format!("c{i}"), json!(i), t, "d"))
        .collect();
    app.push(&token, &more).await;
    let device = app.pull(&token, 0, 100).await;
    assert_eq!((device.cursor, device.head), (5, 5));
    let epoch = device.server.epoch;

    app.stop().await;
    app.restore(backup).await;
    app.start().await;
    let page = app.pull(&token, device.cursor, 100).await;
    assert!(page.records.is_empty());
    assert_eq!(page.head, 2, "the restored copy's counter");
    assert!(
        device.cursor > page.head,
        "since > head: versions were lost"
    );
    assert_eq!(page.cursor, device.cursor);
    // The copy keeps its epoch until an operator gives it a new one; the head tells.
    assert_eq!(page.server.epoch, epoch);
    // Starting over: everything the copy holds, then the device pushes its versions back.
    let again = app.pull(&token, 0, 100).await;
    assert_eq!(again.records.len(), 2);
    let reply = app.push(&token, &more).await;
    assert_eq!(
        (reply.applied, reply.seq_before, reply.seq_after),
        (3, 2, 5)
    );
}

async fn a_partial_push_applies_the_valid_changes_and_refuses_the_others(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let valid = note("ok", json!("fine"), t, "d");
    let too_large = note("big", json!("x".repeat(MAX_RECORD_BYTES)), t, "d");
    let changes = vec![too_large.clone(), valid.clone()];

    // Without `partial` (older clients): the whole push is refused, nothing stored.
    let message = app
        .push_reply(&token, &changes)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_change");
    assert!(message.contains("notes/big"), "{message}");
    assert!(app.pull_all(&token).await.is_empty(), "nothing stored");
    let body = json!({"protocol": 2, "device_id": "d", "changes": changes, "partial": false});
    app.call(Method::POST, "/api/v1/sync/push", Some(&token), Some(&body))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_change");

    // With it: the valid one is stored, the other answered with its reason.
    let reply = app.push_partial(&token, &changes).await;
    assert_eq!(
        (
            reply.applied,
            reply.duplicates,
            reply.seq_before,
            reply.seq_after
        ),
        (1, 0, 0, 1)
    );
    assert_eq!(reply.refused.len(), 1, "{:?}", reply.refused);
    let refused = &reply.refused[0];
    assert_eq!(
        (&refused.collection[..], &refused.id[..], &refused.hlc),
        ("notes", "big", &too_large.hlc)
    );
    assert_eq!(refused.error, "invalid_change");
    assert!(
        refused.message.contains("notes/big") && refused.message.contains("bytes"),
        "{}",
        refused.message
    );
    assert_eq!(app.pull_all(&token).await, vec![valid.clone()]);

    // Changes too broken to be named are echoed as sent, in the order sent.
    let mut bad_collection = note("x", json!(1), t, "d");
    bad_collection.collection = "Bad Name".into();
    let mut empty_id = note("", json!(1), t, "d");
    empty_id.id = String::new();
    let mut tombstone_with_value = note("t", json!(1), t, "d");
    tombstone_with_value.deleted = true;
    let newer = note("ok", json!("newer"), t + 1, "d");
    let reply = app
        .push_partial(
            &token,
            &[
                bad_collection.clone(),
                valid.clone(),
                empty_id.clone(),
                newer.clone(),
                tombstone_with_value.clone(),
            ],
        )
        .await;
    let named = |r: &Record| (r.collection.clone(), r.id.clone(), r.hlc.clone());
    assert_eq!(
        reply
            .refused
            .iter()
            .map(|r| (r.collection.clone(), r.id.clone(), r.hlc.clone()))
            .collect::<Vec<_>>(),
        [
            named(&bad_collection),
            named(&empty_id),
            named(&tombstone_with_value)
        ]
    );
    assert!(reply.refused[0].message.contains("Bad Name"));
    assert!(reply.refused.iter().all(|r| r.error == "invalid_change"));
    assert_eq!(
        (
            reply.applied,
            reply.duplicates,
            reply.seq_before,
            reply.seq_after
        ),
        (1, 1, 1, 2),
        "the valid ones merged as usual"
    );
    assert_eq!(app.pull_all(&token).await, vec![newer]);

    // A partial push that is all refused stores nothing and answers the current number.
    let reply = app.push_partial(&token, &[too_large]).await;
    assert_eq!(
        (reply.applied, reply.seq_before, reply.seq_after),
        (0, 2, 2)
    );
    assert_eq!(reply.refused.len(), 1);

    // A partial push within every limit is an ordinary push.
    let reply = app
        .push_partial(&token, &[note("n9", json!(9), t, "d")])
        .await;
    assert_eq!(
        (reply.applied, reply.refused),
        (1, Vec::<RefusedChange>::new())
    );
}

async fn a_partial_push_refuses_changes_dated_too_far_ahead(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let day = 24 * 60 * 60 * 1000;
    let ahead = note("ahead", json!(1), t + day + 60_000, "fastclock");
    let within = note("within", json!(1), t + day - 60_000, "fastclock");
    let reply = app
        .push_partial(&token, &[ahead.clone(), within.clone()])
        .await;
    assert_eq!(reply.applied, 1);
    assert_eq!(reply.refused.len(), 1);
    let refused = &reply.refused[0];
    assert_eq!((&refused.id[..], &refused.hlc), ("ahead", &ahead.hlc));
    assert!(
        refused.message.contains("in the future"),
        "{}",
        refused.message
    );
    assert!(
        reply.server.server_time_ms + day < ahead.hlc.wall_ms(),
        "the server's clock shows how far ahead the device is"
    );
    assert_eq!(app.pull_all(&token).await, vec![within]);
}

async fn a_partial_push_still_fails_as_a_whole_for_request_limits(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let too_many: Vec<_> = (0..=MAX_CHANGES_PER_PUSH)
        .map(|i| note(&format!("n{i}"), json!(i), t, "a"))
        .collect();
    app.push_partial_reply(&token, &too_many)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_change");
    let changes: Vec<_> = (0..17)
        .map(|i| note(&format!("n{i}"), json!("x".repeat(255 * 1024)), t, "a"))
        .collect();
    app.push_partial_reply(&token, &changes)
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(app.pull_all(&token).await.is_empty(), "nothing stored");
}

/// 42 records of 250 KiB (about 10 MiB) asked for in pages of 1000: each page carries at
/// most `PULL_PAGE_BYTES` of records, says `more` until the last, and every record
/// arrives once, in server order, however many devices pull at once.
async fn pull_pages_of_large_records_stay_within_the_byte_budget(backend: Backend) {
    use cairn_server::db::PULL_PAGE_BYTES;
    let app = std::sync::Arc::new(TestApp::new(&backend).await);
    let token = app.register("alice@example.org").await;
    let t = now();
    let mut pushed = Vec::new();
    for batch in 0..3 {
        let changes: Vec<_> = (0..14)
            .map(|i| {
                let fill = char::from(b'a' + i as u8).to_string().repeat(250 * 1024);
                note(&format!("b{batch}-{i}"), json!(fill), t, "d")
            })
            .collect();
        app.push(&token, &changes).await;
        pushed.extend(changes);
    }
    let record_bytes = |r: &Record| {
        serde_json::to_string(&r.value).unwrap().len()
            + r.collection.len()
            + r.id.len()
            + r.hlc.to_string().len()
    };
    let pulls: Vec<_> = (0..4)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let (mut since, mut pages) = (0, Vec::new());
                loop {
                    let page = app.pull(&token, since, 1000).await;
                    since = page.cursor;
                    let more = page.more;
                    pages.push(page);
                    if !more {
                        return pages;
                    }
                }
            })
        })
        .collect();
    for pull in pulls {
        let pages = pull.await.unwrap();
        assert!(pages.len() >= 3, "{} pages", pages.len());
        let mut seen = Vec::new();
        for (n, page) in pages.iter().enumerate() {
            let bytes: usize = page.records.iter().map(record_bytes).sum();
            assert!(bytes <= PULL_PAGE_BYTES, "page {n}: {bytes} bytes");
            assert!(!page.records.is_empty(), "page {n} is empty");
            assert_eq!(page.more, n + 1 < pages.len(), "page {n}");
            assert_eq!(page.head, 42);
            seen.extend(page.records.iter().cloned());
        }
        assert_eq!(seen, pushed, "every record once, in server order");
    }
}

/// A log-in request from `ip` (the TCP peer), with an optional `X-Forwarded-For`.
fn log_in_from(
    ip: std::net::IpAddr,
    forwarded_for: Option<&str>,
    email: &str,
    password: &str,
) -> Request<Body> {
    let mut req =
        Request::post("/api/v1/sessions").header(header::CONTENT_TYPE, "application/json");
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    let mut req = req
        .body(Body::from(
            json!({"email": email, "password": password}).to_string(),
        ))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::new(ip, 40000)));
    req
}

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

async fn failed_log_ins_are_limited_per_account_from_any_address(backend: Backend) {
    let settings = Settings {
        login_failure_rate: RateLimit {
            per_minute: 1,
            burst: 2,
        },
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    app.register("alice@example.org").await;
    app.register("bob@example.org").await;
    // Successful log-ins cost nothing.
    for n in 0..4 {
        let req = log_in_from(
            ip(&format!("192.0.2.{n}")),
            None,
            "alice@example.org",
            PASSWORD,
        );
        app.send(req).await.expect::<Session>(StatusCode::OK);
    }
    // Two wrong guesses, each from another address: both answered.
    for n in 10..12 {
        let req = log_in_from(
            ip(&format!("192.0.2.{n}")),
            None,
            "alice@example.org",
            "guess",
        );
        app.send(req)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // The third, from yet another address, is refused before the password is checked,
    // even the right one, with the wait in Retry-After.
    for password in ["guess", PASSWORD] {
        let reply = app
            .send(log_in_from(
                ip("198.51.100.7"),
                None,
                " Alice@Example.org",
                password,
            ))
            .await;
        let retry_after: u64 = reply.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    }
    // Unknown addresses are limited the same way, so the limit tells nothing.
    for _ in 0..2 {
        app.send(log_in_from(
            ip("192.0.2.1"),
            None,
            "nobody@example.org",
            "guess",
        ))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    app.send(log_in_from(
        ip("192.0.2.1"),
        None,
        "nobody@example.org",
        "guess",
    ))
    .await
    .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Other accounts are not affected.
    app.send(log_in_from(
        ip("198.51.100.7"),
        None,
        "bob@example.org",
        PASSWORD,
    ))
    .await
    .expect::<Session>(StatusCode::OK);
}

async fn behind_a_trusted_proxy_clients_are_told_apart_by_forwarded_for(backend: Backend) {
    let one_each = RateLimit {
        per_minute: 1,
        burst: 1,
    };
    let proxy = ip("10.0.0.2");
    // Not configured: X-Forwarded-For is ignored, every client behind the proxy is the
    // proxy (so a forged header cannot buy a fresh budget).
    let app = TestApp::with_settings(
        &backend,
        Settings {
            auth_rate: one_each,
            ..test_settings()
        },
    )
    .await;
    app.register("alice@example.org").await;
    let first = app
        .send(log_in_from(
            proxy,
            Some("198.51.100.1"),
            "alice@example.org",
            PASSWORD,
        ))
        .await;
    assert_eq!(first.status, StatusCode::OK);
    app.send(log_in_from(
        proxy,
        Some("198.51.100.2"),
        "alice@example.org",
        PASSWORD,
    ))
    .await
    .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");

    // Configured: each client has its own budget, keyed by the right-most untrusted hop.
    let app = TestApp::with_settings(
        &backend,
        Settings {
            auth_rate: one_each,
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..test_settings()
        },
    )
    .await;
    app.register_reply("alice@example.org", PASSWORD).await; // from 0.0.0.0
    for client in ["198.51.100.1", "198.51.100.2"] {
        app.send(log_in_from(
            proxy,
            Some(client),
            "alice@example.org",
            PASSWORD,
        ))
        .await
        .expect::<Session>(StatusCode::OK);
    }
    app.send(log_in_from(
        proxy,
        Some("198.51.100.1"),
        "alice@example.org",
        PASSWORD,
    ))
    .await
    .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // A forged left-most entry does not help: the hop the proxy saw is what counts.
    app.send(log_in_from(
        proxy,
        Some("203.0.113.99, 198.51.100.1, 10.0.0.3"),
        "alice@example.org",
        PASSWORD,
    ))
    .await
    .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // An untrusted peer's header is not read.
    app.send(log_in_from(
        ip("198.51.100.1"),
        Some("203.0.113.50"),
        "alice@example.org",
        PASSWORD,
    ))
    .await
    .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

async fn ipv6_clients_are_limited_by_their_slash_64(backend: Backend) {
    let settings = Settings {
        auth_rate: RateLimit {
            per_minute: 1,
            burst: 1,
        },
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    app.register("alice@example.org").await;
    app.send(log_in_from(
        ip("2001:db8:1:2::1"),
        None,
        "alice@example.org",
        PASSWORD,
    ))
    .await
    .expect::<Session>(StatusCode::OK);
    // Another address in the same /64 shares the budget...
    app.send(log_in_from(
        ip("2001:db8:1:2:ffff:ffff:ffff:fffe"),
        None,
        "alice@example.org",
        PASSWORD,
    ))
    .await
    .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // ...another /64 has its own.
    app.send(log_in_from(
        ip("2001:db8:1:3::1"),
        None,
        "alice@example.org",
        PASSWORD,
    ))
    .await
    .expect::<Session>(StatusCode::OK);
}

/// 100 pushes of one account at once, on a pool of 2 connections: they wait their turn
/// in the server, not on pool connections, so another account's pulls and log-ins
/// meanwhile are all answered, never `503`. On PostgreSQL a transaction from outside
/// the server (a slow push, as it were) holds the noisy account's row lock while the
/// pushes come in, and the other account's requests are made only once one of the
/// pushes waits for that lock: were the pushes to queue for connections instead (each
/// holding one while it waits for the lock), both connections would be taken and the
/// other account's requests would time out waiting for one.
async fn one_noisy_account_does_not_starve_the_others(backend: Backend) {
    use sqlx::Connection as _;
    use std::sync::Arc;

    let settings = Settings {
        max_in_flight_per_account: 0,
        // The quiet account signs in again and again while it pulls with its first
        // token, which the cap on sessions could end.
        max_sessions_per_user: 0,
        ..test_settings()
    };
    let options = cairn_server::config::DbOptions {
        pool_size: 2,
        acquire_timeout: Duration::from_secs(2),
        // Longer than the row lock is held below.
        lock_timeout: Duration::from_secs(60),
    };
    let app = Arc::new(TestApp::with_options(&backend, settings, options).await);
    let noisy = app.register("noisy@example.org").await;
    let quiet = app.register("quiet@example.org").await;
    app.push(&quiet, &[note("q", json!("mine"), now(), "q")])
        .await;
    let mut holder = match backend {
        Backend::Postgres(_) => {
            let mut conn = sqlx::PgConnection::connect(&app.url).await.unwrap();
            sqlx::raw_sql(
                "BEGIN; SELECT last_seq FROM users \
                 WHERE email = 'noisy@example.org' FOR NO KEY UPDATE",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            Some(conn)
        }
        Backend::Sqlite => None,
    };
    let t = now();
    let pushes: Vec<_> = (0..100)
        .map(|p| {
            let (app, token) = (app.clone(), noisy.clone());
            tokio::spawn(async move {
                let changes: Vec<_> = (0..50)
                    .map(|i| note(&format!("p{p}-{i}"), json!("x".repeat(200)), t, "d"))
                    .collect();
                app.push_reply(&token, &changes).await.status
            })
        })
        .collect();
    if let Some(conn) = &mut holder {
        // Until a push waits for the row lock, polling.
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&mut *conn)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let pulled = app.pull_reply(&quiet, "").await.status;
        let logged_in = app.log_in_reply("quiet@example.org", PASSWORD).await.status;
        statuses.extend([pulled, logged_in]);
        if !(pulled.is_success() && logged_in.is_success()) {
            break;
        }
    }
    if let Some(mut conn) = holder {
        sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
    assert!(
        statuses.iter().all(|s| s.is_success()),
        "the other account was always answered: {statuses:?}"
    );
    let mut pushed = Vec::new();
    for push in pushes {
        pushed.push(push.await.unwrap());
    }
    assert!(
        pushed.iter().all(|s| *s == StatusCode::OK),
        "every push answered: {pushed:?}"
    );
    assert_eq!(app.pull_all(&noisy).await.len(), 100 * 50);
}

/// Device A syncs through one server process, device B through another on the same
/// database: they see each other's changes, conflicts resolve by the merge rule on
/// whichever instance, and cursors and heads agree (the server keeps no state of its
/// own beyond the database).
async fn two_instances_on_one_database_serve_one_accounts_devices(backend: Backend) {
    let one = TestApp::new(&backend).await;
    let two = one.second_instance().await;
    assert_eq!(one.db.epoch(), two.db.epoch(), "one database, one epoch");
    let a = one.register("alice@example.org").await;
    let b: Session = two
        .log_in_reply("alice@example.org", PASSWORD)
        .await
        .expect(StatusCode::OK);
    let b = b.token;
    let t = now();
    let from_a: Vec<_> = (0..5)
        .map(|i| note(&format!("a{i}"), json!(i), t, "deva"))
        .collect();
    one.push(&a, &from_a).await;
    let from_b: Vec<_> = (0..5)
        .map(|i| note(&format!("b{i}"), json!(i), t, "devb"))
        .collect();
    let reply = two.push(&b, &from_b).await;
    assert_eq!((reply.seq_before, reply.seq_after), (5, 10));
    // The same record from both, B's newer: B's wins wherever it is pushed.
    let older = note("shared", json!("a's"), t + 1, "deva");
    let newer = note("shared", json!("b's"), t + 2, "devb");
    two.push(&b, std::slice::from_ref(&newer)).await;
    let lost = one.push(&a, std::slice::from_ref(&older)).await;
    assert_eq!(lost.superseded, vec![newer.clone()]);
    // Concurrent pushes through both instances take turns on the account's counter.
    let (xs, ys) = (
        [note("x", json!(1), t, "deva")],
        [note("y", json!(1), t, "devb")],
    );
    let (x, y) = tokio::join!(one.push(&a, &xs), two.push(&b, &ys));
    assert_ne!(x.seq_after, y.seq_after);
    let through_one = one.pull_all(&a).await;
    let through_two = two.pull_all(&b).await;
    assert_eq!(through_one, through_two, "both devices converge");
    assert_eq!(through_one.len(), 13);
    assert!(through_one.contains(&newer));
    let (p1, p2) = (one.pull(&a, 0, 1000).await, two.pull(&b, 0, 1000).await);
    assert_eq!((p1.cursor, p1.head), (p2.cursor, p2.head));
    // A session made on one instance ends on both.
    two.call(Method::DELETE, "/api/v1/sessions/current", Some(&b), None)
        .await;
    one.pull_reply(&b, "")
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

/// Signs in to `email` (registered already) with this `User-Agent`; the token.
async fn log_in_with_agent(app: &TestApp, email: &str, agent: Option<&str>) -> String {
    let body = json!({"email": email, "password": PASSWORD});
    let mut req =
        Request::post("/api/v1/sessions").header(header::CONTENT_TYPE, "application/json");
    if let Some(agent) = agent {
        req = req.header(header::USER_AGENT, agent);
    }
    let session: Session = app
        .send(req.body(Body::from(body.to_string())).unwrap())
        .await
        .expect(StatusCode::OK);
    session.token
}

async fn list_sessions(app: &TestApp, token: &str) -> Vec<SessionInfo> {
    app.call(Method::GET, "/api/v1/sessions", Some(token), None)
        .await
        .expect(StatusCode::OK)
}

async fn end_other_sessions(app: &TestApp, token: &str) -> u64 {
    let ended: EndedSessions = app
        .call(Method::DELETE, "/api/v1/sessions/others", Some(token), None)
        .await
        .expect(StatusCode::OK);
    ended.ended
}

#[track_caller]
fn assert_signed_out(reply: support::Reply) {
    reply.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn sessions_are_listed_with_the_current_one_marked(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let before = now();
    let first = app.register("alice@example.org").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let second = log_in_with_agent(&app, "alice@example.org", Some(firefox)).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let long = format!("Agent\t{}", "x".repeat(500));
    let third = log_in_with_agent(&app, "alice@example.org", Some(&long)).await;
    let bob = app.register("bob@example.org").await;

    // The exact shape, field by field.
    let raw = app
        .call(Method::GET, "/api/v1/sessions", Some(&second), None)
        .await;
    assert_eq!(raw.status, StatusCode::OK);
    let entry = raw.json.as_array().unwrap()[0].as_object().unwrap();
    let mut keys: Vec<_> = entry.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "current",
            "device",
            "expires_at",
            "id",
            "last_used_at"
        ]
    );

    let list = list_sessions(&app, &second).await;
    assert_eq!(list.len(), 3, "{list:?}");
    // Most recently used first: here, the newest first.
    assert_eq!(
        list.iter().map(|s| s.device.as_deref()).collect::<Vec<_>>(),
        [
            Some(format!("Agent {}", "x".repeat(154)).as_str()),
            Some(firefox),
            None
        ]
    );
    assert_eq!(
        list.iter().map(|s| s.current).collect::<Vec<_>>(),
        [false, true, false]
    );
    assert!(list
        .windows(2)
        .all(|w| w[0].last_used_at >= w[1].last_used_at));
    let thirty_days = 30 * 24 * 60 * 60 * 1000;
    for s in &list {
        assert!((before..=now()).contains(&s.created_at), "{s:?}");
        assert_eq!(s.last_used_at, s.created_at, "not used since: {s:?}");
        assert_eq!(s.expires_at, s.created_at + thirty_days);
        // A public id: neither a token nor a token's hash.
        assert_eq!(s.id.len(), 32, "{s:?}");
        assert!(s.id.bytes().all(|c| c.is_ascii_hexdigit()));
        for token in [&first, &second, &third] {
            assert_ne!(&s.id, token);
            assert!(!token.contains(&s.id));
        }
    }
    let mut ids: Vec<_> = list.iter().map(|s| s.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "ids are distinct");
    // Each token sees the same sessions, itself marked current.
    let from_first = list_sessions(&app, &first).await;
    assert_eq!(
        from_first.iter().map(|s| s.current).collect::<Vec<_>>(),
        [false, false, true]
    );
    // Only the account's own.
    let bobs = list_sessions(&app, &bob).await;
    assert_eq!(bobs.len(), 1);
    assert!(bobs[0].current);
    assert!(!ids.contains(&bobs[0].id));
    assert_signed_out(
        app.call(Method::GET, "/api/v1/sessions", Some("nope"), None)
            .await,
    );
}

async fn last_used_at_moves_when_a_session_is_used(backend: Backend) {
    let settings = Settings {
        session_touch_interval: Duration::ZERO,
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let older = app.register("alice@example.org").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let newer = log_in_with_agent(&app, "alice@example.org", Some("newer")).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let before_use = now();
    app.pull(&older, 0, 1).await;
    // Listing uses the session too; `newer` was used only at sign-in.
    let list = list_sessions(&app, &newer).await;
    let (first, second) = (&list[0], &list[1]);
    assert!(first.current, "the list itself just used it: {list:?}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let list = list_sessions(&app, &older).await;
    assert!(list[0].current, "{list:?}");
    assert_eq!(list[1].id, first.id);
    assert!(list[0].last_used_at > list[0].created_at, "{list:?}");
    assert!(list[0].last_used_at >= before_use);
    assert!(list[0].last_used_at > second.last_used_at, "moved again");
    assert!(list[0].last_used_at <= now());
}

async fn last_used_at_is_written_at_most_once_a_minute(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    for _ in 0..3 {
        app.pull(&token, 0, 1).await;
    }
    let list = list_sessions(&app, &token).await;
    assert_eq!(list[0].last_used_at, list[0].created_at, "{list:?}");
}

async fn ending_the_other_sessions_keeps_only_the_current_one(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let keep = app.register("alice@example.org").await;
    let others = [
        log_in_with_agent(&app, "alice@example.org", Some("phone")).await,
        log_in_with_agent(&app, "alice@example.org", None).await,
    ];
    let bob = app.register("bob@example.org").await;
    assert_eq!(end_other_sessions(&app, &keep).await, 2);
    for token in &others {
        assert_signed_out(app.pull_reply(token, "").await);
        assert_signed_out(
            app.call(Method::GET, "/api/v1/sessions", Some(token), None)
                .await,
        );
    }
    app.pull(&keep, 0, 1).await;
    let list = list_sessions(&app, &keep).await;
    assert_eq!(list.len(), 1);
    assert!(list[0].current);
    // Nothing more to end; another account's sessions were never touched.
    assert_eq!(end_other_sessions(&app, &keep).await, 0);
    app.pull(&bob, 0, 1).await;
    assert_eq!(list_sessions(&app, &bob).await.len(), 1);
    assert_signed_out(
        app.call(Method::DELETE, "/api/v1/sessions/others", None, None)
            .await,
    );
}

async fn one_session_ends_by_its_id_and_only_the_accounts_own(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let laptop = log_in_with_agent(&app, "alice@example.org", Some("laptop")).await;
    let bob = app.register("bob@example.org").await;
    let end = |token: &str, id: &str| {
        let (token, path) = (token.to_owned(), format!("/api/v1/sessions/{id}"));
        let app = &app;
        async move { app.call(Method::DELETE, &path, Some(&token), None).await }
    };
    // Another account's session id cannot be ended: it is not found for this account.
    let bobs = list_sessions(&app, &bob).await[0].id.clone();
    end(&alice, &bobs)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    app.pull(&bob, 0, 1).await;
    assert_eq!(list_sessions(&app, &bob).await.len(), 1);
    end(&alice, "0123456789abcdef0123456789abcdef")
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    end(&alice, "%FF")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");

    let list = list_sessions(&app, &alice).await;
    let laptops = list.iter().find(|s| !s.current).unwrap().id.clone();
    let reply = end(&alice, &laptops).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.json);
    assert_signed_out(app.pull_reply(&laptop, "").await);
    app.pull(&alice, 0, 1).await;
    end(&alice, &laptops)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    // Its own current session too: that is signing out.
    let own = list_sessions(&app, &alice).await[0].id.clone();
    assert_eq!(end(&alice, &own).await.status, StatusCode::NO_CONTENT);
    assert_signed_out(app.pull_reply(&alice, "").await);
    assert_signed_out(end(&alice, &own).await);
    app.pull(&bob, 0, 1).await;
}

async fn sessions_beyond_the_cap_end_least_recently_used_first(backend: Backend) {
    let settings = Settings {
        max_sessions_per_user: 3,
        session_touch_interval: Duration::ZERO,
        ..test_settings()
    };
    let app = TestApp::with_settings(&backend, settings).await;
    let bob = app.register("bob@example.org").await;
    let mut tokens = vec![app.register("alice@example.org").await];
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        tokens.push(log_in_with_agent(&app, "alice@example.org", None).await);
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    // The oldest is used again: the second becomes the least recently used.
    app.pull(&tokens[0], 0, 1).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let fourth = log_in_with_agent(&app, "alice@example.org", None).await;
    assert_signed_out(app.pull_reply(&tokens[1], "").await);
    for token in [&tokens[0], &tokens[2], &fourth] {
        app.pull(token, 0, 1).await;
    }
    assert_eq!(list_sessions(&app, &fourth).await.len(), 3);
    // The cap is per account.
    app.pull(&bob, 0, 1).await;
    // A new session is never the one ended, however recently the others were used.
    for token in [&tokens[0], &tokens[2], &fourth] {
        app.pull(token, 0, 1).await;
    }
    let fifth = log_in_with_agent(&app, "alice@example.org", None).await;
    app.pull(&fifth, 0, 1).await;
    assert_eq!(list_sessions(&app, &fifth).await.len(), 3);
}

/// The sessions table's rows, of every user.
async fn session_rows(db: &Database) -> i64 {
    match db.pool() {
        Pool::Sqlite(sqlite) => sqlx::query_scalar("SELECT count(*) FROM sessions")
            .fetch_one(&sqlite.pool)
            .await
            .unwrap(),
        Pool::Postgres(pool) => sqlx::query_scalar("SELECT count(*) FROM sessions")
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// Stores `count` sessions of `email`'s account, expired at `expired_at`.
async fn add_expired_sessions(app: &TestApp, email: &str, count: usize, expired_at: i64) {
    let (user, _) = app.db.user_by_email(email).await.unwrap().unwrap();
    for i in 0..count {
        let token = format!("{email} {i}");
        let hash = cairn_server::auth::token_hash(&token);
        app.db
            .create_session(&NewSession {
                token_hash: &hash,
                user,
                device: None,
                now_ms: 1,
                expires_at_ms: expired_at,
                max_per_user: 0,
            })
            .await
            .unwrap();
    }
}

async fn expired_sessions_are_purged_in_batches(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    let bob = app.register("bob@example.org").await;
    let t = i64::try_from(now()).unwrap();
    let many = usize::try_from(cairn_server::db::PURGE_BATCH).unwrap() + 7;
    add_expired_sessions(&app, "alice@example.org", many, t - 1).await;
    add_expired_sessions(&app, "bob@example.org", 3, t).await;
    assert_eq!(session_rows(&app.db).await, 2 + many as i64 + 3);
    // Expired at `now` counts as expired, as it does for a request.
    assert_eq!(
        app.db.purge_expired_sessions(t).await.unwrap(),
        many as u64 + 3
    );
    assert_eq!(session_rows(&app.db).await, 2);
    assert_eq!(app.db.purge_expired_sessions(t).await.unwrap(), 0);
    app.pull(&alice, 0, 1).await;
    app.pull(&bob, 0, 1).await;
}

async fn the_server_purges_expired_sessions_on_a_timer(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let alice = app.register("alice@example.org").await;
    add_expired_sessions(&app, "alice@example.org", 3, 2).await;
    assert_eq!(session_rows(&app.db).await, 4);
    let settings = Settings {
        session_purge_interval: Duration::from_millis(20),
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
    while session_rows(&app.db).await != 1 {
        assert!(std::time::Instant::now() < deadline, "not purged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Expired ones made later go at a later round.
    add_expired_sessions(&app, "alice@example.org", 2, 3).await;
    while session_rows(&app.db).await != 1 {
        assert!(std::time::Instant::now() < deadline, "not purged again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    app.pull(&alice, 0, 1).await;
}

async fn sessions_from_before_the_session_list_are_listed(backend: Backend) {
    // A database at schema 2 with a session in it, as a server of before made it.
    let (url, _dir) = backend.fresh_database().await;
    let v2 = &cairn_server::db::MIGRATIONS[..2];
    let token = "a token from before";
    let hash = cairn_server::auth::token_hash(token);
    let t = i64::try_from(now()).unwrap();
    let (user, expires) = (1i64, t + 60_000);
    let raw = RawPool::connect(&url).await;
    raw.migrate_the_old_way(v2).await;
    match &raw {
        RawPool::Sqlite(pool) => {
            sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, 'alice@example.org', 'x', ?2)")
                .bind(user).bind(t).execute(pool).await.unwrap();
            sqlx::query("INSERT INTO sessions VALUES (?1, ?2, ?3, ?4)")
                .bind(&hash[..])
                .bind(user)
                .bind(t - 5)
                .bind(expires)
                .execute(pool)
                .await
                .unwrap();
        }
        RawPool::Postgres(pool) => {
            sqlx::query("INSERT INTO users (email, password_hash, created_at) OVERRIDING SYSTEM VALUE VALUES ('alice@example.org', 'x', $1)")
                .bind(t).execute(pool).await.unwrap();
            sqlx::query("INSERT INTO sessions VALUES ($1, $2, $3, $4)")
                .bind(&hash[..])
                .bind(user)
                .bind(t - 5)
                .bind(expires)
                .execute(pool)
                .await
                .unwrap();
        }
    }
    raw.close().await;
    let db = Database::connect(&url).await.unwrap();
    let list = db.list_sessions(user, &hash, t).await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let s = &list[0];
    assert_eq!(s.id.len(), 32, "{s:?}");
    assert!(
        s.id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
        "{s:?}"
    );
    assert_eq!(
        (s.created_at, s.last_used_at, s.expires_at),
        (t - 5, t - 5, expires)
    );
    assert_eq!((s.device.as_deref(), s.current), (None, true));
    assert_eq!(db.session_user(&hash, t, t).await.unwrap(), Some(user));
    db.close().await;
}

/// Device A renames a note; device B, which never saw the rename, edits the version A
/// replaced. B's change has the newer clock, but the server keeps A's rename and hands it
/// back to B (to merge), instead of letting B overwrite it.
async fn a_change_made_from_a_replaced_version_is_handed_back_not_stored(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let t = now();
    let original = note("n1", json!({"title": "Shopping"}), t, "deva");
    let created: PushResponse = app
        .push_based_reply(&token, &[(original.clone(), None)])
        .await
        .expect(StatusCode::OK);
    assert_eq!(created.applied, 1);
    let renamed = note(
        "n1",
        json!({"title": "Shopping for Saturday"}),
        t + 1,
        "deva",
    );
    let reply: PushResponse = app
        .push_based_reply(&token, &[(renamed.clone(), Some(original.hlc.clone()))])
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.applied, 1);

    let stale = note(
        "n1",
        json!({"title": "Shopping", "body": "eggs"}),
        t + 5,
        "devb",
    );
    let created_elsewhere = note("n2", json!("mine"), t + 5, "devb");
    let reply: PushResponse = app
        .push_based_reply(
            &token,
            &[
                (stale.clone(), Some(original.hlc.clone())),
                // A record created on two devices: B's has no base, A's is held.
                (created_elsewhere, None),
            ],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!((reply.applied, reply.duplicates), (1, 0));
    assert_eq!(reply.superseded, vec![renamed.clone()]);
    assert_eq!(reply.seq_after, reply.seq_before + 1);

    // Made from the held version, it is stored; sent again, it is a duplicate.
    let merged = note(
        "n1",
        json!({"title": "Shopping for Saturday", "body": "eggs"}),
        t + 6,
        "devb",
    );
    for (applied, duplicates) in [(1, 0), (0, 1)] {
        let reply: PushResponse = app
            .push_based_reply(&token, &[(merged.clone(), Some(renamed.hlc.clone()))])
            .await
            .expect(StatusCode::OK);
        assert_eq!((reply.applied, reply.duplicates), (applied, duplicates));
        assert!(reply.superseded.is_empty());
    }
    let page = app.pull(&token, 0, 100).await;
    let n1: Vec<_> = page.records.iter().filter(|r| r.id == "n1").collect();
    assert_eq!(n1, [&merged]);
}

async fn pushes_without_a_protocol_version_are_refused_and_store_nothing(backend: Backend) {
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let change = note("n1", json!("v1 client"), now(), "dev1");
    for body in [
        json!({"device_id": "dev1", "changes": [change]}),
        json!({"protocol": 1, "device_id": "dev1", "changes": [change], "partial": true}),
    ] {
        let reply = app
            .call(Method::POST, "/api/v1/sync/push", Some(&token), Some(&body))
            .await;
        let message = reply.expect_error(StatusCode::CONFLICT, "outdated_client");
        assert!(message.contains("reload the app"), "{message}");
    }
    assert!(app.pull(&token, 0, 100).await.records.is_empty());
}

/// A push that waits for its account's row lock while another server process's push of
/// the account stores a version and commits reads that version's clock, not the state
/// from before it waited (PostgreSQL takes the lock and reads the clocks in one
/// statement, whose snapshot predates the wait): here it loses to it, as it should, and
/// gets the winner back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_push_that_waited_for_the_lock_reads_what_the_holder_stored() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = TestApp::new(&backend).await;
    let token = app.register("alice@example.org").await;
    let Pool::Postgres(pool) = app.db.pool() else {
        unreachable!("a PostgreSQL test app")
    };
    let t = now();
    let older = note("a", json!("older"), t, "deva");
    let newer = note("a", json!("newer"), t + 1, "devb");
    // Another process's push, by hand: it holds the lock while it stores `newer` as 1.
    let mut holder = pool.begin().await.unwrap();
    let user: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = $1 FOR NO KEY UPDATE")
        .bind("alice@example.org")
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO records (user_id, collection, id, value, hlc, deleted, seq)
         VALUES ($1, 'notes', 'a', '\"newer\"', $2, false, 1)",
    )
    .bind(user)
    .bind(newer.hlc.to_string())
    .execute(&mut *holder)
    .await
    .unwrap();
    sqlx::query("UPDATE users SET last_seq = 1 WHERE id = $1")
        .bind(user)
        .execute(&mut *holder)
        .await
        .unwrap();
    let commit = async {
        // Once the push waits for the lock (it took its snapshot before), commit.
        for _ in 0..2000 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        holder.commit().await.unwrap();
    };
    let (reply, ()) = tokio::join!(app.push(&token, std::slice::from_ref(&older)), commit);
    assert_eq!((reply.applied, reply.duplicates), (0, 0));
    assert_eq!(reply.superseded, vec![newer.clone()]);
    assert_eq!((reply.seq_before, reply.seq_after), (1, 1));
    assert_eq!(app.pull_all(&token).await, vec![newer]);
}
