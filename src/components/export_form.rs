use cairn_protocol::backup::FileFormat;
use serde::{Deserialize, Serialize};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::ImportProgress;
use crate::format::time_of;
use crate::hooks::config::UI;
use crate::hooks::{use_backup, use_persistent_state_with, ExportRequest, PersistOptions};

/// The export choices, kept (collection `ui`) so the page opens as the user left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ExportPrefs {
    yaml: bool,
    /// Every collection, or only `chosen`.
    all: bool,
    chosen: Vec<String>,
    last_export_ms: Option<u64>,
}

impl Default for ExportPrefs {
    fn default() -> Self {
        ExportPrefs {
            yaml: false,
            all: true,
            chosen: Vec::new(),
            last_export_ms: None,
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct ExportFormProps {
    /// The collections there are to choose from.
    pub collections: Vec<String>,
    /// How many secrets are stored (they are only exported on request, encrypted).
    pub secrets: usize,
}

/// Export to a JSON or YAML file: everything or chosen collections, with the images their
/// records name (how many of how many shown while they are gathered; any that could not
/// be had listed); secrets only when asked, encrypted with a passphrase.
#[function_component]
pub fn ExportForm(props: &ExportFormProps) -> Html {
    let backup = use_backup();
    let prefs = use_persistent_state_with(
        UI,
        "storage-export",
        ExportPrefs::default(),
        PersistOptions::default().debounce_ms(0),
    );
    let include_secrets = use_state(|| false);
    let passphrase = use_node_ref();
    let confirm = use_node_ref();
    let problem = use_state(|| None::<String>);
    let current = prefs.value().clone();

    let update = |f: fn(&mut ExportPrefs, &HtmlInputElement, &str), name: String| {
        let prefs = prefs.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            prefs.update(|p| {
                let mut next = p.clone();
                f(&mut next, &input, &name);
                next
            });
        })
    };
    let on_json = update(|p, _, _| p.yaml = false, String::new());
    let on_yaml = update(|p, _, _| p.yaml = true, String::new());
    let on_all = update(|p, input, _| p.all = input.checked(), String::new());
    let on_secrets = {
        let include = include_secrets.clone();
        Callback::from(move |e: Event| {
            include.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let boxes = props.collections.iter().map(|c| {
        let on_change = update(
            |p, input, name| {
                p.chosen.retain(|c| c != name);
                if input.checked() {
                    p.chosen.push(name.to_owned());
                    p.chosen.sort();
                }
            },
            c.clone(),
        );
        let id = format!("export-collection-{c}");
        html! {
            <li key={c.clone()}>
                <input type="checkbox" id={id.clone()} checked={current.all || current.chosen.contains(c)}
                    disabled={current.all} onchange={on_change} />
                <label for={id}>{ c }</label>
            </li>
        }
    });

    let onsubmit = {
        let (backup, prefs, problem) = (backup.clone(), prefs.clone(), problem.clone());
        let (passphrase, confirm, include) =
            (passphrase.clone(), confirm.clone(), *include_secrets);
        let collections = props.collections.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = prefs.value().clone();
            let value = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            let passphrase = if include {
                let (first, second) = (value(&passphrase), value(&confirm));
                if first.chars().count() < 8 {
                    problem.set(Some(
                        "Choose a passphrase of at least 8 characters to protect the secrets."
                            .into(),
                    ));
                    return;
                }
                if first != second {
                    problem.set(Some("The two passphrases differ.".into()));
                    return;
                }
                Some(first)
            } else {
                None
            };
            let chosen: Vec<String> = p
                .chosen
                .iter()
                .filter(|c| collections.contains(c))
                .cloned()
                .collect();
            if !p.all && chosen.is_empty() {
                problem.set(Some("Choose at least one collection, or all data.".into()));
                return;
            }
            problem.set(None);
            let request = ExportRequest {
                format: if p.yaml {
                    FileFormat::Yaml
                } else {
                    FileFormat::Json
                },
                collections: (!p.all).then_some(chosen),
                passphrase,
            };
            let prefs = prefs.clone();
            backup.export(
                request,
                Callback::from(move |at: u64| {
                    prefs.update(|p| ExportPrefs {
                        last_export_ms: Some(at),
                        ..p.clone()
                    })
                }),
            );
        })
    };
    let result = match (&*problem, backup.export_result()) {
        (Some(p), _) => html! { <p id="export-result" role="alert" class="error">{ p }</p> },
        (None, Some(Err(e))) => {
            html! { <p id="export-result" role="alert" class="error">{ e }</p> }
        }
        (None, Some(Ok(m))) => html! { <p id="export-result" role="status">{ m }</p> },
        (None, None) => html! { <p id="export-result" role="status"></p> },
    };
    let progress = match backup.export_progress() {
        Some((done, total)) if total > 0 => html! {
            <ImportProgress id="export-progress" label="Putting images into the file" unit="images" {done} {total} />
        },
        _ => html! {},
    };
    let left_out = backup.export_left_out();
    let left_out = (!left_out.is_empty()).then(|| {
        html! {
            <div id="export-left-out" role="alert" class="error">
                <p>{ format!("{} image(s) could not be included in the file:", left_out.len()) }</p>
                <ul>{ for left_out.iter().map(|l| html! { <li>{ l }</li> }) }</ul>
            </div>
        }
    });
    html! {
        <section aria-labelledby="export-title" class="storage-section">
            <h2 id="export-title">{ "Export" }</h2>
            <form id="export-form" {onsubmit}>
                <fieldset>
                    <legend>{ "File format" }</legend>
                    <input type="radio" name="export-format" id="export-format-json" checked={!current.yaml} onchange={on_json} />
                    <label for="export-format-json">{ "JSON" }</label>{ " " }
                    <input type="radio" name="export-format" id="export-format-yaml" checked={current.yaml} onchange={on_yaml} />
                    <label for="export-format-yaml">{ "YAML" }</label>
                </fieldset>
                <fieldset>
                    <legend>{ "What to export" }</legend>
                    <input type="checkbox" id="export-all" checked={current.all} onchange={on_all} />
                    <label for="export-all">{ "All data" }</label>
                    <ul class="choices">{ for boxes }</ul>
                </fieldset>
                <fieldset>
                    <legend>{ "Secrets" }</legend>
                    <p class="hint">{ format!("{} secret(s) on this device. They are left out unless you include them; then they are encrypted with a passphrase you choose.", props.secrets) }</p>
                    <input type="checkbox" id="export-secrets" checked={*include_secrets} onchange={on_secrets} />
                    <label for="export-secrets">{ "Include secrets (encrypted)" }</label>
                    if *include_secrets {
                        <div class="passphrase">
                            <label for="export-passphrase">{ "Passphrase" }</label>
                            <input type="password" id="export-passphrase" ref={passphrase} autocomplete="new-password" minlength="8" required=true />
                            <label for="export-passphrase-again">{ "Passphrase again" }</label>
                            <input type="password" id="export-passphrase-again" ref={confirm} autocomplete="new-password" required=true />
                        </div>
                    }
                </fieldset>
                <button type="submit" id="export-button" disabled={backup.is_exporting()}>
                    { if backup.is_exporting() { "Exporting…" } else { "Export" } }
                </button>
            </form>
            { progress }
            { result }
            { for left_out }
            <p id="last-export">{ match current.last_export_ms {
                Some(ms) => format!("Last export: {}", time_of(ms)),
                None => "Not exported yet.".to_owned(),
            } }</p>
        </section>
    }
}
