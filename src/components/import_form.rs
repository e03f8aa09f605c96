use cairn_protocol::backup::{ImportMode, Plan};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::ImportProgress;
use crate::format::{summary_text, time_of};
use crate::hooks::{use_backup, ImportStage};

/// Most invalid records listed by name.
const REJECTS_SHOWN: usize = 20;

#[derive(Properties, PartialEq)]
pub struct ImportFormProps {
    /// Called after an import wrote something.
    #[prop_or_default]
    pub on_changed: Callback<()>,
}

/// Import a backup: choose a file → it is validated and a dry run says what merging or
/// replacing would do (and how many images it brings) → Merge, or Replace all (after a
/// confirmation) → progress (images, then records) → summary. A file that is not a complete, valid backup changes nothing.
#[function_component]
pub fn ImportForm(props: &ImportFormProps) -> Html {
    let backup = use_backup();
    let confirming = use_state(|| false);
    let passphrase = use_node_ref();
    let file_input = use_node_ref();

    let onchange = {
        let (backup, confirming) = (backup.clone(), confirming.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let file = js_sys::Reflect::get(&input, &"files".into())
                .and_then(|files| js_sys::Reflect::get(&files, &0.into()))
                .ok()
                .filter(|f| !f.is_undefined() && !f.is_null());
            confirming.set(false);
            match file {
                Some(file) => {
                    let name = js_sys::Reflect::get(&file, &"name".into())
                        .ok()
                        .and_then(|n| n.as_string())
                        .unwrap_or_default();
                    backup.choose(file, name);
                }
                None => backup.reset(),
            }
        })
    };
    let apply = |mode: ImportMode| {
        let (backup, passphrase, on_changed) =
            (backup.clone(), passphrase.clone(), props.on_changed.clone());
        let confirming = confirming.clone();
        Callback::from(move |_| {
            confirming.set(false);
            let passphrase = passphrase
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            backup.apply(mode, passphrase, on_changed.clone());
        })
    };
    let another = {
        let (backup, file_input) = (backup.clone(), file_input.clone());
        Callback::from(move |_| {
            if let Some(input) = file_input.cast::<HtmlInputElement>() {
                input.set_value("");
            }
            backup.reset();
        })
    };

    let body = match backup.stage() {
        ImportStage::Idle => html! {},
        ImportStage::Checking { file_name } => {
            html! { <p id="import-status" role="status" aria-busy="true">{ format!("Checking {file_name}…") }</p> }
        }
        ImportStage::Refused { file_name, reason } => html! {
            <div id="import-status" role="alert" class="error import-refused">
                <p><strong>{ format!("{file_name} cannot be imported.") }</strong>{ " " }{ reason }</p>
                <p>{ "Nothing was changed." }</p>
            </div>
        },
        ImportStage::Ready(ready) => {
            let b = &ready.validated.backup;
            let origin = match ready.validated.migrated_from {
                Some(v) => format!(" (format version {v}, converted)"),
                None => String::new(),
            };
            let header = html! {
                <p id="import-file-info">{ format!(
                    "{}: {} record(s) in {}, exported {} by Cairn {}{origin}.",
                    ready.file_name, b.records.len(), b.collections.join(", "),
                    time_of(b.exported_at_ms), b.app_version,
                ) }</p>
            };
            let images = (b.blobs.len() + ready.merge.rejected_blobs.len() > 0).then(|| {
                let damaged = &ready.merge.rejected_blobs;
                html! {
                    <div id="import-images-info">
                        <p>{ format!("It brings {} image(s); those this device lacks are stored and uploaded before the notes that show them.", b.blobs.len()) }</p>
                        if !damaged.is_empty() {
                            <p role="alert" class="error">{ format!("{} image(s) are damaged and are left out (the records are imported without them):", damaged.len()) }</p>
                            <ul id="import-rejected-images">
                                { for damaged.iter().take(REJECTS_SHOWN).map(|r| html! { <li>{ r.to_string() }</li> }) }
                            </ul>
                        }
                    </div>
                }
            });
            if !ready.merge.can_apply() {
                let reasons = ready
                    .merge
                    .rejected
                    .iter()
                    .take(REJECTS_SHOWN)
                    .map(|r| html! { <li>{ r.to_string() }</li> });
                let more = ready.merge.rejected.len().saturating_sub(REJECTS_SHOWN);
                html! {
                    <div id="import-status" role="alert" class="error import-refused">
                        { header }
                        <p><strong>{ format!("{} cannot be imported: {} record(s) are invalid.", ready.file_name, ready.merge.rejected.len()) }</strong></p>
                        <ul id="import-rejects">{ for reasons }</ul>
                        if more > 0 { <p>{ format!("… and {more} more.") }</p> }
                        <p>{ "Nothing was changed." }</p>
                    </div>
                }
            } else {
                let secrets = b.secrets.as_ref().map(|s| html! {
                    <div class="passphrase">
                        <label for="import-passphrase">{ format!("Passphrase for the {} secret(s) in this file (leave empty to skip them)", s.count) }</label>
                        <input type="password" id="import-passphrase" ref={passphrase.clone()} autocomplete="off" />
                    </div>
                });
                html! {
                    <div id="import-report">
                        { header }
                        { for images }
                        <h3>{ "What importing would do" }</h3>
                        <dl class="plan">
                            <dt>{ "Merge" }</dt>
                            <dd id="plan-merge">{ merge_text(&ready.merge) }</dd>
                            <dt>{ "Replace all" }</dt>
                            <dd id="plan-replace">{ replace_text(&ready.replace, &b.collections) }</dd>
                        </dl>
                        { for secrets }
                        if let Some(problem) = backup.problem() {
                            <p role="alert" class="error" id="import-problem">{ problem }</p>
                        }
                        if *confirming {
                            <div role="alertdialog" aria-labelledby="replace-confirm-text" class="confirm">
                                <p id="replace-confirm-text">{ format!(
                                    "Replace all data in {} with the file? {} record(s) will be deleted and {} written, here and, once synced, on your other devices.",
                                    b.collections.join(", "), ready.replace.counts.delete,
                                    ready.replace.counts.add + ready.replace.counts.update,
                                ) }</p>
                                <button id="import-replace-confirm" class="danger" onclick={apply(ImportMode::Replace)}>{ "Yes, replace all" }</button>{ " " }
                                <button onclick={{ let c = confirming.clone(); Callback::from(move |_| c.set(false)) }}>{ "Cancel" }</button>
                            </div>
                        } else {
                            <div class="actions">
                                <button id="import-merge" onclick={apply(ImportMode::Merge)}>{ "Merge into my data" }</button>
                                <button id="import-replace" onclick={{ let c = confirming.clone(); Callback::from(move |_| c.set(true)) }}>{ "Replace all…" }</button>
                                <button onclick={another.clone()}>{ "Cancel" }</button>
                            </div>
                        }
                    </div>
                }
            }
        }
        ImportStage::StoringImages { done, total, .. } => html! {
            <ImportProgress id="import-images-progress" label="Storing images" unit="images"
                done={*done} total={*total} />
        },
        ImportStage::Applying { mode, done, total } => html! {
            <ImportProgress id="import-progress" label={match mode { ImportMode::Merge => "Merging", ImportMode::Replace => "Replacing" }}
                done={*done} total={*total} />
        },
        ImportStage::Done(outcome) => html! {
            <div id="import-summary" role="status">
                <p>{ summary_text(outcome) }</p>
                if outcome.images_stored + outcome.images_present > 0 {
                    <p id="import-images">{ format!(
                        "{} image(s) stored ({} were on this device already).",
                        outcome.images_stored, outcome.images_present
                    ) }</p>
                }
                if let Some(problem) = backup.problem() {
                    <p role="alert" class="error">{ problem }</p>
                }
                <button onclick={another.clone()}>{ "Import another file" }</button>
            </div>
        },
        ImportStage::Failed(e) => html! {
            <div id="import-status" role="alert" class="error">
                <p>{ e }</p>
                <button onclick={another.clone()}>{ "Start again" }</button>
            </div>
        },
    };
    html! {
        <section aria-labelledby="import-title" class="storage-section">
            <h2 id="import-title">{ "Import" }</h2>
            <p class="hint">{ "A Cairn backup (JSON or YAML). You see what it would change before anything is written." }</p>
            <label for="import-file">{ "Backup file to import" }</label>
            <input type="file" id="import-file" ref={file_input} accept=".json,.yaml,.yml,application/json,application/yaml"
                {onchange} disabled={matches!(backup.stage(), ImportStage::Applying { .. } | ImportStage::StoringImages { .. } | ImportStage::Checking { .. })} />
            { body }
        </section>
    }
}

fn merge_text(plan: &Plan) -> String {
    let c = plan.counts;
    let mut text = format!(
        "add {}, update {}, delete {}; {} unchanged; {} older than yours (yours kept)",
        c.add, c.update, c.delete, c.unchanged, c.older
    );
    if c.conflicts > 0 {
        text.push_str(&format!(
            "; {} of your unsynced changes lose and go to the conflict log",
            c.conflicts
        ));
    }
    text.push('.');
    text
}

fn replace_text(plan: &Plan, collections: &[String]) -> String {
    let c = plan.counts;
    format!(
        "add {}, update {}, delete {} (everything in {} that the file lacks); {} unchanged.",
        c.add,
        c.update,
        c.delete,
        collections.join(", "),
        c.unchanged
    )
}
