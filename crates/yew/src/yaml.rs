//! Backup files in YAML: read and written in this module with the `yaml` feature (the
//! default), or by a wasm module of their own without it.
//!
//! YAML is about 32 KiB of gzipped wasm that nothing but a YAML backup file needs. An
//! app that turns the `yaml` feature off (Cairn's app does) keeps it out of its main
//! module: the first YAML file imported or exported then imports the ES module
//! [`YAML_MODULE`] (the `cairn-yaml-module` crate, built beside the app: see its
//! `main.rs`), which converts YAML to JSON text and back; everything else about the
//! file is the same code either way ([`cairn_protocol::backup::parse`],
//! [`Backup::to_text`]). JSON files never load it. If it cannot be loaded (offline
//! before the service worker has cached it), the user is told so and nothing is written.

use cairn_protocol::backup::{self, Backup, FileFormat, Validated};

/// Where a build without the `yaml` feature finds its YAML module: the glue trunk writes
/// for `crates/yaml-module` (`data-bin="cairn_yaml"`, `data-bindgen-target="web"`), at
/// the site's root.
pub const YAML_MODULE: &str = "/cairn_yaml.js";

/// `text` (a file's text, JSON or YAML) read and checked as a backup; the error is for
/// the user.
pub(crate) async fn parse_file(text: String, now_ms: u64) -> Result<Validated, String> {
    #[cfg(not(feature = "yaml"))]
    let text = if needs_yaml_reader(&text) {
        module::call("yaml_to_json", &text).await?
    } else {
        text
    };
    backup::parse(&text, now_ms).map_err(|e| e.to_string())
}

/// `backup` as a file's text in `format`; the error is for the user.
pub(crate) async fn file_text(backup: &Backup, format: FileFormat) -> Result<String, String> {
    #[cfg(not(feature = "yaml"))]
    if format == FileFormat::Yaml {
        let json = backup
            .to_text(FileFormat::Json)
            .map_err(|e| e.to_string())?;
        return module::call("json_to_yaml", &json).await;
    }
    backup.to_text(format).map_err(|e| e.to_string())
}

/// Whether `text` goes to the YAML reader before [`backup::parse`]: a YAML document that
/// `parse` would not refuse first for its size or for being empty.
#[cfg_attr(feature = "yaml", allow(dead_code))]
fn needs_yaml_reader(text: &str) -> bool {
    FileFormat::detect(text) == FileFormat::Yaml
        && text.len() <= backup::MAX_BACKUP_BYTES
        && !text.trim_start_matches('\u{feff}').trim().is_empty()
}

#[cfg(not(feature = "yaml"))]
mod module {
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    #[wasm_bindgen(inline_js = r#"
let loading;
export function import_yaml_module(url) {
  if (!loading) {
    loading = import(url).then(async (module) => { await module.default(); return module; });
    // A failed load (offline, before the worker cached it) is tried again next time.
    loading.catch(() => { loading = undefined; });
  }
  return loading;
}
"#)]
    extern "C" {
        fn import_yaml_module(url: &str) -> js_sys::Promise;
    }

    /// Calls the YAML module's `function` (`yaml_to_json` or `json_to_yaml`) on `text`,
    /// loading the module the first time.
    pub(super) async fn call(function: &str, text: &str) -> Result<String, String> {
        let unavailable = |why: String| {
            format!("the YAML reader could not be loaded ({why}); JSON backups need no reader")
        };
        let module = JsFuture::from(import_yaml_module(super::YAML_MODULE))
            .await
            .map_err(|e| unavailable(describe(&e)))?;
        let function: js_sys::Function = js_sys::Reflect::get(&module, &function.into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| unavailable(format!("it has no {function}")))?;
        match function.call1(&JsValue::NULL, &JsValue::from_str(text)) {
            Ok(converted) => converted
                .as_string()
                .ok_or_else(|| unavailable("it returned no text".into())),
            // The module's own error: the message for the file, as `parse` words it.
            Err(e) => Err(describe(&e)),
        }
    }

    fn describe(error: &JsValue) -> String {
        error
            .as_string()
            .or_else(|| {
                error
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| format!("{error:?}"))
    }
}
