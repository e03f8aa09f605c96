//! Moving values between Rust and JavaScript, and randomness from Web Crypto.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::StoreError;

/// `value` as a plain JS value (objects, not `Map`s, so IndexedDB key paths work).
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, StoreError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| StoreError::Encode(e.to_string()))
}

pub(crate) fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
}

/// A string property of a JS object, if it has one.
pub(crate) fn string_field(value: &JsValue, name: &str) -> Option<String> {
    js_sys::Reflect::get(value, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.as_string())
}

pub(crate) fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// 64 random bits from the Web Crypto API of the current global (window or worker).
pub(crate) fn random_u64() -> Result<u64, StoreError> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .and_then(|c| c.dyn_into::<web_sys::Crypto>().ok())
        .ok_or_else(|| StoreError::Unavailable("the Web Crypto API is missing".into()))?;
    let mut bytes = [0u8; 8];
    crypto
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|e| StoreError::Unavailable(format!("crypto.getRandomValues failed: {e:?}")))?;
    Ok(u64::from_le_bytes(bytes))
}
