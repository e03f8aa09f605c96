//! The data-safety check's advice, from the answers.

/// What to do, given the answers.
pub fn advice(devices: &str, shared: bool, backups: &str, importance: u64) -> Vec<&'static str> {
    let mut advice = Vec::new();
    if devices == "several" {
        advice
            .push("Sign in to sync on each device, so every one of them has your latest changes.");
    } else {
        advice.push("Everything is kept on this device; nothing depends on a network connection.");
    }
    if shared {
        advice.push("This browser is shared: don't keep private notes here, and clear this site's data when you are done.");
    }
    advice.push(match backups {
        "weekly" => {
            "Keep a backup copy every week, so a lost device costs at most a week of notes."
        }
        "monthly" => {
            "Keep a backup copy every month, so a lost device costs at most a month of notes."
        }
        _ => "Without backups, clearing this browser's data deletes notes that were never synced.",
    });
    if importance >= 4 {
        advice.push("Your data matters a lot to you: ask the browser to keep it (Storage page, \"Keep my data\"), and export a backup now and then.");
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_follows_the_answers() {
        let shared = advice("several", true, "weekly", 5);
        assert_eq!(shared.len(), 4);
        assert!(shared[0].contains("sync"));
        assert!(shared[1].contains("shared"));
        assert!(shared[3].contains("keep it"));
        assert!(advice("one", false, "never", 1)[1].contains("Without backups"));
    }
}
