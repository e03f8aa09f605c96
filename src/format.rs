//! The app's shared formatters: times, sizes, and the sentences several views show.

use cairn_protocol::backup::ImportMode;

use crate::hooks::ImportOutcome;

/// `1234567` → `1.2 MB` (`cairn-yew`'s, which writes it into export messages).
pub use cairn_yew::human_bytes;

/// `ms` since the epoch as a local time of day (and date when not today).
pub fn time_of(ms: u64) -> String {
    let date = js_sys::Date::new(&(ms as f64).into());
    let today = js_sys::Date::new_0().to_date_string() == date.to_date_string();
    let time = format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
    if today {
        time
    } else {
        format!(
            "{} {time}",
            String::from(date.to_locale_date_string("default", &Default::default()))
        )
    }
}

/// "All changes synced", or what is not.
pub fn pending_text(pending: usize, set_aside: usize) -> String {
    let waiting = match pending {
        0 => None,
        1 => Some("1 change waiting to sync".to_owned()),
        n => Some(format!("{n} changes waiting to sync")),
    };
    let refused = match set_aside {
        0 => None,
        1 => Some("1 change refused by the server (below)".to_owned()),
        n => Some(format!("{n} changes refused by the server (below)")),
    };
    match (waiting, refused) {
        (None, None) => "All changes synced".to_owned(),
        (Some(w), None) => w,
        (None, Some(r)) => r,
        (Some(w), Some(r)) => format!("{w}; {r}"),
    }
}

/// The sentence shown after an import or restore.
pub fn summary_text(o: &ImportOutcome) -> String {
    let mut text = format!(
        "{}: {} record(s) written",
        match o.mode {
            ImportMode::Merge => "Merged",
            ImportMode::Replace => "Replaced",
        },
        o.written
    );
    if o.conflicts > 0 {
        text.push_str(&format!(
            "; {} unsynced change(s) moved to the conflict log",
            o.conflicts
        ));
    }
    if o.skipped > 0 {
        text.push_str(&format!(
            "; {} skipped (changed here meanwhile, yours kept)",
            o.skipped
        ));
    }
    match o.secrets {
        Some(0) => text.push_str("; secrets not imported (no passphrase)"),
        Some(n) => text.push_str(&format!("; {n} secret(s) restored")),
        None => {}
    }
    text.push('.');
    text
}
