//! The data-safety check's questions, and whether an answer answers one.

use serde_json::Value;

/// How a question is answered.
#[derive(PartialEq)]
pub enum Kind {
    /// One of several options.
    Choice(&'static [(&'static str, &'static str)]),
    /// Yes or no.
    YesNo,
    /// 1 to 5, from `low` to `high`.
    Scale {
        low: &'static str,
        high: &'static str,
    },
    /// A whole number in `0..=max`.
    Number { max: u32 },
    /// Free text, optional.
    Text,
}

/// One question of the check.
pub struct Question {
    pub id: &'static str,
    pub text: &'static str,
    pub kind: Kind,
}

/// The questions, in the order of [`crate::hooks::ASSESSMENT_STEPS`].
pub const QUESTIONS: &[Question] = &[
    Question {
        id: "devices",
        text: "On how many devices do you use Cairn?",
        kind: Kind::Choice(&[("one", "Just this one"), ("several", "Two or more")]),
    },
    Question {
        id: "shared_computer",
        text: "Do other people use this computer or browser?",
        kind: Kind::YesNo,
    },
    Question {
        id: "backups",
        text: "How often do you want to keep a backup copy of your data?",
        kind: Kind::Choice(&[
            ("weekly", "Weekly"),
            ("monthly", "Monthly"),
            ("never", "Never"),
        ]),
    },
    Question {
        id: "importance",
        text: "How much would it hurt to lose what you keep in Cairn?",
        kind: Kind::Scale {
            low: "Not at all",
            high: "A lot",
        },
    },
    Question {
        id: "notes_count",
        text: "About how many notes do you keep?",
        kind: Kind::Number { max: 1_000_000 },
    },
    Question {
        id: "concerns",
        text: "Is there anything you especially want to keep safe? (optional)",
        kind: Kind::Text,
    },
];

/// Whether `answer` answers a question of `kind`.
pub fn validate(kind: &Kind, answer: Option<&Value>) -> Result<(), String> {
    match (kind, answer) {
        (Kind::Text, _) => Ok(()),
        (Kind::Number { max }, Some(Value::Number(n)))
            if n.as_u64().is_some_and(|n| n <= *max as u64) =>
        {
            Ok(())
        }
        (Kind::Number { max }, _) => Err(format!("Enter a whole number from 0 to {max}.")),
        (_, Some(_)) => Ok(()),
        (_, None) => Err("Choose an answer to continue.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn questions_follow_the_assessment_steps() {
        let ids: Vec<_> = QUESTIONS.iter().map(|q| q.id).collect();
        assert_eq!(ids, crate::hooks::ASSESSMENT_STEPS);
    }

    #[test]
    fn answers_are_checked_by_kind() {
        assert!(validate(&Kind::YesNo, None).is_err());
        assert!(validate(&Kind::YesNo, Some(&json!(false))).is_ok());
        assert!(validate(&Kind::Text, None).is_ok());
        assert!(validate(&Kind::Number { max: 10 }, Some(&json!(10))).is_ok());
        assert!(validate(&Kind::Number { max: 10 }, Some(&json!(11))).is_err());
        assert!(validate(&Kind::Number { max: 10 }, Some(&json!("ten"))).is_err());
    }
}
