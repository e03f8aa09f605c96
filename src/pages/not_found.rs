use yew::prelude::*;
use yew_router::prelude::*;

use crate::routes::Route;

#[function_component]
pub fn NotFound() -> Html {
    html! {
        <section>
            <h1>{ "Page not found" }</h1>
            <p>{ "There is nothing at this address. " }
               <Link<Route> to={Route::Home}>{ "Go to the home page" }</Link<Route>></p>
        </section>
    }
}
