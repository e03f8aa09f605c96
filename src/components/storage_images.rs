use yew::prelude::*;

use crate::format::human_bytes;
use crate::hooks::use_blob_usage;

#[derive(Properties, PartialEq)]
pub struct StorageImagesProps {
    /// Changes when something on the page changed what is stored: read again.
    pub revision: u32,
}

/// The bytes of note images on this device and on the server, with the account's quota.
#[function_component]
pub fn StorageImages(props: &StorageImagesProps) -> Html {
    let usage = use_blob_usage(props.revision);
    let here = match &usage.local_bytes {
        None => html! { <p aria-busy="true">{ "Counting…" }</p> },
        Some(Ok(bytes)) => html! {
            <p id="images-local">{ format!("On this device: {}", human_bytes(*bytes)) }</p>
        },
        Some(Err(e)) => html! {
            <p id="images-local" role="alert" class="error">{ format!("Images here could not be counted: {e}") }</p>
        },
    };
    let server = match &usage.server {
        None => html! {
            <p id="images-server" class="hint">{ "Sign in to sync images and see what the server keeps." }</p>
        },
        Some(Ok(u)) => {
            let percent = if u.quota_bytes > 0 {
                u.bytes as f64 / u.quota_bytes as f64 * 100.0
            } else {
                0.0
            };
            html! {
                <>
                    <p id="images-server">
                        { format!(
                            "On the server: {} in {} image{}, of {} allowed ({percent:.1}%); one image can be up to {}.",
                            human_bytes(u.bytes as f64),
                            u.count,
                            if u.count == 1 { "" } else { "s" },
                            human_bytes(u.quota_bytes as f64),
                            human_bytes(u.max_blob_bytes as f64),
                        ) }
                    </p>
                    if percent > 80.0 {
                        <p id="images-quota-warning" role="alert" class="storage-warning">
                            { "The server's room for your images is almost full: new images stay on this device until some are removed." }
                        </p>
                    }
                </>
            }
        }
        Some(Err(e)) => html! {
            <p id="images-server" class="hint">{ format!("What the server keeps is not known now: {e}") }</p>
        },
    };
    html! {
        <section class="storage-section" id="storage-images" aria-labelledby="storage-images-title">
            <h2 id="storage-images-title">{ "Images" }</h2>
            { here }
            { server }
        </section>
    }
}
