//! Limits on what is in flight at once, on a real socket: a request is held inside its
//! handler by sending `Expect: 100-continue` and holding its body back (the server says
//! `100 Continue` once the handler starts reading the body).

use std::net::SocketAddr;
use std::time::Duration;

use cairn_server::auth::PasswordCost;
use cairn_server::{serve, AppState, Database, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod support;

struct Server {
    addr: SocketAddr,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(settings: Settings) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cairn.db").display());
    let db = Database::connect(&url).await.unwrap();
    let state = AppState::new(db, dir.path().to_owned(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        state,
        stop: Some(stop),
        _dir: dir,
    }
}

/// One HTTP/1.1 request on a new connection; the whole response as text.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> String {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), conn.read_to_end(&mut response))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// A request held inside its handler: its headers sent, its body not yet.
async fn held(addr: SocketAddr, path: &str, token: Option<&str>, body_len: usize) -> TcpStream {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {body_len}\r\nExpect: 100-continue\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = conn.read(&mut buf).await.unwrap();
    let interim = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
    conn
}

async fn finish(mut conn: TcpStream, body: &str) -> String {
    conn.write_all(body.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

fn token_of(response: &str) -> String {
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["token"].as_str().unwrap().to_owned()
}

fn credentials(email: &str) -> String {
    serde_json::json!({"email": email, "password": support::PASSWORD}).to_string()
}

#[tokio::test]
async fn over_the_global_in_flight_limit_the_api_is_503_server_busy_with_retry_after() {
    let server = start(Settings {
        max_in_flight: 1,
        ..support::test_settings()
    })
    .await;
    let body = credentials("alice@example.org");
    let conn = held(server.addr, "/api/v1/accounts", None, body.len()).await;
    let busy = request(server.addr, "GET", "/api/health", None, "").await;
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    assert!(busy.to_lowercase().contains("retry-after: 1"), "{busy}");
    assert!(busy.contains("\"server_busy\""), "{busy}");
    // The held request still gets its answer, and then there is room again.
    assert!(finish(conn, &body).await.starts_with("HTTP/1.1 201"));
    let ok = request(server.addr, "GET", "/api/health", None, "").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}

#[tokio::test]
async fn over_its_in_flight_limit_an_account_is_429_and_others_go_on() {
    let server = start(Settings {
        max_in_flight_per_account: 1,
        ..support::test_settings()
    })
    .await;
    let alice = token_of(
        &request(
            server.addr,
            "POST",
            "/api/v1/accounts",
            None,
            &credentials("alice@example.org"),
        )
        .await,
    );
    let bob = token_of(
        &request(
            server.addr,
            "POST",
            "/api/v1/accounts",
            None,
            &credentials("bob@example.org"),
        )
        .await,
    );
    let push = r#"{"protocol": 2, "device_id": "d", "changes": []}"#;
    let conn = held(server.addr, "/api/v1/sync/push", Some(&alice), push.len()).await;
    let refused = request(server.addr, "GET", "/api/v1/sync/pull", Some(&alice), "").await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(
        refused.to_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    assert!(refused.contains("\"rate_limited\""), "{refused}");
    let other = request(server.addr, "GET", "/api/v1/sync/pull", Some(&bob), "").await;
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    assert!(finish(conn, push).await.starts_with("HTTP/1.1 200"));
    let again = request(server.addr, "GET", "/api/v1/sync/pull", Some(&alice), "").await;
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
}

/// However many registrations and log-ins arrive at once, at most
/// `max_concurrent_hashes` Argon2 hashes are computed at a time (counted where they run,
/// on the blocking pool, which would run them all at once); the others wait their turn,
/// and every one is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argon2_hashes_wait_for_one_of_max_concurrent_hashes_slots() {
    let server = start(Settings {
        max_concurrent_hashes: 2,
        // Costly enough that hashes started together overlap.
        password_cost: PasswordCost {
            memory_kib: 1024,
            iterations: 2,
            parallelism: 1,
        },
        ..support::test_settings()
    })
    .await;
    let addr = server.addr;
    let alice = credentials("alice@example.org");
    let created = request(addr, "POST", "/api/v1/accounts", None, &alice).await;
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let wrong = serde_json::json!({"email": "alice@example.org", "password": "not the password"})
        .to_string();
    let requests: Vec<_> = (0..24)
        .map(|i| {
            let (path, body, expected) = match i % 3 {
                0 => ("/api/v1/sessions", alice.clone(), "HTTP/1.1 200"),
                1 => ("/api/v1/sessions", wrong.clone(), "HTTP/1.1 401"),
                _ => (
                    "/api/v1/accounts",
                    credentials(&format!("user{i}@example.org")),
                    "HTTP/1.1 201",
                ),
            };
            tokio::spawn(async move {
                let response = request(addr, "POST", path, None, &body).await;
                assert!(response.starts_with(expected), "{path}: {response}");
            })
        })
        .collect();
    for answered in requests {
        answered.await.unwrap();
    }
    let hashing = server.state.hashing();
    assert_eq!(hashing.total(), 25, "one hash per registration and log-in");
    assert!(
        (1..=2).contains(&hashing.peak()),
        "at most 2 hashes at once, not {}",
        hashing.peak()
    );
}
