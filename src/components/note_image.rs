use yew::prelude::*;

use cairn_yew::{use_blob, BlobView};

use crate::hooks::NoteImage;

#[derive(Properties, PartialEq)]
pub struct NoteImageFigureProps {
    pub image: NoteImage,
    pub on_remove: Callback<String>,
}

/// One image of a note: from this device, or fetched from the server the first time it
/// is shown (and kept); a placeholder says why when it cannot be shown yet.
#[function_component]
pub fn NoteImageFigure(props: &NoteImageFigureProps) -> Html {
    let view = use_blob(&props.image.id);
    let name = props.image.name.clone();
    let picture = match view {
        BlobView::Loading => html! {
            <div class="note-image-placeholder" aria-busy="true">{ "Loading image…" }</div>
        },
        BlobView::Ready(url) => html! { <img src={url} alt={name.clone()} /> },
        BlobView::Unavailable(why) => html! {
            <div class="note-image-placeholder note-image-missing" role="img"
                aria-label={format!("{name}: {why}")}>
                { why }
            </div>
        },
        BlobView::Failed(e) => html! {
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
