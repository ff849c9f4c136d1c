//! Settings the pipeline needs, already validated, with no trace of clap.
//!
//! [`ConvertRequest`] is what the user asked for (every field optional); [`resolve`] layers it
//! over a voice profile and the defaults and checks every value, giving a [`ConvertConfig`].
//! Precedence, highest first: command-line flags, the voice profile, built-in defaults.
//!
//! Voice profiles are TOML files named `voices/NAME.toml`, looked up in the current folder's
//! `voices/` and then among the profiles built into the binary (copies of the repository's
//! `voices/`). `--voice NAME` with no such profile passes NAME to the engine as its own voice
//! name.

use crate::backend::espeak::EspeakSettings;
use crate::backend::libespeak::{LibEspeakSettings, library_from_env};
use crate::backend::mock::MockSettings;
use crate::cache::UnitCache;
use crate::text::furniture::FurnitureFilter;
use crate::text::speech::{Lexicon, LexiconFile, parse_lexicon};
use crate::text::{DEFAULT_MAX_CHARS, Format, TextOptions};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The profile used when `--voice` is not given.
pub const DEFAULT_VOICE: &str = "en-us";

/// Profiles compiled into the binary, so `aloud` works from any folder.
const BUILTIN_PROFILES: &[(&str, &str)] = &[
    ("en-us", include_str!("../voices/en-us.toml")),
    ("en-gb", include_str!("../voices/en-gb.toml")),
    ("mock", include_str!("../voices/mock.toml")),
];

/// Lexicons compiled into the binary (`voices/NAME.lexicon.toml`).
const BUILTIN_LEXICONS: &[(&str, &str)] = &[("en", include_str!("../voices/en.lexicon.toml"))];

/// Which synthesizer to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BackendKind {
    /// espeak-ng: its library in long-lived workers, or the program where the library is
    /// missing.
    #[serde(rename = "espeak-ng")]
    EspeakNg,
    /// The external `espeak-ng` program, one process per unit.
    #[serde(rename = "espeak-ng-process")]
    EspeakNgProcess,
    /// The in-process mock (tones).
    #[serde(rename = "mock")]
    Mock,
}

/// A voice profile file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
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
    /// Silence between paragraphs.
    pub gap_ms: Option<u64>,
    /// Pronunciation lexicon: `voices/NAME.lexicon.toml`.
    pub lexicon: Option<String>,
}

/// The output folder when none is given.
pub const DEFAULT_OUTPUT: &str = "output";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `aloud convert`.
    Convert(ConvertRequest),
    /// `aloud segments`: what would be spoken, without an engine.
    Segments {
        /// The articles and text settings (engine settings are ignored).
        request: ConvertRequest,
        /// Print JSON instead of text.
        json: bool,
    },
    /// `aloud cache stats|clear`.
    Cache {
        /// What to do.
        action: CacheAction,
        /// The cache folder, if not the default.
        dir: Option<PathBuf>,
        /// Print JSON.
        json: bool,
    },
    /// `aloud index`.
    Index(IndexRequest),
    /// A synthesis worker (hidden; started by aloud itself).
    Worker {
        /// The libespeak-ng library to load.
        library: std::ffi::OsString,
    },
}

/// `aloud index [DIR]`: rebuild `DIR/index.html` from the manifests under DIR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexRequest {
    /// The output folder; [`DEFAULT_OUTPUT`] when not given.
    pub dir: Option<PathBuf>,
    /// Print nothing but errors and warnings.
    pub quiet: bool,
}

/// What `aloud cache` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheAction {
    /// Count entries and bytes.
    Stats,
    /// Delete every entry.
    Clear,
}

/// One shard of a corpus split `count` ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index of this shard.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `K/N` with 0 ≤ K < N.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (e.g. 0/4: the first of four shards)"))?;
        let index: u32 = k
            .trim()
            .parse()
            .map_err(|_| format!("{k:?} is not a shard number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} is not a shard count"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index}/{count}: K must be at least 0 and less than N"
            ));
        }
        Ok(Shard { index, count })
    }
}

/// What the user asked for on the command line; `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConvertRequest {
    /// Files and folders to convert.
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    pub output: Option<PathBuf>,
    /// Parallel workers.
    pub jobs: Option<usize>,
    /// Backend.
    pub backend: Option<BackendKind>,
    /// Profile name or engine voice.
    pub voice: Option<String>,
    /// Words per minute.
    pub rate: Option<u32>,
    /// Pitch.
    pub pitch: Option<u32>,
    /// Silence between paragraphs.
    pub gap_ms: Option<u64>,
    /// Per-call deadline in seconds.
    pub timeout_secs: Option<f64>,
    /// Mock: milliseconds per character.
    pub mock_ms_per_char: Option<u32>,
    /// Mock: latency per call.
    pub mock_latency_ms: Option<u64>,
    /// Mock: fail units containing this word.
    pub mock_fail_on: Option<String>,
    /// Mock: fail every Nth call.
    pub mock_fail_every: Option<u64>,
    /// Mock: fail this percentage of calls.
    pub mock_fail_percent: Option<u32>,
    /// Force the article format.
    pub format: Option<Format>,
    /// Longest unit handed to an engine, in characters.
    pub max_chars: Option<usize>,
    /// Speak images' alt text.
    pub image_alt: bool,
    /// Extra lexicon files.
    pub lexicon_files: Vec<PathBuf>,
    /// Extra page-furniture pattern files.
    pub furniture_files: Vec<PathBuf>,
    /// Extra attempts for a failing engine call.
    pub retries: Option<u32>,
    /// Cache folder.
    pub cache_dir: Option<PathBuf>,
    /// Do not use the cache.
    pub no_cache: bool,
    /// Convert even articles whose outputs are up to date.
    pub force: bool,
    /// Convert only this shard of the articles.
    pub shard: Option<Shard>,
    /// Print a JSON summary on stdout.
    pub json: bool,
    /// Log each article.
    pub verbose: bool,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// A validated conversion.
#[derive(Debug, Clone)]
pub struct ConvertConfig {
    /// Files and folders to convert.
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    pub output_dir: PathBuf,
    /// Parallel workers (≥ 1).
    pub jobs: usize,
    /// The backend and its settings.
    pub backend: BackendConfig,
    /// Silence between paragraphs.
    pub gap_ms: u64,
    /// How articles are read and cut into units.
    pub text: TextOptions,
    /// Extra attempts for a failing engine call.
    pub retries: u32,
    /// The unit cache, unless disabled.
    pub cache: Option<UnitCache>,
    /// Convert even articles whose outputs are up to date.
    pub force: bool,
    /// Convert only this shard of the articles.
    pub shard: Option<Shard>,
    /// Print a JSON summary on stdout.
    pub json: bool,
    /// Log each article.
    pub verbose: bool,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// A backend with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// The `espeak-ng` program.
    Espeak(EspeakSettings),
    /// libespeak-ng in worker processes.
    LibEspeak(LibEspeakSettings),
    /// The mock.
    Mock(MockSettings),
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A profile file is unreadable or invalid.
    #[error("voice profile {}: {message}", .path.display())]
    Profile {
        /// The file.
        path: PathBuf,
        /// What is wrong (TOML errors name the line and key).
        message: String,
    },
    /// A lexicon or furniture file is unreadable or invalid.
    #[error("{}: {message}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range.
    #[error("{option}: {message}")]
    Invalid {
        /// The option, as the user would type it.
        option: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// Layers `req` over its voice profile and the defaults. `cwd` is where `voices/` is looked
/// up.
pub fn resolve(req: ConvertRequest, cwd: &Path) -> Result<ConvertConfig, ConfigError> {
    let (profile, engine_voice) = match &req.voice {
        None => (
            load_profile(DEFAULT_VOICE, cwd)?.expect("the default profile is built in"),
            None,
        ),
        Some(name) => match load_profile(name, cwd)? {
            Some(p) => (p, None),
            // Not a profile: the engine's own voice name, over the default profile.
            None => (
                load_profile(DEFAULT_VOICE, cwd)?.expect("the default profile is built in"),
                Some(name.clone()),
            ),
        },
    };

    let jobs = req
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    check_range("--jobs", jobs as u64, 1, 1024)?;
    let gap_ms = req.gap_ms.or(profile.gap_ms).unwrap_or(400);
    check_range("--gap-ms", gap_ms, 0, 60_000)?;
    let timeout_secs = req.timeout_secs.unwrap_or(60.0);
    if !(timeout_secs.is_finite() && timeout_secs > 0.0 && timeout_secs <= 86_400.0) {
        return Err(ConfigError::Invalid {
            option: "--timeout",
            message: format!("{timeout_secs} is not a number of seconds between 0 and 86400"),
        });
    }
    let timeout = Duration::from_secs_f64(timeout_secs);

    let kind = req
        .backend
        .or(profile.backend)
        .unwrap_or(BackendKind::EspeakNg);
    let backend = match kind {
        BackendKind::EspeakNg | BackendKind::EspeakNgProcess => {
            let voice = engine_voice
                .or(profile.voice)
                .unwrap_or_else(|| DEFAULT_VOICE.to_string());
            if voice.is_empty() || voice.starts_with('-') || voice.chars().any(char::is_whitespace)
            {
                return Err(ConfigError::Invalid {
                    option: "--voice",
                    message: format!("{voice:?} is not a voice name"),
                });
            }
            let rate = req.rate.or(profile.rate).unwrap_or(175);
            check_range("--rate", u64::from(rate), 80, 450)?;
            let pitch = req.pitch.or(profile.pitch).unwrap_or(50);
            check_range("--pitch", u64::from(pitch), 0, 99)?;
            let espeak = EspeakSettings {
                program: "espeak-ng".into(),
                voice,
                rate,
                pitch,
                timeout,
            };
            if kind == BackendKind::EspeakNg {
                BackendConfig::LibEspeak(LibEspeakSettings {
                    espeak,
                    // Workers are this very program in a hidden mode.
                    worker: std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into()),
                    library: library_from_env(),
                })
            } else {
                BackendConfig::Espeak(espeak)
            }
        }
        BackendKind::Mock => {
            let defaults = MockSettings::default();
            let ms_per_char = req.mock_ms_per_char.unwrap_or(defaults.ms_per_char);
            check_range("--mock-ms-per-char", u64::from(ms_per_char), 1, 10_000)?;
            if let Some(p) = req.mock_fail_percent {
                check_range("--mock-fail-percent", u64::from(p), 0, 100)?;
            }
            BackendConfig::Mock(MockSettings {
                ms_per_char,
                latency: Duration::from_millis(req.mock_latency_ms.unwrap_or(0)),
                fail_on: req.mock_fail_on.filter(|w| !w.is_empty()),
                fail_every: req.mock_fail_every,
                fail_percent: req.mock_fail_percent,
                ..defaults
            })
        }
    };

    let max_chars = req.max_chars.unwrap_or(DEFAULT_MAX_CHARS);
    check_range("--max-chars", max_chars as u64, 50, 100_000)?;
    let mut lexicons: Vec<LexiconFile> = Vec::new();
    if let Some(name) = &profile.lexicon {
        lexicons.push(load_named_lexicon(name, cwd)?);
    }
    for path in &req.lexicon_files {
        let src = read_file(path)?;
        lexicons.push(parse_lexicon(&src).map_err(|message| ConfigError::File {
            path: path.clone(),
            message,
        })?);
    }
    let mut furniture = FurnitureFilter::builtin().clone();
    for path in &req.furniture_files {
        let src = read_file(path)?;
        furniture = furniture
            .with_patterns(&src)
            .map_err(|message| ConfigError::File {
                path: path.clone(),
                message,
            })?;
    }
    let text = TextOptions {
        format: req.format,
        max_chars,
        image_alt: req.image_alt,
        lexicon: Lexicon::from_files(&lexicons),
        furniture,
    };

    let retries = req.retries.unwrap_or(2);
    check_range("--retries", u64::from(retries), 0, 20)?;
    let cache = if req.no_cache {
        None
    } else {
        req.cache_dir
            .or_else(UnitCache::default_dir)
            .map(UnitCache::new)
    };

    Ok(ConvertConfig {
        inputs: req.inputs,
        output_dir: req.output.unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUT)),
        jobs,
        backend,
        gap_ms,
        text,
        retries,
        cache,
        force: req.force,
        shard: req.shard,
        json: req.json,
        verbose: req.verbose,
        quiet: req.quiet,
    })
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// `voices/NAME.lexicon.toml` from the current folder, else the built-in copy.
fn load_named_lexicon(name: &str, cwd: &Path) -> Result<LexiconFile, ConfigError> {
    let path = cwd.join("voices").join(format!("{name}.lexicon.toml"));
    let (src, path) = match std::fs::read_to_string(&path) {
        Ok(src) => (src, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let Some((_, src)) = BUILTIN_LEXICONS.iter().find(|(n, _)| *n == name) else {
                return Err(ConfigError::File {
                    path,
                    message: format!("no lexicon named {name:?} (looked for this file)"),
                });
            };
            (
                src.to_string(),
                PathBuf::from(format!("<built-in>/voices/{name}.lexicon.toml")),
            )
        }
        Err(e) => {
            return Err(ConfigError::File {
                path,
                message: e.to_string(),
            });
        }
    };
    parse_lexicon(&src).map_err(|message| ConfigError::File { path, message })
}

fn check_range(option: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            option,
            message: format!("{value} is out of range; use {min} to {max}"),
        })
    }
}

/// Finds and parses profile `name`: `cwd/voices/NAME.toml`, then the built-in copy.
/// `Ok(None)` when there is no such profile (or the name cannot be a profile file name).
pub fn load_profile(name: &str, cwd: &Path) -> Result<Option<VoiceProfile>, ConfigError> {
    let is_file_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !is_file_name {
        return Ok(None);
    }
    let path = cwd.join("voices").join(format!("{name}.toml"));
    match std::fs::read_to_string(&path) {
        Ok(src) => return parse_profile(&src, &path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ConfigError::Profile {
                path,
                message: e.to_string(),
            });
        }
    }
    BUILTIN_PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, src)| parse_profile(src, Path::new(&format!("<built-in>/voices/{n}.toml"))))
        .transpose()
}

/// Parses a profile; errors carry TOML's line, column and key.
pub fn parse_profile(src: &str, path: &Path) -> Result<VoiceProfile, ConfigError> {
    toml::from_str(src).map_err(|e| ConfigError::Profile {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> ConvertRequest {
        ConvertRequest {
            inputs: vec!["a.txt".into()],
            ..Default::default()
        }
    }

    #[test]
    fn builtin_profiles_and_lexicons_parse() {
        for (name, src) in BUILTIN_PROFILES {
            parse_profile(src, Path::new(name)).unwrap();
        }
        for (_, src) in BUILTIN_LEXICONS {
            parse_lexicon(src).unwrap();
        }
    }

    #[test]
    fn the_default_profile_brings_the_english_lexicon() {
        let dir = tempfile::tempdir().unwrap();
        let c = resolve(req(), dir.path()).unwrap();
        assert_eq!(c.text.lexicon.apply("UNAMI"), "you nah mee");
    }

    #[test]
    fn defaults_come_from_the_en_us_profile() {
        let dir = tempfile::tempdir().unwrap();
        let c = resolve(req(), dir.path()).unwrap();
        assert_eq!(c.gap_ms, 400);
        assert_eq!(c.output_dir, PathBuf::from("output"));
        let BackendConfig::LibEspeak(l) = c.backend else {
            panic!("libespeak-ng is the default")
        };
        let e = l.espeak;
        assert_eq!((e.voice.as_str(), e.rate, e.pitch), ("en-us", 175, 50));
        assert_eq!(e.timeout, Duration::from_secs(60));
    }

    #[test]
    fn flags_beat_the_profile_and_unknown_voices_go_to_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        let c = resolve(
            ConvertRequest {
                voice: Some("en-gb".into()),
                rate: Some(200),
                ..req()
            },
            dir.path(),
        )
        .unwrap();
        let BackendConfig::LibEspeak(LibEspeakSettings { espeak: e, .. }) = c.backend else {
            panic!()
        };
        assert_eq!((e.voice.as_str(), e.rate, e.pitch), ("en-gb", 200, 45));

        let c = resolve(
            ConvertRequest {
                voice: Some("fr+f3".into()),
                ..req()
            },
            dir.path(),
        )
        .unwrap();
        let BackendConfig::LibEspeak(LibEspeakSettings { espeak: e, .. }) = c.backend else {
            panic!()
        };
        assert_eq!(e.voice, "fr+f3");
    }

    #[test]
    fn a_local_profile_overrides_the_builtin_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("voices")).unwrap();
        std::fs::write(
            dir.path().join("voices/en-us.toml"),
            "backend = \"mock\"\ngap_ms = 5\n",
        )
        .unwrap();
        let c = resolve(req(), dir.path()).unwrap();
        assert!(matches!(c.backend, BackendConfig::Mock(_)));
        assert_eq!(c.gap_ms, 5);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("voices")).unwrap();
        std::fs::write(
            dir.path().join("voices/x.toml"),
            "voice = \"en\"\nrat = 3\n",
        )
        .unwrap();
        let err = resolve(
            ConvertRequest {
                voice: Some("x".into()),
                ..req()
            },
            dir.path(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("x.toml") && msg.contains("line 2") && msg.contains("rat"),
            "{msg}"
        );

        std::fs::write(dir.path().join("voices/y.toml"), "rate = \"fast\"\n").unwrap();
        let err = resolve(
            ConvertRequest {
                voice: Some("y".into()),
                ..req()
            },
            dir.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn espeak_ng_is_the_library_engine_and_espeak_ng_process_the_program() {
        let dir = tempfile::tempdir().unwrap();
        let c = resolve(req(), dir.path()).unwrap();
        let BackendConfig::LibEspeak(l) = c.backend else {
            panic!("the library engine is the default")
        };
        assert_eq!(l.library, crate::backend::libespeak::library_from_env());
        std::fs::create_dir(dir.path().join("voices")).unwrap();
        std::fs::write(
            dir.path().join("voices/p.toml"),
            "backend = \"espeak-ng-process\"\nvoice = \"en-gb\"\n",
        )
        .unwrap();
        let c = resolve(
            ConvertRequest {
                voice: Some("p".into()),
                ..req()
            },
            dir.path(),
        )
        .unwrap();
        let BackendConfig::Espeak(e) = c.backend else {
            panic!("a profile can choose the program")
        };
        assert_eq!(e.voice, "en-gb");
    }

    #[test]
    fn shards_parse_as_k_of_n() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        for bad in ["5/5", "1/0", "x/2", "3", "-1/4"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (r, option) in [
            (
                ConvertRequest {
                    rate: Some(10),
                    ..req()
                },
                "--rate",
            ),
            (
                ConvertRequest {
                    pitch: Some(100),
                    ..req()
                },
                "--pitch",
            ),
            (
                ConvertRequest {
                    jobs: Some(0),
                    ..req()
                },
                "--jobs",
            ),
            (
                ConvertRequest {
                    timeout_secs: Some(0.0),
                    ..req()
                },
                "--timeout",
            ),
            (
                ConvertRequest {
                    voice: Some("-x".into()),
                    ..req()
                },
                "--voice",
            ),
        ] {
            let err = resolve(r, dir.path()).unwrap_err();
            assert!(err.to_string().starts_with(option), "{err}");
        }
    }
}
