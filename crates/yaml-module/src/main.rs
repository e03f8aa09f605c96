//! The app's YAML reader and writer for backup files, as a wasm module of its own.
//!
//! YAML (serde_norway and libyaml) is about 32 KiB of gzipped wasm that only a backup
//! file in YAML needs, so the app's main module is built without it (`cairn-yew`
//! without its `yaml` feature) and imports this module, `/cairn_yaml.js`, the first
//! time a YAML file is imported or exported. The service worker precaches it with the
//! rest of the build, so YAML works offline too. Both functions are
//! `cairn_protocol::backup`'s conversions; an error is the message the app shows.

use wasm_bindgen::prelude::*;

/// The YAML document `text` as JSON text. Errs with the message of a file that does not
/// parse, as `cairn_protocol::backup::parse` gives it.
#[wasm_bindgen]
pub fn yaml_to_json(text: &str) -> Result<String, String> {
    cairn_protocol::backup::yaml_to_json(text).map_err(|e| e.to_string())
}

/// A backup's JSON text as YAML, its fields in the same order.
#[wasm_bindgen]
pub fn json_to_yaml(json: &str) -> Result<String, String> {
    cairn_protocol::backup::json_to_yaml(json).map_err(|e| e.to_string())
}

fn main() {}
