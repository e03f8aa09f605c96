use stylist::yew::styled_component;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::routes::Route;

/// The top bar: the app's name and its sections.
#[styled_component]
pub fn NavBar() -> Html {
    let class = css!(
        r#"
        display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: center;
        padding: 0.75rem 1rem; background: var(--nav-bg); color: var(--nav-fg);
        a { color: inherit; text-decoration: none; }
        a.brand { font-weight: 700; margin-right: auto; }
        "#
    );
    html! {
        <nav {class} aria-label="Main">
            <Link<Route> classes="brand" to={Route::Home}>{ "Cairn" }</Link<Route>>
            <Link<Route> to={Route::Home}>{ "Home" }</Link<Route>>
            <Link<Route> to={Route::Notes}>{ "Notes" }</Link<Route>>
            <Link<Route> to={Route::Assessment}>{ "Safety check" }</Link<Route>>
            <Link<Route> to={Route::Settings}>{ "Settings" }</Link<Route>>
            <Link<Route> to={Route::Storage}>{ "Storage" }</Link<Route>>
        </nav>
    }
}
