//! The root component.

use stylist::yew::{styled_component, Global};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{
    AppearanceRoot, NavBar, OfflineBanner, PersistenceRoot, SnapshotScheduler, SyncRoot,
    UpdateBanner,
};
use crate::routes::{switch, Route};

#[styled_component]
pub fn App() -> Html {
    html! {
        <BrowserRouter>
            <Global css={css!(r#"
                /* Colours follow the theme through `color-scheme` and light-dark(): System
                   uses the device's setting, Light and Dark force one. AppearanceRoot sets
                   the data-* attributes on <html>. */
                :root {
                    color-scheme: light dark;
                    --bg: light-dark(#ffffff, #121614);
                    --fg: light-dark(#1b1f1d, #e6ece8);
                    --muted: light-dark(#4d5852, #a9b5ae);
                    --surface: light-dark(#f3f6f4, #1b211e);
                    --border: light-dark(#a9bbb1, #4a5a52);
                    --accent: light-dark(#2f6f5e, #8fd3bb);
                    --nav-bg: light-dark(#2f6f5e, #173129);
                    --nav-fg: #ffffff;
                    --banner-bg: light-dark(#e3f0ea, #1f3a31);
                    --warn-bg: light-dark(#fff3cd, #4a3b00);
                    --warn-fg: light-dark(#5c4400, #ffe49a);
                    --error: light-dark(#a4262c, #ff9a9e);
                    --focus: light-dark(#1a5fb4, #99c1f1);
                    --button-bg: light-dark(#2f6f5e, #8fd3bb);
                    --button-fg: light-dark(#ffffff, #0b1511);
                }
                :root[data-theme="light"] { color-scheme: light; }
                :root[data-theme="dark"] { color-scheme: dark; }
                :root[data-contrast="high"] {
                    --fg: light-dark(#000000, #ffffff);
                    --bg: light-dark(#ffffff, #000000);
                    --muted: light-dark(#000000, #ffffff);
                    --surface: light-dark(#ffffff, #000000);
                    --border: light-dark(#000000, #ffffff);
                    --accent: light-dark(#00402f, #b9f5df);
                    --nav-bg: light-dark(#000000, #000000);
                    --button-bg: light-dark(#000000, #ffffff);
                    --button-fg: light-dark(#ffffff, #000000);
                }
                :root[data-contrast="high"] a { text-decoration: underline; }
                :root[data-contrast="high"] button, :root[data-contrast="high"] input,
                :root[data-contrast="high"] select, :root[data-contrast="high"] textarea { border: 2px solid var(--border); }
                :root[data-motion="reduce"] *, :root[data-motion="reduce"] *::before, :root[data-motion="reduce"] *::after {
                    animation: none !important; transition: none !important; scroll-behavior: auto !important;
                }
                @media (prefers-reduced-motion: reduce) {
                    * { animation: none !important; transition: none !important; }
                }
                * { box-sizing: border-box; }
                body { margin: 0; font-family: system-ui, sans-serif; line-height: 1.5; background: var(--bg); color: var(--fg); }
                a { color: var(--accent); }
                :focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
                button, input, select, textarea { font: inherit; }
                button {
                    cursor: pointer; background: var(--button-bg); color: var(--button-fg);
                    border: 1px solid var(--button-bg); border-radius: 4px; padding: 0.35rem 0.8rem;
                }
                button.secondary { background: var(--surface); color: var(--fg); border-color: var(--border); }
                button:disabled { cursor: not-allowed; opacity: 0.7; }
                input, select, textarea {
                    background: var(--bg); color: var(--fg); border: 1px solid var(--border);
                    border-radius: 4px; padding: 0.3rem 0.5rem;
                }
                input[type="checkbox"], input[type="radio"] { padding: 0; accent-color: var(--accent); }
                .visually-hidden {
                    position: absolute; width: 1px; height: 1px; overflow: hidden;
                    clip: rect(0 0 0 0); white-space: nowrap;
                }
                main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
                h1 { font-size: 1.5rem; margin: 0.5rem 0 1rem; }
                h2 { font-size: 1.125rem; margin: 1.5rem 0 0.5rem; }
                fieldset { border: 1px solid var(--border); border-radius: 6px; }
                .choice { display: flex; gap: 0.5rem; align-items: center; margin: 0.25rem 0; }
                .hint { color: var(--muted); }
                .banner { padding: 0.5rem 1rem; text-align: center; }
                .update-banner { background: var(--banner-bg); }
                .offline-banner { background: var(--warn-bg); color: var(--warn-fg); }
                form.account-form { display: grid; gap: 0.25rem; max-width: 24rem; }
                .actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0.5rem 0; }
                .error { color: var(--error); }
                .conflict { border: 1px solid var(--border); border-radius: 6px; padding: 0.5rem 0.75rem; margin: 0.5rem 0; list-style: none; }
                .storage-warning { background: var(--warn-bg); color: var(--warn-fg); padding: 0.5rem 0.75rem; border-radius: 4px; }
            "#)} />
            <NavBar />
            <UpdateBanner />
            <OfflineBanner />
            <main>
                <PersistenceRoot>
                    <AppearanceRoot />
                    <SnapshotScheduler />
                    <SyncRoot>
                        <Switch<Route> render={switch} />
                    </SyncRoot>
                </PersistenceRoot>
            </main>
        </BrowserRouter>
    }
}
