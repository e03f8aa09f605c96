//! What the app stores: sessions (a conversation's title, tags and star) and messages,
//! and how search matches them. Plain Rust, tested natively.

use serde::{Deserialize, Serialize};

/// The collection of sessions, one record per session (id: random).
pub const SESSIONS: &str = "sessions";
/// The collection of messages of every session, one record per message.
pub const MESSAGES: &str = "messages";
/// The collection of this app's preferences (hydrated before first render).
pub const PREFS: &str = "prefs";
/// How many messages a session shows at first, and how many more "Show older" reads.
pub const PAGE: u32 = 50;

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub title: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub starred: bool,
    pub created_at_ms: u64,
}

impl Session {
    pub fn new(title: &str, now_ms: u64) -> Session {
        Session {
            title: title.trim().to_owned(),
            tags: Vec::new(),
            starred: false,
            created_at_ms: now_ms,
        }
    }

    /// Whether the search `query` finds this session: in its title or one of its tags,
    /// ignoring case; every word of the query must be found.
    pub fn matches(&self, query: &str) -> bool {
        words(query).all(|word| {
            contains(&self.title, &word) || self.tags.iter().any(|tag| contains(tag, &word))
        })
    }
}

/// One message of a session. `order_key` is `[session, sent_at_ms, id]`: the store keeps
/// an index by it, so a session's latest messages are read without the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub order_key: (String, u64, String),
    pub author: String,
    pub text: String,
}

impl Message {
    pub fn new(session: &str, id: &str, sent_at_ms: u64, author: &str, text: &str) -> Message {
        Message {
            order_key: (session.to_owned(), sent_at_ms, id.to_owned()),
            author: author.trim().to_owned(),
            text: text.trim().to_owned(),
        }
    }

    pub fn sent_at_ms(&self) -> u64 {
        self.order_key.1
    }

    /// Whether the search `query` finds this message, in its text or author.
    pub fn matches(&self, query: &str) -> bool {
        words(query).all(|word| contains(&self.text, &word) || contains(&self.author, &word))
    }
}

/// Tags as typed: separated by commas, trimmed, empty ones and repeats dropped.
pub fn parse_tags(typed: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in typed.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            tags.push(tag.to_owned());
        }
    }
    tags
}

/// The sessions to list for `query`, starred first, then the newest first.
pub fn listed(sessions: Vec<(String, Session)>, query: &str) -> Vec<(String, Session)> {
    let mut shown: Vec<_> = sessions
        .into_iter()
        .filter(|(_, s)| s.matches(query))
        .collect();
    shown.sort_by(|(a_id, a), (b_id, b)| {
        b.starred
            .cmp(&a.starred)
            .then(b.created_at_ms.cmp(&a.created_at_ms))
            .then(a_id.cmp(b_id))
    });
    shown
}

fn words(query: &str) -> impl Iterator<Item = String> + '_ {
    query.split_whitespace().map(str::to_lowercase)
}

fn contains(text: &str, lowercase_word: &str) -> bool {
    text.to_lowercase().contains(lowercase_word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(title: &str, tags: &[&str], starred: bool, at: u64) -> Session {
        Session {
            title: title.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            starred,
            created_at_ms: at,
        }
    }

    #[test]
    fn sessions_match_by_title_or_tag_ignoring_case_with_every_word() {
        let s = session("Trip to Lisbon", &["travel", "Family"], false, 1);
        assert!(s.matches(""));
        assert!(s.matches("lisbon"));
        assert!(s.matches("FAMILY"));
        assert!(s.matches("trip family"));
        assert!(!s.matches("trip work"));
    }

    #[test]
    fn messages_match_by_text_or_author() {
        let m = Message::new("s", "m1", 5, "Ana", "See you at the station");
        assert!(m.matches("station"));
        assert!(m.matches("ana"));
        assert!(!m.matches("airport"));
        assert_eq!(m.sent_at_ms(), 5);
    }

    #[test]
    fn a_new_message_is_keyed_by_session_time_and_id_and_trimmed() {
        let m = Message::new("s1", "m1", 42, " Ana ", " hi ");
        assert_eq!(m.order_key, ("s1".to_owned(), 42, "m1".to_owned()));
        assert_eq!((m.author.as_str(), m.text.as_str()), ("Ana", "hi"));
    }

    #[test]
    fn tags_are_split_trimmed_and_deduplicated() {
        assert_eq!(
            parse_tags(" work, travel ,,Work, x"),
            vec!["work".to_owned(), "travel".to_owned(), "x".to_owned()]
        );
        assert!(parse_tags(" , ").is_empty());
    }

    #[test]
    fn starred_sessions_come_first_then_the_newest() {
        let sessions = vec![
            ("a".to_owned(), session("Old", &[], false, 1)),
            ("b".to_owned(), session("New", &[], false, 3)),
            ("c".to_owned(), session("Starred", &[], true, 2)),
            ("d".to_owned(), session("Other", &["x"], false, 4)),
        ];
        let ids: Vec<_> = listed(sessions.clone(), "")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["c", "d", "b", "a"]);
        assert_eq!(listed(sessions, "x").len(), 1);
    }
}
