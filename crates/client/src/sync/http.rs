//! One call to the sync API: JSON in, JSON out (parsed by the browser), every failure
//! mapped to a [`SyncError`].

use cairn_protocol::api::ErrorBody;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{SyncEngine, SyncError};
use crate::codec::{from_js, to_js};
use crate::global;
use crate::js_record::stringify;
use crate::StoreError;

impl SyncEngine<'_> {
    /// One API call: JSON in, JSON out (parsed by the browser), errors mapped to
    /// [`SyncError`].
    pub(super) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Result<T, SyncError> {
        let body = body.map(|b| JsValue::from_str(&b));
        self.call_js(method, path, token, body).await
    }

    /// [`SyncEngine::call`] with a body that is already a JS string (a push, put
    /// together in JS).
    pub(super) async fn call_js<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<JsValue>,
    ) -> Result<T, SyncError> {
        let value = self.call_value(method, path, token, body).await?;
        from_js(value).map_err(SyncError::BadReply)
    }

    /// [`SyncEngine::call_js`] answering the reply as the browser parsed it.
    pub(super) async fn call_value(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<JsValue>,
    ) -> Result<JsValue, SyncError> {
        let text = self.exchange(method, path, token, body).await?;
        // The text stays a JS string, parsed where it is: a pulled page is never copied
        // into the wasm and back.
        let value = if text.length() == 0 {
            JsValue::NULL
        } else {
            json_parse(&text).map_err(|e| SyncError::BadReply(describe(&e)))?
        };
        Ok(value)
    }

    /// The HTTP exchange under [`SyncEngine::call`]: the body of a 2xx reply, or the
    /// error. Boxed and not generic, so the service worker's wasm holds one copy of it,
    /// not one inlined into every caller.
    fn exchange<'s>(
        &'s self,
        method: &'s str,
        path: &'s str,
        token: Option<&'s str>,
        body: Option<JsValue>,
    ) -> LocalBoxFuture<'s, Result<js_sys::JsString, SyncError>> {
        Box::pin(async move {
            let body = body.map(|b| (b, "application/json"));
            let response = self
                .send(method, path, token, body, "application/json")
                .await?;
            match response.text() {
                Ok(promise) => Ok(JsFuture::from(promise)
                    .await
                    .map_err(|e| SyncError::Network(describe(&e)))?
                    .dyn_into::<js_sys::JsString>()
                    .unwrap_or_else(|_| js_sys::JsString::from(""))),
                Err(e) => Err(SyncError::Network(describe(&e))),
            }
        })
    }

    /// One request: `body` (with its `Content-Type`) sent with the session `token`,
    /// accepting `accept`; the response when it is 2xx, else the error it stands for.
    pub(super) fn send<'s>(
        &'s self,
        method: &'s str,
        path: &'s str,
        token: Option<&'s str>,
        body: Option<(JsValue, &'s str)>,
        accept: &'s str,
    ) -> LocalBoxFuture<'s, Result<web_sys::Response, SyncError>> {
        Box::pin(async move {
            let init = web_sys::RequestInit::new();
            init.set_method(method);
            init.set_cache(web_sys::RequestCache::NoStore);
            let headers = web_sys::Headers::new().map_err(js_error)?;
            headers.set("Accept", accept).map_err(js_error)?;
            if let Some(token) = token {
                headers
                    .set("Authorization", &format!("Bearer {token}"))
                    .map_err(js_error)?;
            }
            if let Some((body, content_type)) = &body {
                headers
                    .set("Content-Type", content_type)
                    .map_err(js_error)?;
                init.set_body(body);
            }
            init.set_headers(&headers);
            let url = format!("{}{}", self.base_url, path);
            let request = web_sys::Request::new_with_str_and_init(&url, &init).map_err(js_error)?;
            let response = global::fetch(&request).await.map_err(|e| {
                if global::is_online() {
                    SyncError::Network(describe(&e))
                } else {
                    SyncError::Offline
                }
            })?;
            if !(200..300).contains(&response.status()) {
                return Err(error_of(response).await);
            }
            Ok(response)
        })
    }
}

/// The error a non-2xx `response` stands for, with the server's message.
/// `JSON.parse(text)`, of a string that stays in JS.
fn json_parse(text: &js_sys::JsString) -> Result<JsValue, JsValue> {
    let json = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("JSON"))?;
    let parse: js_sys::Function = js_sys::Reflect::get(&json, &JsValue::from_str("parse"))?
        .dyn_into()
        .map_err(|_| JsValue::from_str("JSON.parse is not a function"))?;
    parse.call1(&json, text)
}

pub(super) async fn error_of(response: web_sys::Response) -> SyncError {
    let status = response.status();
    let text = match response.text() {
        Ok(promise) => match JsFuture::from(promise).await {
            Ok(text) => text.as_string().unwrap_or_default(),
            Err(e) => return SyncError::Network(describe(&e)),
        },
        Err(e) => return SyncError::Network(describe(&e)),
    };
    let error: Option<ErrorBody> = js_sys::JSON::parse(&text)
        .ok()
        .and_then(|value| from_js(value).ok());
    let message = error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        401 => SyncError::Unauthorized,
        429 => SyncError::RateLimited {
            retry_after_s: response
                .headers()
                .get("Retry-After")
                .ok()
                .flatten()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(5),
        },
        500.. => SyncError::Server { status, message },
        _ => SyncError::Refused {
            status,
            code: error.map(|e| e.error).unwrap_or_default(),
            message,
        },
    }
}

/// `value` as the JSON of a request body.
pub(super) fn json_body<T: Serialize>(value: &T) -> Result<String, SyncError> {
    stringify(&to_js(value)?)
        .ok_or_else(|| SyncError::Store(StoreError::Encode("cannot encode as JSON".into())))
}

/// A failure of the browser's fetch machinery, as a network error.
pub(super) fn js_error(e: JsValue) -> SyncError {
    SyncError::Network(describe(&e))
}

/// The message of a JS error (or whatever else was thrown).
pub(super) fn describe(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}
