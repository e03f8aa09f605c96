//! Client-side routes. The server answers every extensionless path with `index.html`, so
//! each of these also works on reload and as a deep link.

use yew::{html, Html};
use yew_router::prelude::Redirect;
use yew_router::Routable;

use crate::pages::{
    Assessment, Home, NotFound, NoteEditor, Notes, Onboarding, Settings, Storage, WaiverPage,
};

#[derive(Debug, Clone, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/onboarding")]
    Onboarding,
    /// The onboarding's earlier address, kept for bookmarks.
    #[at("/welcome")]
    Welcome,
    #[at("/assessment")]
    Assessment,
    #[at("/waiver")]
    Waiver,
    #[at("/settings")]
    Settings,
    #[at("/notes")]
    Notes,
    #[at("/notes/:id")]
    Note { id: String },
    #[at("/storage")]
    Storage,
    #[not_found]
    #[at("/404")]
    NotFound,
}

pub fn switch(route: Route) -> Html {
    match route {
        Route::Home => html! { <Home /> },
        Route::Onboarding => html! { <Onboarding /> },
        Route::Welcome => html! { <Redirect<Route> to={Route::Onboarding} /> },
        Route::Assessment => html! { <Assessment /> },
        Route::Waiver => html! { <WaiverPage /> },
        Route::Settings => html! { <Settings /> },
        Route::Notes => html! { <Notes /> },
        Route::Note { id } => html! { <NoteEditor {id} /> },
        Route::Storage => html! { <Storage /> },
        Route::NotFound => html! { <NotFound /> },
    }
}
