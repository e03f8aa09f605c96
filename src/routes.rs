//! Client-side routes. The server answers every extensionless path with `index.html`, so
//! each of these also works on reload and as a deep link.

use yew::{html, Html};
use yew_router::Routable;

use crate::pages::{Assessment, Home, NotFound, Settings, Storage, Welcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/welcome")]
    Welcome,
    #[at("/assessment")]
    Assessment,
    #[at("/settings")]
    Settings,
    #[at("/storage")]
    Storage,
    #[not_found]
    #[at("/404")]
    NotFound,
}

pub fn switch(route: Route) -> Html {
    match route {
        Route::Home => html! { <Home /> },
        Route::Welcome => html! { <Welcome /> },
        Route::Assessment => html! { <Assessment /> },
        Route::Settings => html! { <Settings /> },
        Route::Storage => html! { <Storage /> },
        Route::NotFound => html! { <NotFound /> },
    }
}
