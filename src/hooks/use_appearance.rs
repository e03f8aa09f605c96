use serde::{Deserialize, Serialize};
use yew::prelude::*;

use cairn_yew::{use_persistent_state_with, PersistOptions, PersistentState};

use super::config::PREFS;

/// Colour theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow the device's light/dark setting.
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    /// The value of `data-theme` on the root element.
    pub fn attribute(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

/// Base text size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextSize {
    Small,
    #[default]
    Normal,
    Large,
    Larger,
}

impl TextSize {
    pub const ALL: [TextSize; 4] = [
        TextSize::Small,
        TextSize::Normal,
        TextSize::Large,
        TextSize::Larger,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TextSize::Small => "Small",
            TextSize::Normal => "Normal",
            TextSize::Large => "Large",
            TextSize::Larger => "Larger",
        }
    }

    /// The root font size, relative to the browser's default (which the user may have
    /// set too: percentages keep that choice).
    pub fn percent(self) -> u32 {
        match self {
            TextSize::Small => 90,
            TextSize::Normal => 100,
            TextSize::Large => 120,
            TextSize::Larger => 140,
        }
    }
}

/// How the app looks, as stored (collection `prefs`, id `appearance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppearanceSettings {
    pub theme: Theme,
    pub text_size: TextSize,
    /// No animations or transitions, whatever the device says.
    pub reduced_motion: bool,
    /// Stronger colours and outlines.
    pub high_contrast: bool,
}

/// The handle returned by [`use_appearance`].
pub struct Appearance {
    settings: PersistentState<AppearanceSettings>,
}

impl Appearance {
    pub fn settings(&self) -> AppearanceSettings {
        *self.settings.value()
    }

    pub fn set_theme(&self, theme: Theme) {
        self.settings.update(|s| AppearanceSettings { theme, ..*s });
    }

    pub fn set_text_size(&self, text_size: TextSize) {
        self.settings
            .update(|s| AppearanceSettings { text_size, ..*s });
    }

    pub fn set_reduced_motion(&self, reduced_motion: bool) {
        self.settings.update(|s| AppearanceSettings {
            reduced_motion,
            ..*s
        });
    }

    pub fn set_high_contrast(&self, high_contrast: bool) {
        self.settings.update(|s| AppearanceSettings {
            high_contrast,
            ..*s
        });
    }
}

/// The user's appearance settings, applied app-wide by
/// [`AppearanceRoot`](crate::components::AppearanceRoot).
#[hook]
pub fn use_appearance() -> Appearance {
    let settings = use_persistent_state_with(
        PREFS,
        "appearance",
        AppearanceSettings::default(),
        PersistOptions::default().debounce_ms(0),
    );
    Appearance { settings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_missing_from_an_older_record_take_their_defaults() {
        let stored: AppearanceSettings = serde_json::from_str(r#"{"theme":"dark"}"#).unwrap();
        assert_eq!(stored.theme, Theme::Dark);
        assert_eq!(stored.text_size, TextSize::Normal);
        assert!(!stored.high_contrast);
    }
}
