//! Backups in YAML as JSON text and back (feature `yaml`).
//!
//! [`parse()`](super::parse()) reads YAML itself and [`Backup::to_text`](super::Backup::to_text)
//! writes it when this feature is on. A build that keeps YAML out of its main module
//! (the app: YAML is about 32 KiB of its gzipped wasm and only a backup file needs it)
//! calls these two in a module of their own instead: [`yaml_to_json`] before
//! [`parse()`](super::parse()), [`json_to_yaml`] after writing JSON. The result is the
//! same as this feature's: a YAML file reads as the same JSON document, and the YAML
//! written from a backup's JSON is the YAML written from the backup (the same fields in
//! the same order).

use serde_json::Value;

use super::format::BackupError;
use super::parse::yaml_syntax;

/// The YAML document `text` as JSON text, or the error [`parse()`](super::parse()) gives
/// for a YAML file that does not parse.
pub fn yaml_to_json(text: &str) -> Result<String, BackupError> {
    let document: Value = serde_norway::from_str(text).map_err(|e| yaml_syntax(&e.to_string()))?;
    Ok(document.to_string())
}

/// The JSON document `json` (a backup as [`Backup::to_text`](super::Backup::to_text)
/// writes it) as YAML, its fields in the same order.
pub fn json_to_yaml(json: &str) -> Result<String, BackupError> {
    let document: serde_norway::Value = serde_json::from_str(json)
        .map_err(|e| BackupError::Encode(format!("the JSON to convert is not valid: {e}")))?;
    serde_norway::to_string(&document).map_err(|e| BackupError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::format::FileFormat;
    use crate::backup::parse::parse;
    use crate::backup::test_support::{sample, NOW};

    #[test]
    fn json_converted_to_yaml_is_the_yaml_written_directly() {
        let backup = sample();
        let json = backup.to_text(FileFormat::Json).unwrap();
        assert_eq!(
            json_to_yaml(&json).unwrap(),
            backup.to_text(FileFormat::Yaml).unwrap()
        );
    }

    #[test]
    fn yaml_converted_to_json_parses_as_the_yaml() {
        let yaml = sample().to_text(FileFormat::Yaml).unwrap();
        let json = yaml_to_json(&yaml).unwrap();
        assert_eq!(FileFormat::detect(&json), FileFormat::Json);
        assert_eq!(parse(&json, NOW).unwrap(), parse(&yaml, NOW).unwrap());
    }

    #[test]
    fn broken_yaml_gives_the_parse_error() {
        let text = "format: cairn-backup\nrecords: [unclosed\n";
        assert_eq!(
            yaml_to_json(text).unwrap_err(),
            parse(text, NOW).unwrap_err()
        );
        assert!(matches!(
            yaml_to_json(text),
            Err(BackupError::Syntax {
                format: "YAML (or JSON)",
                ..
            })
        ));
        assert!(matches!(json_to_yaml("{"), Err(BackupError::Encode(_))));
    }
}
