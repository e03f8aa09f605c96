//! The HTTP client side shared by the server's benchmark examples (`loadgen`, `memload`,
//! `streamload`): a plain hyper client, one request with a time limit, and signing up or
//! in for a bearer token.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use serde_json::json;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The password of every account the benchmarks make.
const PASSWORD: &str = "bench password";

/// Registers (`/api/v1/accounts`) or signs in (`/api/v1/sessions`) `email`: the token.
pub async fn sign_in(client: &HttpClient, url: &str, path: &str, email: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let (status, reply) = request(
        client,
        url,
        Method::POST,
        path,
        None,
        Some(Bytes::from(body)),
        Duration::from_secs(60),
    )
    .await;
    assert!(status.is_success(), "{}", String::from_utf8_lossy(&reply));
    let session: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    session["token"].as_str().unwrap().to_owned()
}

/// Registers `email`: the token.
#[allow(dead_code)] // not every example registers this way
pub async fn sign_up(client: &HttpClient, url: &str, email: &str) -> String {
    sign_in(client, url, "/api/v1/accounts", email).await
}

/// One request to `url` + `path` (JSON `body`, bearer `token`), answered within `limit`
/// (the example fails otherwise): the status and the whole body.
pub async fn request(
    client: &HttpClient,
    url: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Bytes>,
    limit: Duration,
) -> (StatusCode, Bytes) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{url}{path}"));
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Full::new(body.unwrap_or_default())).unwrap();
    let res = tokio::time::timeout(limit, client.request(req))
        .await
        .unwrap_or_else(|_| panic!("the server answers within {} s", limit.as_secs()))
        .expect("the request reaches the server");
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}
