//! The root component.

use stylist::yew::{styled_component, Global};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{NavBar, PersistenceProvider, SyncProvider, UpdateBanner};
use crate::routes::{switch, Route};

#[styled_component]
pub fn App() -> Html {
    html! {
        <BrowserRouter>
            <Global css={css!(r#"
                :root { color-scheme: light dark; --accent: #2f6f5e; }
                * { box-sizing: border-box; }
                body { margin: 0; font-family: system-ui, sans-serif; line-height: 1.5; }
                main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
                h1 { font-size: 1.5rem; margin: 0.5rem 0 1rem; }
                h2 { font-size: 1.125rem; margin: 1.5rem 0 0.5rem; }
                .update-banner { background: #e3f0ea; padding: 0.5rem 1rem; text-align: center; }
                form.account-form { display: grid; gap: 0.25rem; max-width: 24rem; }
                .actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0.5rem 0; }
                .error { color: #a4262c; }
                .conflict { border: 1px solid #c9d6cf; border-radius: 6px; padding: 0.5rem 0.75rem; margin: 0.5rem 0; list-style: none; }
                .storage-warning { background: #fff3cd; color: #5c4400; padding: 0.5rem 0.75rem; border-radius: 4px; }
            "#)} />
            <NavBar />
            <UpdateBanner />
            <main>
                <PersistenceProvider>
                    <SyncProvider>
                        <Switch<Route> render={switch} />
                    </SyncProvider>
                </PersistenceProvider>
            </main>
        </BrowserRouter>
    }
}
