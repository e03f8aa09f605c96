//! What the app takes from the browser: the clock, random ids, dates as text, and the
//! open session in the URL.

/// Milliseconds since the Unix epoch, by this device's clock.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// A new id: the time, then 64 random bits, so ids of one device sort by creation.
pub fn new_id() -> String {
    let mut bytes = [0u8; 8];
    let random = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok());
    if random.is_none() {
        // No Web Crypto (never in a browser that runs this app): the clock's fraction.
        bytes = (js_sys::Math::random().to_bits()).to_le_bytes();
    }
    format!("{:011x}{:016x}", now_ms(), u64::from_le_bytes(bytes))
}

/// `ms` as an ISO 8601 date-time (for `<time datetime>`).
pub fn iso_time(ms: u64) -> String {
    date(ms).to_iso_string().into()
}

/// `ms` as the local date and time to show, e.g. `2026-12-01 17:05`.
pub fn local_time(ms: u64) -> String {
    let d = date(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

fn date(ms: u64) -> js_sys::Date {
    let d = js_sys::Date::new_0();
    d.set_time(ms as f64);
    d
}

/// The URL fragment naming the open session.
const SESSION_FRAGMENT: &str = "#session=";

/// The session the URL names (`#session=<id>`), if any.
pub fn open_session_in_url() -> Option<String> {
    let hash = web_sys::window()?.location().hash().ok()?;
    hash.strip_prefix(SESSION_FRAGMENT)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// Names session `id` in the URL, replacing the history entry (opening sessions does
/// not fill the back button's history).
pub fn set_open_session_in_url(id: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Ok(history) = window.history() {
        let url = format!("{SESSION_FRAGMENT}{id}");
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}
