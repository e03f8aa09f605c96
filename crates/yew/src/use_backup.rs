//! Export to a file and import from one: choose → validate → dry run → merge or replace
//! (images first, then records in batches, with progress) → summary. The format,
//! validation and planning are in `cairn_protocol::backup`; the store work in
//! `cairn_client::backup`.
//!
//! An export carries the images its records name: this device's, and (inside a
//! [`SyncProvider`](crate::SyncProvider), signed in) those only the server has, fetched
//! for it; how many of how many is [`BackupHandle::export_progress`], and an image that
//! could not be had is listed in [`BackupHandle::export_left_out`].

use std::rc::Rc;

use cairn_client::backup::{download_text, read_file_text, Exported};
use cairn_client::secrets::decrypt_from_backup;
use cairn_client::{SecretError, SyncEngine};
use cairn_protocol::backup::{Backup, FileFormat, ImportMode, Plan, Validated};
use wasm_bindgen::JsValue;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::persistence::{use_persistence, Persistence};
use crate::use_storage::announce;
use crate::use_sync::SyncContext;
use crate::yaml::{file_text, parse_file};

/// What to export.
///
/// ```
/// use cairn_yew::FileFormat;
/// let request = cairn_yew::ExportRequest {
///     format: FileFormat::Json,
///     collections: Some(vec!["notes".into()]),
///     passphrase: None,
/// };
/// assert!(request.passphrase.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    /// The file format (JSON or YAML).
    pub format: FileFormat,
    /// `None`: every collection.
    pub collections: Option<Vec<String>>,
    /// Include the secrets, encrypted with this passphrase.
    pub passphrase: Option<String>,
}

/// A file that passed validation, with the dry run of both ways to import it.
///
/// ```no_run
/// # fn run(backup: cairn_yew::BackupHandle) {
/// if let cairn_yew::ImportStage::Ready(ready) = backup.stage() {
///     let records = ready.validated.backup.records.len();
/// }
/// # }
/// ```
#[derive(Debug, PartialEq)]
pub struct ReadyImport {
    /// The chosen file's name.
    pub file_name: String,
    /// The parsed, validated backup.
    pub validated: Validated,
    /// What importing it by merge would do.
    pub merge: Plan,
    /// What importing it by replacing everything would do.
    pub replace: Plan,
}

/// Where an import is.
///
/// ```
/// use cairn_yew::ImportStage;
/// let label = |stage: &ImportStage| match stage {
///     ImportStage::Applying { done, total, .. } => format!("{done} of {total}"),
///     ImportStage::Done(_) => "Imported".to_owned(),
///     _ => String::new(),
/// };
/// assert_eq!(label(&ImportStage::Idle), "");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ImportStage {
    /// No import started (or [`BackupHandle::reset`]).
    Idle,
    /// Reading and validating the chosen file.
    Checking {
        /// The chosen file's name.
        file_name: String,
    },
    /// The file cannot be imported at all; nothing was changed.
    Refused {
        /// The chosen file's name.
        file_name: String,
        /// Why, as a sentence for the user.
        reason: String,
    },
    /// Validated: the dry-run report, waiting for the user's choice.
    Ready(Rc<ReadyImport>),
    /// Storing the file's images (before its records, so they are uploaded first).
    StoringImages {
        /// Merging or replacing.
        mode: ImportMode,
        /// Images stored (or found here already) so far.
        done: usize,
        /// Images in the file.
        total: usize,
    },
    /// Writing, batch by batch.
    Applying {
        /// Merging or replacing.
        mode: ImportMode,
        /// Records written so far.
        done: usize,
        /// Records to write in all.
        total: usize,
    },
    /// Finished: what was written.
    Done(ImportOutcome),
    /// Writing failed part-way; whole batches before it were applied.
    Failed(String),
}

/// The summary of a finished import.
///
/// ```no_run
/// # fn run(outcome: cairn_yew::ImportOutcome) {
/// let summary = format!("{} written, {} skipped", outcome.written, outcome.skipped);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOutcome {
    /// Merged or replaced.
    pub mode: ImportMode,
    /// Records written.
    pub written: usize,
    /// Unsynced local changes that moved to the conflict log.
    pub conflicts: usize,
    /// Records skipped: changed here meanwhile, the local version kept.
    pub skipped: usize,
    /// Secrets restored (`None`: the file had none; `Some(0)` with secrets in the file:
    /// no passphrase was given).
    pub secrets: Option<usize>,
    /// Images of the file stored here (they are uploaded before the records naming
    /// them are pushed).
    pub images_stored: usize,
    /// Images of the file this device had already.
    pub images_present: usize,
}

/// The handle returned by [`use_backup`].
///
/// ```no_run
/// use cairn_yew::{use_backup, ExportRequest};
/// use cairn_yew::FileFormat;
/// use yew::prelude::*;
///
/// #[function_component]
/// fn Export() -> Html {
///     let backup = use_backup();
///     let export = {
///         let backup = backup.clone();
///         Callback::from(move |_| {
///             let request = ExportRequest { format: FileFormat::Json, collections: None, passphrase: None };
///             backup.export(request, Callback::noop());
///         })
///     };
///     html! { <button onclick={export} disabled={backup.is_exporting()}>{ "Export" }</button> }
/// }
/// ```
#[derive(Clone)]
pub struct BackupHandle {
    persistence: Persistence,
    stage: UseStateHandle<ImportStage>,
    /// A problem with the user's input at the current stage (a wrong passphrase).
    problem: UseStateHandle<Option<String>>,
    exporting: UseStateHandle<bool>,
    export_result: UseStateHandle<Option<Result<String, String>>>,
    /// Images put into the running export so far, of how many.
    export_progress: UseStateHandle<Option<(usize, usize)>>,
    /// Images the last export could not include, each a sentence.
    export_left_out: UseStateHandle<Rc<Vec<String>>>,
    /// The sync context, when inside a `SyncProvider`: an export fetches images only the
    /// server has through it.
    sync: Option<SyncContext>,
}

impl BackupHandle {
    /// Where the import is.
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle) {
    /// let busy = matches!(backup.stage(), cairn_yew::ImportStage::Applying { .. });
    /// # }
    /// ```
    pub fn stage(&self) -> &ImportStage {
        &self.stage
    }

    /// A problem with the user's input at the current stage (a wrong passphrase).
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle) {
    /// if let Some(problem) = backup.problem() { gloo::console::warn!(problem.to_owned()); }
    /// # }
    /// ```
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// True while an export runs.
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle) {
    /// let disabled = backup.is_exporting();
    /// # }
    /// ```
    pub fn is_exporting(&self) -> bool {
        *self.exporting
    }

    /// The sentence saying how the last export went (`Err` if it failed).
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle) {
    /// match backup.export_result() {
    ///     Some(Ok(message)) | Some(Err(message)) => gloo::console::log!(message.clone()),
    ///     None => {}
    /// }
    /// # }
    /// ```
    pub fn export_result(&self) -> Option<&Result<String, String>> {
        self.export_result.as_ref()
    }

    /// While an export runs: how many of the images it carries are in it so far, of how
    /// many (`None` before it knows, and when no export runs).
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle) {
    /// if let Some((done, total)) = backup.export_progress() {
    ///     gloo::console::log!(format!("images {done} of {total}"));
    /// }
    /// # }
    /// ```
    pub fn export_progress(&self) -> Option<(usize, usize)> {
        *self.export_progress
    }

    /// The images the last export could not include (not on this device, and the server
    /// could not give them), each a sentence naming the image, its record and why.
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle) {
    /// for problem in backup.export_left_out() { gloo::console::warn!(problem.clone()); }
    /// # }
    /// ```
    pub fn export_left_out(&self) -> &[String] {
        &self.export_left_out
    }

    /// Writes a backup file and offers it as a download. `on_done(exported_at_ms)` runs
    /// after a successful export.
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle) {
    /// use cairn_yew::FileFormat;
    /// let request = cairn_yew::ExportRequest { format: FileFormat::Yaml, collections: None, passphrase: Some("correct horse".into()) };
    /// backup.export(request, yew::Callback::from(|at_ms: u64| gloo::console::log!(at_ms as f64)));
    /// # }
    /// ```
    pub fn export(&self, request: ExportRequest, on_done: Callback<u64>) {
        let this = self.clone();
        this.exporting.set(true);
        this.export_result.set(None);
        this.export_progress.set(None);
        this.export_left_out.set(Rc::default());
        spawn_local(async move {
            let progress = {
                let handle = this.export_progress.clone();
                move |done, total| handle.set(Some((done, total)))
            };
            let result = export(
                &this.persistence,
                this.sync.as_ref(),
                &request,
                progress,
                &this.export_left_out,
            )
            .await;
            this.exporting.set(false);
            this.export_progress.set(None);
            if let Ok((_, at)) = &result {
                on_done.emit(*at);
            }
            this.export_result
                .set(Some(result.map(|(message, _)| message)));
        });
    }

    /// Reads and validates `file` (a `File` from an `<input type=file>`) and plans both
    /// imports. Writes nothing.
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle, input: web_sys::HtmlInputElement) {
    /// if let Some(file) = input.files().and_then(|files| files.get(0)) {
    ///     let name = file.name();
    ///     backup.choose(file.into(), name);
    /// }
    /// # }
    /// ```
    pub fn choose(&self, file: JsValue, file_name: String) {
        let this = self.clone();
        this.problem.set(None);
        this.stage.set(ImportStage::Checking {
            file_name: file_name.clone(),
        });
        spawn_local(async move {
            let refused = |reason: String| ImportStage::Refused {
                file_name: file_name.clone(),
                reason,
            };
            let stage = match read_file_text(&file).await {
                Err(e) => refused(e),
                Ok(text) => match parse_file(text, js_sys::Date::now() as u64).await {
                    Err(e) => refused(capitalised(&e)),
                    Ok(validated) => {
                        let store = this.persistence.store();
                        let plans = futures_join(
                            store.plan_import(&validated, ImportMode::Merge),
                            store.plan_import(&validated, ImportMode::Replace),
                        )
                        .await;
                        match plans {
                            Ok((merge, replace)) => ImportStage::Ready(Rc::new(ReadyImport {
                                file_name: file_name.clone(),
                                validated,
                                merge,
                                replace,
                            })),
                            Err(e) => {
                                refused(format!("The data on this device could not be read: {e}"))
                            }
                        }
                    }
                },
            };
            this.stage.set(stage);
        });
    }

    /// Imports the ready file by `mode`. With secrets in the file and a `passphrase`,
    /// they are decrypted first (a wrong passphrase stops everything before any write)
    /// and restored after the records. The file's images are stored first (marked for
    /// upload, so they reach the server before the records naming them).
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle) {
    /// use cairn_yew::ImportMode;
    /// backup.apply(ImportMode::Merge, String::new(), yew::Callback::noop());
    /// # }
    /// ```
    pub fn apply(&self, mode: ImportMode, passphrase: String, on_done: Callback<()>) {
        let ImportStage::Ready(ready) = &*self.stage else {
            return;
        };
        let (this, ready) = (self.clone(), ready.clone());
        this.problem.set(None);
        spawn_local(async move {
            let secrets = match (&ready.validated.backup.secrets, passphrase.is_empty()) {
                (None, _) => None,
                (Some(_), true) => Some(Vec::new()),
                (Some(encrypted), false) => match decrypt_from_backup(encrypted, &passphrase).await
                {
                    Ok(entries) => Some(entries),
                    Err(e) => {
                        this.problem.set(Some(match e {
                            SecretError::WrongPassphrase => {
                                "Wrong passphrase for the secrets in this file. Nothing was imported.".to_owned()
                            }
                            other => format!("The secrets could not be read: {other}. Nothing was imported."),
                        }));
                        return;
                    }
                },
            };
            let plan = match mode {
                ImportMode::Merge => &ready.merge,
                ImportMode::Replace => &ready.replace,
            };
            let images = {
                let stage = this.stage.clone();
                move |done, total| stage.set(ImportStage::StoringImages { mode, done, total })
            };
            let blobs = &ready.validated.backup.blobs;
            let outcome = match this.persistence.store().import_blobs(plan, blobs, images).await {
                Ok(images) => run_import(&this.persistence, plan, &this.stage)
                    .await
                    .map(|o| ImportOutcome {
                        images_stored: images.stored,
                        images_present: images.present,
                        ..o
                    }),
                Err(e) => Err(format!(
                    "Importing stopped while storing the images: {e}. No record was written; importing the file again completes it."
                )),
            };
            let stage = match outcome {
                Ok(mut outcome) => {
                    if let Some(entries) = secrets {
                        match this.persistence.store().restore_secrets(&entries).await {
                            Ok(()) => outcome.secrets = Some(entries.len()),
                            Err(e) => this.problem.set(Some(format!(
                                "The records were imported, but the secrets could not be stored: {e}"
                            ))),
                        }
                    }
                    ImportStage::Done(outcome)
                }
                Err(e) => ImportStage::Failed(e),
            };
            this.stage.set(stage);
            on_done.emit(());
        });
    }

    /// Back to choosing a file.
    ///
    /// ```no_run
    /// # fn run(backup: cairn_yew::BackupHandle) {
    /// backup.reset();
    /// # }
    /// ```
    pub fn reset(&self) {
        self.problem.set(None);
        self.stage.set(ImportStage::Idle);
    }
}

/// Applies `plan` batch by batch, showing progress in `stage`, and tells the app what
/// changed. Shared with snapshot restores.
pub(crate) async fn run_import(
    persistence: &Persistence,
    plan: &Plan,
    stage: &UseStateHandle<ImportStage>,
) -> Result<ImportOutcome, String> {
    let mode = plan.mode;
    let progress = {
        let stage = stage.clone();
        move |done, total| stage.set(ImportStage::Applying { mode, done, total })
    };
    match persistence.store().import(plan, progress).await {
        Ok(summary) => {
            let outcome = ImportOutcome {
                mode,
                written: summary.written,
                conflicts: summary.conflicts,
                skipped: summary.skipped,
                secrets: None,
                images_stored: 0,
                images_present: 0,
            };
            announce(persistence, summary.changed);
            Ok(outcome)
        }
        Err(e) => Err(format!(
            "Importing stopped part-way: {e}. What was written so far is kept; importing the file again completes it."
        )),
    }
}

/// The server of `sync`'s provider (`""`: the page's own origin).
fn sync_server(sync: &SyncContext) -> String {
    sync.controller.server().to_owned()
}

async fn export(
    persistence: &Persistence,
    sync: Option<&SyncContext>,
    request: &ExportRequest,
    progress: impl FnMut(usize, usize),
    left_out_to: &UseStateHandle<Rc<Vec<String>>>,
) -> Result<(String, u64), String> {
    let store = persistence.store();
    let engine = sync.map(|sync| SyncEngine::new(store, sync_server(sync)));
    let Exported {
        mut backup,
        left_out,
    } = store
        .export_with_blobs(
            request.collections.as_deref(),
            persistence.app_version(),
            engine.as_ref(),
            progress,
        )
        .await
        .map_err(|e| format!("Export failed: {e}"))?;
    if let Some(passphrase) = &request.passphrase {
        backup.secrets = Some(
            store
                .export_secrets(passphrase)
                .await
                .map_err(|e| format!("Export failed: {e}"))?,
        );
    }
    let text = file_text(&backup, request.format)
        .await
        .map_err(|e| format!("Export failed: {e}"))?;
    let name = Backup::file_name(&file_stamp(backup.exported_at_ms), request.format);
    download_text(&name, request.format.mime_type(), &text)?;
    let secrets = match &backup.secrets {
        Some(s) => format!(" and {} encrypted secret(s)", s.count),
        None => String::new(),
    };
    let images = match (backup.blobs.len(), left_out.len()) {
        (0, 0) => String::new(),
        (n, 0) => format!(", {n} image(s)"),
        (n, missing) => format!(", {n} image(s) ({missing} could not be included)"),
    };
    left_out_to.set(Rc::new(
        left_out
            .iter()
            .map(|l| capitalised(&l.to_string()))
            .collect(),
    ));
    Ok((
        format!(
            "Saved {name}: {} record(s){images}{secrets}, {}.",
            backup.records.len(),
            human_bytes(text.len() as f64)
        ),
        backup.exported_at_ms,
    ))
}

/// `2026-11-22T0215` in local time.
fn file_stamp(ms: u64) -> String {
    let d = js_sys::Date::new(&(ms as f64).into());
    format!(
        "{:04}-{:02}-{:02}T{:02}{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

async fn futures_join<A, B, E>(
    a: impl std::future::Future<Output = Result<A, E>>,
    b: impl std::future::Future<Output = Result<B, E>>,
) -> Result<(A, B), E> {
    Ok((a.await?, b.await?))
}

/// `1234567` → `1.2 MB`.
///
/// ```
/// assert_eq!(cairn_yew::human_bytes(999.0), "999 bytes");
/// assert_eq!(cairn_yew::human_bytes(1_234_567.0), "1.2 MB");
/// ```
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[0])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Export and import for the Storage page.
///
/// ```no_run
/// use cairn_yew::{use_backup, ImportStage};
/// use yew::prelude::*;
///
/// #[function_component]
/// fn ImportStatus() -> Html {
///     let backup = use_backup();
///     match backup.stage() {
///         ImportStage::Refused { reason, .. } => html! { <p role="alert">{ reason.clone() }</p> },
///         _ => html! {},
///     }
/// }
/// ```
#[hook]
pub fn use_backup() -> BackupHandle {
    BackupHandle {
        persistence: use_persistence(),
        stage: use_state(|| ImportStage::Idle),
        problem: use_state(|| None),
        exporting: use_state(|| false),
        export_result: use_state(|| None),
        export_progress: use_state(|| None),
        export_left_out: use_state(Rc::default),
        sync: use_context::<SyncContext>(),
    }
}
