//! What the sync loop needs from the JavaScript global, in a page or a worker alike:
//! `fetch`, timers, `navigator.onLine` and its `online` event, and the Web Locks API.
//! Everything is looked up on `globalThis`, so the same code runs in a window and in the
//! service worker.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn global_get(path: &[&str]) -> Option<JsValue> {
    let mut value: JsValue = js_sys::global().into();
    for name in path {
        value = Reflect::get(&value, &JsValue::from_str(name)).ok()?;
        if value.is_undefined() || value.is_null() {
            return None;
        }
    }
    Some(value)
}

/// `navigator.onLine`; true where the browser does not say.
pub fn is_online() -> bool {
    global_get(&["navigator", "onLine"])
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

/// Resolves after `ms` milliseconds.
pub async fn sleep_ms(ms: u32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(set_timeout) =
            global_get(&["setTimeout"]).and_then(|f| f.dyn_into::<Function>().ok())
        {
            let _ = set_timeout.call2(&JsValue::NULL, &resolve, &JsValue::from(ms));
        } else {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Resolves when the global fires `online` (at once if already online).
pub async fn wait_until_online() {
    if is_online() {
        return;
    }
    let global: JsValue = js_sys::global().into();
    let promise = Promise::new(&mut |resolve, _| {
        let options = js_sys::Object::new();
        let _ = Reflect::set(&options, &"once".into(), &JsValue::TRUE);
        if let Some(add) = Reflect::get(&global, &"addEventListener".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
        {
            let _ = add.call3(&global, &"online".into(), &resolve, &options);
        } else {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// The global `fetch`, called with `request`.
pub async fn fetch(request: &web_sys::Request) -> Result<web_sys::Response, JsValue> {
    let fetch = global_get(&["fetch"])
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| JsValue::from_str("fetch is missing"))?;
    let promise: Promise = fetch
        .call1(&js_sys::global(), request)?
        .dyn_into()
        .map_err(|_| JsValue::from_str("fetch did not return a promise"))?;
    JsFuture::from(promise).await?.dyn_into()
}

/// Runs `work` while holding the Web Lock `name` (exclusive across every tab and worker
/// of the origin), waiting for the lock if another context holds it. Where the Web Locks
/// API is missing, runs `work` without a lock.
pub async fn with_lock<F: Future>(name: &str, work: F) -> F::Output {
    let Some(locks) = global_get(&["navigator", "locks"]) else {
        return work.await;
    };
    let Some(request) = Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
    else {
        return work.await;
    };
    // The browser calls `on_granted` once the lock is ours and holds it until the promise
    // `on_granted` returns settles: `release` resolves that promise after `work`.
    let release: Rc<RefCell<Option<Function>>> = Rc::default();
    let held_until = {
        let release = release.clone();
        Promise::new(&mut move |resolve, _| *release.borrow_mut() = Some(resolve))
    };
    let granted: Rc<RefCell<Option<Function>>> = Rc::default();
    let acquired = {
        let granted = granted.clone();
        Promise::new(&mut move |resolve, _| *granted.borrow_mut() = Some(resolve))
    };
    let on_granted = Closure::once(move |_lock: JsValue| -> Promise {
        if let Some(resolve) = granted.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
        held_until
    });
    let requested = request
        .call2(
            &locks,
            &JsValue::from_str(name),
            on_granted.as_ref().unchecked_ref(),
        )
        .ok()
        .and_then(|p| p.dyn_into::<Promise>().ok());
    let Some(requested) = requested else {
        // The lock could not be requested (e.g. an opaque origin): run without it.
        return work.await;
    };
    let _ = JsFuture::from(acquired).await;
    let output = work.await;
    if let Some(resolve) = release.borrow_mut().take() {
        let _ = resolve.call0(&JsValue::NULL);
    }
    let _ = JsFuture::from(requested).await;
    drop(on_granted);
    output
}
