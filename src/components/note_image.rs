use yew::prelude::*;

use crate::hooks::{use_note_image, NoteImage, NoteImageView};

#[derive(Properties, PartialEq)]
pub struct NoteImageFigureProps {
    pub image: NoteImage,
    pub on_remove: Callback<String>,
}

/// One image of a note, from this device's blob, or a placeholder when the image was
/// added on another device (images are not synced).
#[function_component]
pub fn NoteImageFigure(props: &NoteImageFigureProps) -> Html {
    let view = use_note_image(&props.image.id);
    let name = props.image.name.clone();
    let picture = match view {
        NoteImageView::Loading => html! {
            <div class="note-image-placeholder" aria-busy="true">{ "Loading image…" }</div>
        },
        NoteImageView::Ready(url) => html! { <img src={url} alt={name.clone()} /> },
        NoteImageView::Missing => html! {
            <div class="note-image-placeholder note-image-missing" role="img"
                aria-label={format!("{name}: image stored on another device")}>
                { "Image stored on another device" }
            </div>
        },
        NoteImageView::Failed(e) => html! {
            <div class="note-image-placeholder error" role="img"
                aria-label={format!("{name}: the image could not be read")}>
                { format!("The image could not be read: {e}") }
            </div>
        },
    };
    let remove = {
        let (on_remove, id) = (props.on_remove.clone(), props.image.id.clone());
        Callback::from(move |_| on_remove.emit(id.clone()))
    };
    html! {
        <li class="note-image" data-image-id={props.image.id.clone()}>
            <figure>
                { picture }
                <figcaption>
                    <span class="note-image-name">{ name.clone() }</span>
                    <button type="button" onclick={remove} aria-label={format!("Remove image {name}")}>
                        { "Remove" }
                    </button>
                </figcaption>
            </figure>
        </li>
    }
}
