//! Graceful shutdown on a real socket: a request in flight when shutdown is signalled
//! still gets its answer, and then the server stops.

use std::time::Duration;

use cairn_server::{serve, AppState, Database};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod support;

#[tokio::test]
async fn a_request_in_flight_completes_after_shutdown_is_signalled() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cairn.db").display());
    let db = Database::connect(&url).await.unwrap();
    let state = AppState::new(db, dir.path().to_owned(), support::test_settings());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    // A registration whose body is held back. With `Expect: 100-continue` the server
    // says "100 Continue" once the handler starts reading the body: the request is then
    // in flight, inside the handler.
    let body = r#"{"email": "alice@example.org", "password": "correct horse battery"}"#;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/accounts HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = conn.read(&mut buf).await.unwrap();
    let interim = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");

    stop.send(()).unwrap();
    // The server must not finish while the request is unanswered...
    tokio::task::yield_now().await;
    assert!(!server.is_finished(), "stopped with a request in flight");
    // ...and answers it once the body arrives, then closes the connection.
    conn.write_all(body.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 201 Created"),
        "the request in flight was answered: {response}"
    );
    assert!(response.contains("\"token\""), "{response}");

    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops once the request is answered")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
