//! Request logs: one span per API request with method, full path and (once known) the
//! user id, and one `response` event with status and latency.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::Value;
use support::{Backend, TestApp};

mod support;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn api_requests_are_logged_with_path_status_latency_and_user() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::new(&Backend::Sqlite).await;
    let token = app.register("alice@example.org").await;
    app.pull(&token, 0, 10).await;
    app.pull_reply("wrong", "")
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let responses: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["fields"]["message"] == "response")
        .collect();
    assert_eq!(responses.len(), 3, "{text}");
    let (register, pull, refused) = (&responses[0], &responses[1], &responses[2]);
    assert_eq!(register["span"]["path"], "/api/v1/accounts");
    assert_eq!(register["span"]["method"], "POST");
    assert_eq!(register["fields"]["status"], 201);
    let user = register["span"]["user_id"].clone();
    assert!(user.is_u64(), "{register}");
    assert_eq!(pull["span"]["path"], "/api/v1/sync/pull");
    assert_eq!(pull["span"]["user_id"], user);
    assert_eq!(pull["fields"]["status"], 200);
    assert!(pull["fields"]["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(refused["fields"]["status"], 401);
    assert!(refused["span"].get("user_id").is_none(), "{refused}");
}
