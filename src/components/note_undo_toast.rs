use std::cell::Cell;
use std::rc::Rc;

use gloo::timers::callback::Timeout;
use stylist::yew::styled_component;
use yew::prelude::*;

/// How long Undo is offered.
pub const UNDO_MS: u32 = 10_000;

#[derive(Properties, PartialEq)]
pub struct NoteUndoToastProps {
    /// The deleted note's title, for screen readers.
    pub title: AttrValue,
    pub on_undo: Callback<()>,
    /// Undo is no longer offered (time is up, or dismissed).
    pub on_close: Callback<()>,
    /// The note can no longer be restored: called once when the toast goes away without
    /// Undo (closed, or left by navigating).
    pub on_discard: Callback<()>,
}

/// "Note deleted — Undo", offered for `UNDO_MS` or until dismissed or left.
#[styled_component]
pub fn NoteUndoToast(props: &NoteUndoToastProps) -> Html {
    let undone = use_mut_ref(|| Rc::new(Cell::new(false)));
    {
        let (on_close, on_discard, undone) = (
            props.on_close.clone(),
            props.on_discard.clone(),
            undone.borrow().clone(),
        );
        use_effect_with((), move |_| {
            let timeout = Timeout::new(UNDO_MS, move || on_close.emit(()));
            move || {
                drop(timeout);
                if !undone.get() {
                    on_discard.emit(());
                }
            }
        });
    }
    let undo = {
        let (on_undo, undone) = (props.on_undo.clone(), undone.borrow().clone());
        Callback::from(move |_| {
            undone.set(true);
            on_undo.emit(());
        })
    };
    let dismiss = {
        let on_close = props.on_close.clone();
        Callback::from(move |_| on_close.emit(()))
    };
    let class = css!(
        r#"
        position: sticky; bottom: 1rem; z-index: 1;
        display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem;
        margin: 1rem 0; padding: 0.75rem 1rem; border-radius: 8px;
        background: var(--fg); color: var(--bg);
        p { margin: 0; margin-right: auto; }
        button { font: inherit; cursor: pointer; min-height: 2.5rem; padding: 0 0.75rem; }
        .visually-hidden {
            position: absolute; width: 1px; height: 1px; overflow: hidden;
            clip-path: inset(50%); white-space: nowrap;
        }
        "#
    );
    html! {
        <div {class} id="note-undo" role="status" aria-live="polite">
            <p>{ "Note deleted" }<span class="visually-hidden">{ format!(": {}", props.title) }</span></p>
            <button type="button" onclick={undo}>{ "Undo" }</button>
            <button type="button" onclick={dismiss} aria-label="Dismiss">{ "✕" }</button>
        </div>
    }
}
