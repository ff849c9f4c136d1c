//! Voice profiles: `voices/NAME.toml`, everything that shapes the sound.
//!
//! A profile names the backend and its settings: the engine's voice, rate, pitch, volume, the
//! output sample rate, silence between paragraphs and between chapters, the lexicon, and
//! backend-specific tables (`command`, `http`, `http.server`). Profiles are looked up, first
//! match wins, in `./voices/`, then the user's config folder (`~/.config/aloud/voices/`), then
//! the copies built into `aloud` (the repository's `voices/`). Unknown keys and bad values are
//! errors naming the file, line and key.

use super::{BackendKind, ConfigError};
use crate::backend::http::HttpApi;
use crate::text::speech::{LexiconFile, parse_lexicon};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The profile used when `--voice` is not given.
pub const DEFAULT_VOICE: &str = "en-us";

/// Profiles compiled into the binary, so `aloud` works from any folder.
pub const BUILTIN_PROFILES: &[(&str, &str)] = &[
    ("en-us", include_str!("../../voices/en-us.toml")),
    ("en-gb", include_str!("../../voices/en-gb.toml")),
    ("mock", include_str!("../../voices/mock.toml")),
    ("flite", include_str!("../../voices/flite.toml")),
    ("festival", include_str!("../../voices/festival.toml")),
    ("piper", include_str!("../../voices/piper.toml")),
    (
        "piper-process",
        include_str!("../../voices/piper-process.toml"),
    ),
];

/// Lexicons compiled into the binary (`voices/NAME.lexicon.toml`).
pub const BUILTIN_LEXICONS: &[(&str, &str)] =
    &[("en", include_str!("../../voices/en.lexicon.toml"))];

/// A voice profile file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceProfile {
    /// One line for listings.
    pub description: Option<String>,
    /// The backend.
    pub backend: Option<BackendKind>,
    /// The engine's own voice name.
    pub voice: Option<String>,
    /// Words per minute.
    pub rate: Option<u32>,
    /// Pitch, 0–99.
    pub pitch: Option<u32>,
    /// Volume, 0–200 (100 is the engine's normal level).
    pub volume: Option<u32>,
    /// The articles' sample rate; engines at another rate are resampled.
    pub sample_rate: Option<u32>,
    /// Silence between paragraphs.
    pub gap_ms: Option<u64>,
    /// Silence before a paragraph that starts a chapter.
    pub chapter_gap_ms: Option<u64>,
    /// Pronunciation lexicon: `voices/NAME.lexicon.toml`.
    pub lexicon: Option<String>,
    /// The command backend: a template such as `flite -voice {voice} -f {text_file} -o {out}`.
    pub command: Option<String>,
    /// A command that prints the engine's version (first line), for the manifest and cache.
    pub version_command: Option<String>,
    /// The voice model, for `{model}` in `command` or `http.server.command`.
    pub model: Option<String>,
    /// A command whose first line of output is the model path, when `model` is not given.
    pub model_command: Option<String>,
    /// The http backend.
    pub http: Option<HttpProfile>,
}

/// `[http]` in a profile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProfile {
    /// `piper` or `openai`.
    pub api: HttpApi,
    /// The URL to POST to; `{port}` is the managed server's port.
    pub endpoint: String,
    /// `model` in an OpenAI-style body.
    pub model: Option<String>,
    /// Extra JSON fields for every request body.
    #[serde(default)]
    pub body: toml::Table,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The environment variable that holds the API key (never the key itself).
    pub api_key_env: Option<String>,
    /// A server `aloud` starts for the run.
    pub server: Option<ServerProfile>,
}

/// `[http.server]` in a profile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerProfile {
    /// How to start it; `{port}` and `{model}` (the profile's model) are filled in.
    pub command: String,
    /// Seconds it may take to start accepting connections (default 120).
    pub startup_timeout: Option<f64>,
}

/// Where a profile came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file on disk.
    File(PathBuf),
    /// Built into `aloud`.
    BuiltIn,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::BuiltIn => write!(f, "built in"),
        }
    }
}

/// The folders searched for `voices/NAME.toml`, in order (the built-in copies come last).
pub fn voice_dirs(cwd: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![cwd.join("voices")];
    if let Some(d) = user_config_dir() {
        dirs.push(d.join("voices"));
    }
    dirs
}

/// `~/.config/aloud` (honouring `XDG_CONFIG_HOME`).
pub fn user_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "aloud").map(|d| d.config_dir().to_path_buf())
}

fn is_profile_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Finds and parses profile `name`. `Ok(None)` when there is no such profile (or the name
/// cannot be a file name).
pub fn load_profile(name: &str, cwd: &Path) -> Result<Option<(VoiceProfile, Origin)>, ConfigError> {
    if !is_profile_name(name) {
        return Ok(None);
    }
    for dir in voice_dirs(cwd) {
        let path = dir.join(format!("{name}.toml"));
        let read = super::read_if_exists(&path).map_err(|e| ConfigError::Profile {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if let Some(src) = read {
            return parse_profile(&src, &path).map(|p| Some((p, Origin::File(path))));
        }
    }
    BUILTIN_PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, src)| {
            parse_profile(src, Path::new(&format!("<built-in>/voices/{n}.toml")))
                .map(|p| (p, Origin::BuiltIn))
        })
        .transpose()
}

/// Every profile that `--voice` can name, first match wins, sorted by name.
pub fn list_profiles(cwd: &Path) -> Vec<(String, Origin, Result<VoiceProfile, ConfigError>)> {
    let mut names: Vec<String> = BUILTIN_PROFILES
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    for dir in voice_dirs(cwd) {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if let Some(name) = file.strip_suffix(".toml")
                && !name.ends_with(".lexicon")
                && is_profile_name(name)
            {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|n| match load_profile(&n, cwd) {
            Ok(Some((p, origin))) => Some((n, origin, Ok(p))),
            Ok(None) => None,
            Err(e) => Some((n, Origin::BuiltIn, Err(e))),
        })
        .collect()
}

/// Parses a profile; errors carry TOML's line, column and key.
pub fn parse_profile(src: &str, path: &Path) -> Result<VoiceProfile, ConfigError> {
    let profile: VoiceProfile = toml::from_str(src).map_err(|e| ConfigError::Profile {
        path: path.to_path_buf(),
        message: super::toml_message(&e),
    })?;
    if let Some(problem) = profile.voice.as_deref().and_then(super::voice_problem) {
        return Err(ConfigError::Profile {
            path: path.to_path_buf(),
            message: format!("voice: {problem}"),
        });
    }
    let u = |v: Option<u32>| v.map(u64::from);
    super::check_settings(
        &[
            ("rate", u(profile.rate)),
            ("pitch", u(profile.pitch)),
            ("volume", u(profile.volume)),
            ("sample_rate", u(profile.sample_rate)),
            ("gap_ms", profile.gap_ms),
            ("chapter_gap_ms", profile.chapter_gap_ms),
        ],
        &[],
    )
    .map_err(|message| ConfigError::Profile {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(profile)
}

/// `voices/NAME.lexicon.toml` from the profile folders, else the built-in copy.
pub fn load_named_lexicon(name: &str, cwd: &Path) -> Result<LexiconFile, ConfigError> {
    for dir in voice_dirs(cwd) {
        let path = dir.join(format!("{name}.lexicon.toml"));
        let read = super::read_if_exists(&path).map_err(|e| ConfigError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if let Some(src) = read {
            return parse_lexicon(&src).map_err(|message| ConfigError::File { path, message });
        }
    }
    let Some((_, src)) = BUILTIN_LEXICONS.iter().find(|(n, _)| *n == name) else {
        return Err(ConfigError::File {
            path: PathBuf::from(format!("voices/{name}.lexicon.toml")),
            message: format!(
                "no lexicon named {name:?} in ./voices, the user's config folder or built in"
            ),
        });
    };
    let path = PathBuf::from(format!("<built-in>/voices/{name}.lexicon.toml"));
    parse_lexicon(src).map_err(|message| ConfigError::File { path, message })
}
