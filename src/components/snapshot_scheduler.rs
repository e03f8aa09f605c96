use yew::prelude::*;

use crate::hooks::use_snapshot_scheduler;

#[derive(Properties, PartialEq)]
pub struct SnapshotSchedulerProps {
    /// Called after each automatic snapshot.
    #[prop_or_default]
    pub on_taken: Callback<()>,
}

/// Takes the automatic local snapshots (every N minutes of visible use, keeping K, as set
/// on the Storage page). Renders nothing. Mount it once, high in the tree (inside
/// `PersistenceProvider`); extra instances stay idle while one runs.
#[function_component]
pub fn SnapshotScheduler(props: &SnapshotSchedulerProps) -> Html {
    let on_taken = props.on_taken.clone();
    use_snapshot_scheduler(Callback::from(move |_| on_taken.emit(())));
    html! {}
}
