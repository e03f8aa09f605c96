use stylist::yew::styled_component;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::note_image::NoteImageFigure;
use crate::hooks::{NoteImage, MAX_IMAGE_BYTES};

#[derive(Properties, PartialEq)]
pub struct NoteImagesProps {
    pub images: Vec<NoteImage>,
    pub on_add: Callback<Vec<web_sys::File>>,
    pub on_remove: Callback<String>,
    #[prop_or_default]
    pub error: Option<String>,
    #[prop_or_default]
    pub adding: bool,
    #[prop_or_default]
    pub disabled: bool,
}

/// A note's images and the file picker that adds more.
#[styled_component]
pub fn NoteImages(props: &NoteImagesProps) -> Html {
    let onchange = {
        let on_add = props.on_add.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let files: Vec<web_sys::File> = input
                .files()
                .map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect())
                .unwrap_or_default();
            // Picking the same file again must fire `change` again.
            input.set_value("");
            if !files.is_empty() {
                on_add.emit(files);
            }
        })
    };
    let class = css!(
        r#"
        margin: 0.5rem 0 1rem;
        h2 { margin-top: 0; }
        ul { list-style: none; padding: 0; margin: 0.5rem 0; display: grid; gap: 0.75rem;
             grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr)); }
        figure { margin: 0; }
        img, .note-image-placeholder {
            display: block; width: 100%; aspect-ratio: 4 / 3; object-fit: cover; border-radius: 6px;
            border: 1px solid color-mix(in srgb, var(--fg) 20%, transparent);
        }
        .note-image-placeholder {
            display: flex; align-items: center; justify-content: center; text-align: center;
            padding: 0.5rem; color: var(--muted); font-size: 0.875rem;
            background: color-mix(in srgb, var(--fg) 6%, transparent);
        }
        figcaption { display: flex; align-items: center; gap: 0.25rem; font-size: 0.875rem; }
        .note-image-name { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        button { font: inherit; cursor: pointer; }
        .note-add-images {
            display: inline-flex; align-items: center; min-height: 2.75rem; padding: 0 1rem;
            border-radius: 6px; border: 1px dashed var(--muted); cursor: pointer;
        }
        .note-add-images:focus-within { outline: 2px solid var(--accent); outline-offset: 2px; }
        input[type=file] { position: absolute; opacity: 0; width: 1px; height: 1px; }
        .hint { color: var(--muted); font-size: 0.875rem; margin: 0.25rem 0; }
        "#
    );
    let limit_mb = MAX_IMAGE_BYTES / 1024.0 / 1024.0;
    html! {
        <section {class} aria-labelledby="note-images-title">
            <h2 id="note-images-title">{ "Images" }</h2>
            if !props.images.is_empty() {
                <ul>
                    { for props.images.iter().map(|image| html! {
                        <NoteImageFigure key={image.id.clone()} image={image.clone()} on_remove={props.on_remove.clone()} />
                    }) }
                </ul>
            }
            <label class="note-add-images">
                { if props.adding { "Adding images…" } else { "Add images" } }
                <input id="note-images-input" type="file" accept="image/*" multiple=true
                    disabled={props.disabled} {onchange} aria-describedby="note-images-hint" />
            </label>
            <p id="note-images-hint" class="hint">
                { format!("Up to {limit_mb} MB each. Images stay on this device; other devices show a placeholder.") }
            </p>
            if let Some(error) = &props.error {
                <p class="error" role="alert">{ error }</p>
            }
        </section>
    }
}
