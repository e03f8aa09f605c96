use stylist::yew::styled_component;
use yew::prelude::*;

use crate::components::{
    ClearData, ExportForm, ImportForm, SnapshotList, SnapshotScheduler, StorageImages, StorageSync,
    StorageUsage,
};
use crate::hooks::{use_storage, use_sync};

/// Counts changes made from this page, so every section re-reads after one.
#[derive(Default, PartialEq)]
struct Revision(u32);

impl Reducible for Revision {
    type Action = ();
    fn reduce(self: std::rc::Rc<Self>, _: ()) -> std::rc::Rc<Self> {
        Revision(self.0 + 1).into()
    }
}

/// Storage: what is kept on this device and how much room it takes, sync and conflicts,
/// export and import, snapshots, and clearing data.
#[styled_component]
pub fn Storage() -> Html {
    let storage = use_storage();
    let sync = use_sync();
    let revision = use_reducer(Revision::default);
    {
        // Sync rounds and this page's own changes alter what is stored: count again.
        let storage = storage.clone();
        let status = &sync.view.status;
        let deps = (status.pending, status.last_success_ms, revision.0);
        use_effect_with(deps, move |_| storage.refresh());
    }
    let changed = {
        let revision = revision.dispatcher();
        use_callback((), move |_: (), _| revision.dispatch(()))
    };
    let view = storage.view();
    let on_persist = {
        let storage = storage.clone();
        Callback::from(move |_| storage.request_persistence())
    };
    let on_clear = {
        let (storage, changed) = (storage.clone(), changed.clone());
        Callback::from(move |collections| storage.clear(collections, changed.clone()))
    };
    let (all, live): (Vec<String>, Vec<String>) = match &view.usage {
        Some(Ok(usage)) => (
            usage
                .collections
                .iter()
                .map(|c| c.collection.clone())
                .collect(),
            usage
                .collections
                .iter()
                .filter(|c| c.records > 0)
                .map(|c| c.collection.clone())
                .collect(),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let class = css!(
        r#"
        .storage-section { border: 1px solid #c9d6cf; border-radius: 6px; padding: 0.75rem 1rem; margin: 1rem 0; }
        .storage-section h2 { margin-top: 0; }
        table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
        th, td { text-align: left; padding: 0.25rem 0.5rem 0.25rem 0; border-bottom: 1px solid #e3ebe7; }
        td.records, td.bytes { text-align: right; white-space: nowrap; }
        tfoot th, tfoot td { font-weight: 700; border-bottom: none; }
        progress { width: 100%; height: 1.25rem; }
        fieldset { border: 1px solid #e3ebe7; border-radius: 4px; margin: 0 0 0.75rem; min-width: 0; }
        ul.choices { list-style: none; padding: 0; margin: 0.25rem 0 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; }
        ul#snapshot-list, ul#conflict-log { padding: 0; }
        li.snapshot { list-style: none; border-top: 1px solid #e3ebe7; padding: 0.5rem 0; }
        li.snapshot p { margin: 0 0 0.25rem; }
        .passphrase, .snapshot-settings { display: grid; gap: 0.25rem; max-width: 24rem; margin: 0.5rem 0; }
        input[type=password], input[type=number], input[type=file] { font: inherit; max-width: 100%; }
        button { font: inherit; cursor: pointer; min-height: 2.25rem; }
        button.danger { background: var(--error); color: var(--bg); border: 1px solid var(--error); border-radius: 4px; padding: 0 0.75rem; }
        .confirm { background: var(--warn-bg); color: var(--warn-fg); border-radius: 4px; padding: 0.5rem 0.75rem; margin: 0.5rem 0; }
        .hint { color: var(--muted); margin-top: 0; }
        .plan dt { font-weight: 700; }
        .plan dd { margin: 0 0 0.5rem; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
        :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        "#
    );
    html! {
        <div {class} id="storage-page">
            <h1>{ "Storage" }</h1>
            <SnapshotScheduler on_taken={changed.clone()} />
            <StorageUsage view={view.clone()} on_persist={on_persist} />
            <StorageImages revision={revision.0} />
            <StorageSync />
            <ExportForm collections={all} secrets={view.secrets} />
            <ImportForm on_changed={changed.clone()} />
            <SnapshotList on_changed={changed.clone()} revision={revision.0} />
            <ClearData collections={live} clearing={view.clearing} message={view.clear_message.clone()} {on_clear} />
        </div>
    }
}
