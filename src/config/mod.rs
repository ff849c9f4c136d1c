//! Settings the pipeline needs, already validated, with no trace of clap.
//!
//! [`ConvertRequest`] is what the user asked for (every field optional); [`resolve`] layers it
//! over the config files ([`file`](mod@file)), the voice profile ([`profile`]) and the
//! defaults, checks every value, and gives a [`ConvertConfig`]. Precedence, highest first:
//! command-line flags, `./aloud.toml`, the user's `aloud.toml`, the voice profile, built-in
//! defaults.
//!
//! `--voice NAME` picks the profile `voices/NAME.toml`; a name with no profile is passed to the
//! engine as its own voice name, over the default profile.

pub mod file;
pub mod profile;

use crate::backend::ModelSource;
use crate::backend::command::{self, CommandSettings, CommandTemplate};
use crate::backend::espeak::EspeakSettings;
use crate::backend::http::{HttpSettings, SERVER_PLACEHOLDERS, ServerSettings};
use crate::backend::libespeak::{LibEspeakSettings, library_from_env};
use crate::backend::mock::MockSettings;
use crate::cache::UnitCache;
use crate::text::furniture::FurnitureFilter;
use crate::text::speech::{Lexicon, LexiconFile, parse_lexicon};
use crate::text::{DEFAULT_MAX_CHARS, Format, HtmlReader, TextOptions};
pub use profile::{DEFAULT_VOICE, VoiceProfile, load_profile, parse_profile};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Any program, through a command template.
    #[serde(rename = "command")]
    Command,
    /// A TTS server over HTTP (piper's, or OpenAI-compatible).
    #[serde(rename = "http")]
    Http,
}

/// The output folder when none is given.
pub const DEFAULT_OUTPUT: &str = "output";

/// An audio file written for each article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    /// The master: 16-bit PCM WAV with RIFF chapter markers.
    Wav,
    /// MP3 (LAME) with ID3v2 chapters (`CHAP`/`CTOC`).
    Mp3,
    /// Opus in Ogg, chapters as Vorbis comments.
    Opus,
    /// AAC in MP4 (an audiobook), chapters as a QuickTime chapter track and Nero `chpl`.
    M4b,
}

impl AudioFormat {
    /// Every format, in the order files are listed.
    pub const ALL: [AudioFormat; 4] = [
        AudioFormat::Wav,
        AudioFormat::Mp3,
        AudioFormat::Opus,
        AudioFormat::M4b,
    ];

    /// The name used on the command line and in the manifest: `wav`, `mp3`, `opus`, `m4b`.
    pub fn name(self) -> &'static str {
        match self {
            AudioFormat::Wav => "wav",
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Opus => "opus",
            AudioFormat::M4b => "m4b",
        }
    }

    /// The output file's suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            AudioFormat::Wav => ".wav",
            AudioFormat::Mp3 => ".mp3",
            AudioFormat::Opus => ".opus",
            AudioFormat::M4b => ".m4b",
        }
    }

    /// The exact MIME type a page offers it with.
    pub fn mime(self) -> &'static str {
        match self {
            AudioFormat::Wav => "audio/wav",
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::Opus => "audio/ogg; codecs=opus",
            AudioFormat::M4b => "audio/mp4; codecs=\"mp4a.40.2\"",
        }
    }

    /// Whether ffmpeg makes it (everything but the WAV).
    pub fn is_encoded(self) -> bool {
        self != AudioFormat::Wav
    }
}

/// A chapter file written beside each article's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChapterFormat {
    /// WebVTT chapters, for the player page.
    Vtt,
    /// aloud's own JSON chapter list, with levels and frames.
    Json,
    /// FFmpeg's metadata file.
    Ffmetadata,
    /// Podcasting 2.0 JSON chapters.
    Podcast,
    /// A CUE sheet.
    Cue,
}

impl ChapterFormat {
    /// Every format, in the order files are listed.
    pub const ALL: [ChapterFormat; 5] = [
        ChapterFormat::Vtt,
        ChapterFormat::Json,
        ChapterFormat::Ffmetadata,
        ChapterFormat::Podcast,
        ChapterFormat::Cue,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ChapterFormat::Vtt => "vtt",
            ChapterFormat::Json => "json",
            ChapterFormat::Ffmetadata => "ffmetadata",
            ChapterFormat::Podcast => "podcast",
            ChapterFormat::Cue => "cue",
        }
    }

    /// The output file's suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            ChapterFormat::Vtt => ".chapters.vtt",
            ChapterFormat::Json => ".chapters.json",
            ChapterFormat::Ffmetadata => ".ffmetadata",
            ChapterFormat::Podcast => ".podcast-chapters.json",
            ChapterFormat::Cue => ".cue",
        }
    }
}

/// Bit rates of the compressed formats, in kb/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bitrates {
    /// MP3 (constant bit rate).
    pub mp3: u32,
    /// Opus (variable bit rate, this on average).
    pub opus: u32,
    /// AAC in the M4B.
    pub aac: u32,
}

impl Default for Bitrates {
    /// Speech defaults: mono MP3 at 64 kb/s, Opus at 32 kb/s, AAC at 64 kb/s.
    fn default() -> Self {
        Bitrates {
            mp3: 64,
            opus: 32,
            aac: 64,
        }
    }
}

/// The default true-peak ceiling with `--loudness`, in dBTP.
pub const DEFAULT_TRUE_PEAK: f64 = -1.0;

/// What files each article gets, and how its audio is finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Publishing {
    /// Audio formats, each once, in [`AudioFormat::ALL`] order; never empty.
    pub formats: Vec<AudioFormat>,
    /// Chapter files, each once, in [`ChapterFormat::ALL`] order.
    pub chapters: Vec<ChapterFormat>,
    /// Bit rates of the compressed formats.
    pub bitrates: Bitrates,
    /// Loudness normalisation, when asked for.
    pub loudness: Option<crate::audio::loudness::Target>,
    /// Measure loudness (and record it) even without normalising.
    pub measure_loudness: bool,
}

impl Default for Publishing {
    /// A WAV and WebVTT chapters, no normalisation.
    fn default() -> Self {
        Publishing {
            formats: vec![AudioFormat::Wav],
            chapters: vec![ChapterFormat::Vtt],
            bitrates: Bitrates::default(),
            loudness: None,
            measure_loudness: false,
        }
    }
}

impl Publishing {
    /// Whether any format needs ffmpeg.
    pub fn needs_ffmpeg(&self) -> bool {
        self.formats.iter().any(|f| f.is_encoded())
    }

    /// Everything that shapes the files, for the up-to-date fingerprint.
    pub fn describe(&self) -> String {
        let names = |v: Vec<&str>| v.join(",");
        format!(
            "formats={}\nchapters={}\nbitrates=mp3:{},opus:{},aac:{}\nloudness={}\nmeasure_loudness={}\n",
            names(self.formats.iter().map(|f| f.name()).collect()),
            names(self.chapters.iter().map(|f| f.name()).collect()),
            self.bitrates.mp3,
            self.bitrates.opus,
            self.bitrates.aac,
            self.loudness.map_or("off".to_string(), |t| format!(
                "{}LUFS,{}dBTP",
                t.integrated_lufs, t.true_peak_dbtp
            )),
            self.measure_loudness
        )
    }
}

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
    /// `aloud verify`.
    Verify {
        /// Manifests or folders.
        targets: Vec<PathBuf>,
        /// Print JSON.
        json: bool,
    },
    /// `aloud voices`.
    Voices {
        /// Print JSON.
        json: bool,
    },
    /// `aloud doctor`.
    Doctor {
        /// Print JSON.
        json: bool,
    },
    /// `aloud completions SHELL` or `aloud man`: text generated from the CLI definition.
    Generated(String),
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
    /// Volume, 0–200.
    pub volume: Option<u32>,
    /// The articles' sample rate.
    pub sample_rate: Option<u32>,
    /// Silence between paragraphs.
    pub gap_ms: Option<u64>,
    /// Silence before a paragraph that starts a chapter.
    pub chapter_gap_ms: Option<u64>,
    /// Per-call deadline in seconds.
    pub timeout_secs: Option<f64>,
    /// The command backend's template.
    pub command: Option<String>,
    /// Use this config file instead of looking for `aloud.toml`.
    pub config_file: Option<PathBuf>,
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
    /// `--html-reader`.
    pub html_reader: Option<HtmlReader>,
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
    /// Audio formats to write.
    pub formats: Option<Vec<AudioFormat>>,
    /// Chapter files to write.
    pub chapters: Option<Vec<ChapterFormat>>,
    /// MP3 bit rate, kb/s.
    pub mp3_bitrate: Option<u32>,
    /// Opus bit rate, kb/s.
    pub opus_bitrate: Option<u32>,
    /// AAC (M4B) bit rate, kb/s.
    pub aac_bitrate: Option<u32>,
    /// Integrated loudness target, LUFS; `None`: no normalisation.
    pub loudness: Option<f64>,
    /// True-peak ceiling, dBTP.
    pub true_peak: Option<f64>,
    /// Measure and record loudness without normalising.
    pub measure_loudness: bool,
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
    /// Silence before a paragraph that starts a chapter.
    pub chapter_gap_ms: u64,
    /// The articles' sample rate; `None`: the engine's.
    pub sample_rate: Option<u32>,
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
    /// Files to write and how the audio is finished.
    pub publishing: Publishing,
    /// Print a JSON summary on stdout.
    pub json: bool,
    /// Log each article.
    pub verbose: bool,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// A backend with its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendConfig {
    /// The `espeak-ng` program.
    Espeak(EspeakSettings),
    /// libespeak-ng in worker processes.
    LibEspeak(LibEspeakSettings),
    /// The mock.
    Mock(MockSettings),
    /// A command template.
    Command(CommandSettings),
    /// A TTS server.
    Http(HttpSettings),
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

/// Layers `req` over the config files, its voice profile and the defaults. `cwd` is where
/// `aloud.toml` and `voices/` are looked up.
pub fn resolve(mut req: ConvertRequest, cwd: &Path) -> Result<ConvertConfig, ConfigError> {
    let files = file::find(cwd, req.config_file.as_deref())?;
    file::apply(&mut req, &files);

    let (profile, engine_voice) = match &req.voice {
        None => (default_profile(cwd)?, None),
        Some(name) => match load_profile(name, cwd)? {
            Some((p, _)) => (p, None),
            // Not a profile: the engine's own voice name, over the default profile.
            None => (default_profile(cwd)?, Some(name.clone())),
        },
    };

    let jobs = req
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    check_range("--jobs", jobs as u64)?;
    let gap_ms = req.gap_ms.or(profile.gap_ms).unwrap_or(400);
    check_range("--gap-ms", gap_ms)?;
    let chapter_gap_ms = req
        .chapter_gap_ms
        .or(profile.chapter_gap_ms)
        .unwrap_or(gap_ms);
    check_range("--chapter-gap-ms", chapter_gap_ms)?;
    let sample_rate = req.sample_rate.or(profile.sample_rate);
    if let Some(r) = sample_rate {
        check_range("--sample-rate", u64::from(r))?;
    }
    let timeout_secs = req.timeout_secs.unwrap_or(60.0);
    if let Some(message) = timeout_problem(timeout_secs) {
        return Err(ConfigError::Invalid {
            option: "--timeout",
            message,
        });
    }
    let timeout = Duration::from_secs_f64(timeout_secs);
    let publishing = resolve_publishing(&req)?;

    let voice = engine_voice.or(profile.voice.clone());
    if let Some(message) = voice.as_deref().and_then(voice_problem) {
        return Err(ConfigError::Invalid {
            option: "--voice",
            message,
        });
    }
    let rate = req.rate.or(profile.rate).unwrap_or(175);
    check_range("--rate", u64::from(rate))?;
    let pitch = req.pitch.or(profile.pitch).unwrap_or(50);
    check_range("--pitch", u64::from(pitch))?;
    let volume = req.volume.or(profile.volume).unwrap_or(100);
    check_range("--volume", u64::from(volume))?;
    let model = model_source(&profile)?;
    let version_command = profile
        .version_command
        .as_deref()
        .map(|v| CommandTemplate::parse(v, &[], &[]))
        .transpose()
        .map_err(|message| ConfigError::Invalid {
            option: "version_command",
            message,
        })?;

    let kind = match (req.backend, &req.command) {
        (None, Some(_)) => BackendKind::Command,
        (kind, _) => kind.or(profile.backend).unwrap_or(BackendKind::EspeakNg),
    };
    let backend = match kind {
        BackendKind::EspeakNg | BackendKind::EspeakNgProcess => {
            let espeak = EspeakSettings {
                program: "espeak-ng".into(),
                voice: voice.unwrap_or_else(|| DEFAULT_VOICE.to_string()),
                rate,
                pitch,
                volume,
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
            check_range("--mock-ms-per-char", u64::from(ms_per_char))?;
            if let Some(p) = req.mock_fail_percent {
                check_range("--mock-fail-percent", u64::from(p))?;
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
        BackendKind::Command => {
            let Some(source) = req.command.or(profile.command.clone()) else {
                return Err(ConfigError::Invalid {
                    option: "--command",
                    message: "the command backend needs a template, e.g. --command 'flite -voice {voice} -f {text_file} -o {out}' (or a profile with `command`)".into(),
                });
            };
            let template = CommandTemplate::parse(&source, command::PLACEHOLDERS, &["out"])
                .map_err(|message| ConfigError::Invalid {
                    option: "--command",
                    message,
                })?;
            BackendConfig::Command(CommandSettings {
                template,
                version_command,
                voice: voice.unwrap_or_default(),
                rate,
                pitch,
                volume,
                model,
                timeout,
            })
        }
        BackendKind::Http => {
            let Some(http) = profile.http.clone() else {
                return Err(ConfigError::Invalid {
                    option: "--backend",
                    message: "the http backend needs a voice profile with an [http] table (e.g. --voice piper)".into(),
                });
            };
            let server = http
                .server
                .map(|s| -> Result<ServerSettings, ConfigError> {
                    Ok(ServerSettings {
                        command: CommandTemplate::parse(&s.command, SERVER_PLACEHOLDERS, &["port"])
                            .map_err(|message| ConfigError::Invalid {
                                option: "http.server.command",
                                message,
                            })?,
                        model,
                        startup_timeout: Duration::from_secs_f64(
                            s.startup_timeout.unwrap_or(120.0).clamp(1.0, 3600.0),
                        ),
                    })
                })
                .transpose()?;
            let body = serde_json::to_value(&http.body)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            BackendConfig::Http(HttpSettings {
                api: http.api,
                endpoint: http.endpoint,
                voice,
                model: http.model,
                body,
                headers: http.headers.into_iter().collect(),
                api_key_env: http.api_key_env,
                timeout,
                server,
                version_command,
            })
        }
    };

    let max_chars = req.max_chars.unwrap_or(DEFAULT_MAX_CHARS);
    check_range("--max-chars", max_chars as u64)?;
    let mut lexicons: Vec<LexiconFile> = Vec::new();
    if let Some(name) = &profile.lexicon {
        lexicons.push(profile::load_named_lexicon(name, cwd)?);
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
        html_reader: req.html_reader.unwrap_or_default(),
        lexicon: Lexicon::from_files(&lexicons),
        furniture,
    };

    let retries = req.retries.unwrap_or(2);
    check_range("--retries", u64::from(retries))?;
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
        chapter_gap_ms,
        sample_rate,
        text,
        retries,
        cache,
        force: req.force,
        shard: req.shard,
        publishing,
        json: req.json,
        verbose: req.verbose,
        quiet: req.quiet,
    })
}

fn default_profile(cwd: &Path) -> Result<VoiceProfile, ConfigError> {
    Ok(load_profile(DEFAULT_VOICE, cwd)?
        .expect("the default profile is built in")
        .0)
}

fn model_source(profile: &VoiceProfile) -> Result<ModelSource, ConfigError> {
    Ok(match (&profile.model, &profile.model_command) {
        (Some(m), _) => ModelSource::Path(m.clone()),
        (None, Some(c)) => {
            ModelSource::Command(CommandTemplate::parse(c, &[], &[]).map_err(|message| {
                ConfigError::Invalid {
                    option: "model_command",
                    message,
                }
            })?)
        }
        (None, None) => ModelSource::None,
    })
}

/// Formats, chapter files, bit rates and loudness, checked.
fn resolve_publishing(req: &ConvertRequest) -> Result<Publishing, ConfigError> {
    let defaults = Publishing::default();
    let mut formats = req.formats.clone().unwrap_or(defaults.formats);
    formats.sort();
    formats.dedup();
    if formats.is_empty() {
        return Err(ConfigError::Invalid {
            option: "--formats",
            message: "name at least one of wav, mp3, opus, m4b".into(),
        });
    }
    let mut chapters = req.chapters.clone().unwrap_or(defaults.chapters);
    chapters.sort();
    chapters.dedup();
    let bitrates = Bitrates {
        mp3: req.mp3_bitrate.unwrap_or(defaults.bitrates.mp3),
        opus: req.opus_bitrate.unwrap_or(defaults.bitrates.opus),
        aac: req.aac_bitrate.unwrap_or(defaults.bitrates.aac),
    };
    check_range("--mp3-bitrate", u64::from(bitrates.mp3))?;
    check_range("--opus-bitrate", u64::from(bitrates.opus))?;
    check_range("--aac-bitrate", u64::from(bitrates.aac))?;
    let true_peak = req.true_peak.unwrap_or(DEFAULT_TRUE_PEAK);
    if let Some(message) = true_peak_problem(true_peak) {
        return Err(ConfigError::Invalid {
            option: "--true-peak",
            message,
        });
    }
    if let Some(message) = req.loudness.and_then(loudness_problem) {
        return Err(ConfigError::Invalid {
            option: "--loudness",
            message,
        });
    }
    let loudness = req.loudness.map(|l| crate::audio::loudness::Target {
        integrated_lufs: l,
        true_peak_dbtp: true_peak,
    });
    // Measuring costs about a second of CPU per hour of audio: nothing beside ffmpeg's encodes,
    // but a quarter or more of a plain WAV conversion, which measures only when asked.
    let measure_loudness = req.measure_loudness
        || loudness.is_some()
        || formats.iter().any(|f| *f != AudioFormat::Wav);
    Ok(Publishing {
        formats,
        chapters,
        bitrates,
        measure_loudness,
        loudness,
    })
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// A file that may be absent: `Ok(None)` when it does not exist.
fn read_if_exists(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(src) => Ok(Some(src)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A TOML error as the messages give it: line, column and key, without the trailing newline.
fn toml_message(e: &toml::de::Error) -> String {
    e.to_string().trim_end().to_string()
}

/// The numeric settings' allowed ranges, by key: the `aloud.toml` and voice-profile key, and the
/// flag with `--` and `-` for `_`. Checked wherever a value is given (flag, file or profile),
/// so a message can name where a wrong value came from.
const RANGES: &[(&str, u64, u64)] = &[
    ("jobs", 1, 1024),
    ("gap_ms", 0, 60_000),
    ("chapter_gap_ms", 0, 60_000),
    ("sample_rate", 8000, 192_000),
    ("rate", 80, 450),
    ("pitch", 0, 99),
    ("volume", 0, 200),
    ("max_chars", 50, 100_000),
    ("retries", 0, 20),
    ("mp3_bitrate", 8, 320),
    ("opus_bitrate", 6, 256),
    ("aac_bitrate", 16, 320),
    ("mock_ms_per_char", 1, 10_000),
    ("mock_fail_percent", 0, 100),
];

/// What is wrong with `value` for the numeric setting `key`, if anything.
fn range_problem(key: &str, value: u64) -> Option<String> {
    let &(_, min, max) = RANGES
        .iter()
        .find(|(k, _, _)| *k == key)
        .expect("every checked setting has a range");
    (!(min..=max).contains(&value)).then(|| format!("{value} is out of range; use {min} to {max}"))
}

/// What is wrong with an engine's voice name, if anything (it is passed to engines as one
/// argument, so it may not look like an option or hold spaces).
fn voice_problem(voice: &str) -> Option<String> {
    (voice.is_empty() || voice.starts_with('-') || voice.chars().any(char::is_whitespace))
        .then(|| format!("{voice:?} is not a voice name"))
}

/// What is wrong with a `--timeout` of `secs` seconds, if anything.
fn timeout_problem(secs: f64) -> Option<String> {
    (!(secs.is_finite() && secs > 0.0 && secs <= 86_400.0))
        .then(|| format!("{secs} is not a number of seconds above 0 and at most 86400"))
}

/// What is wrong with a `--true-peak` ceiling, if anything.
fn true_peak_problem(dbtp: f64) -> Option<String> {
    (!(dbtp.is_finite() && (-20.0..=0.0).contains(&dbtp)))
        .then(|| format!("{dbtp} is not a ceiling between -20 and 0 dBTP"))
}

/// What is wrong with a `--loudness` target, if anything.
fn loudness_problem(lufs: f64) -> Option<String> {
    (!(lufs.is_finite() && (-40.0..=-5.0).contains(&lufs))).then(|| {
        format!(
            "{lufs} is not a loudness between -40 and -5 LUFS (e.g. -16 for podcasts, -18 for speech)"
        )
    })
}

/// A real-valued setting: its key, its value if given, and what would be wrong with a value.
type RealSetting<'a> = (&'a str, Option<f64>, fn(f64) -> Option<String>);

/// The numeric settings a file or profile gives, by key, checked: the first problem as
/// `key: what is wrong with the value`, for a message that names the file.
fn check_settings(counts: &[(&str, Option<u64>)], reals: &[RealSetting]) -> Result<(), String> {
    let counts = counts
        .iter()
        .filter_map(|&(key, v)| v.and_then(|v| range_problem(key, v)).map(|p| (key, p)));
    let reals = reals
        .iter()
        .filter_map(|&(key, v, problem)| v.and_then(problem).map(|p| (key, p)));
    match counts.chain(reals).next() {
        Some((key, problem)) => Err(format!("{key}: {problem}")),
        None => Ok(()),
    }
}

/// A flag's value, checked against its range (`--gap-ms` is the setting `gap_ms`).
fn check_range(option: &'static str, value: u64) -> Result<(), ConfigError> {
    let key = option.trim_start_matches("--").replace('-', "_");
    match range_problem(&key, value) {
        None => Ok(()),
        Some(message) => Err(ConfigError::Invalid { option, message }),
    }
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
    fn builtin_profiles_and_lexicons_parse() {
        for (name, src) in profile::BUILTIN_PROFILES {
            parse_profile(src, Path::new(name)).unwrap();
        }
        for (_, src) in profile::BUILTIN_LEXICONS {
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
    fn out_of_range_values_in_files_and_profiles_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("voices")).unwrap();
        let fails = |file: &str, src: &str, r: ConvertRequest| {
            std::fs::write(dir.path().join(file), src).unwrap();
            let msg = resolve(r, dir.path()).unwrap_err().to_string();
            std::fs::remove_file(dir.path().join(file)).unwrap();
            msg
        };
        let msg = fails("aloud.toml", "jobs = 0\n", req());
        assert!(
            msg.contains("aloud.toml: jobs: 0 is out of range; use 1 to 1024"),
            "{msg}"
        );
        let msg = fails("aloud.toml", "timeout = 0.0\n", req());
        assert!(msg.contains("aloud.toml: timeout: 0 is not"), "{msg}");
        let msg = fails("aloud.toml", "loudness = 3.0\n", req());
        assert!(msg.contains("aloud.toml: loudness: 3 is not"), "{msg}");
        let msg = fails("aloud.toml", "voice = \"\"\n", req());
        assert!(
            msg.contains("aloud.toml: voice: \"\" is not a voice name"),
            "{msg}"
        );
        let msg = fails("aloud.toml", "formats = []\n", req());
        assert!(
            msg.contains("aloud.toml: formats: name at least one"),
            "{msg}"
        );
        let fast = ConvertRequest {
            voice: Some("fast".into()),
            ..req()
        };
        let msg = fails("voices/fast.toml", "rate = 5000\n", fast);
        assert!(
            msg.contains("voice profile ") && msg.contains("fast.toml: rate: 5000 is out of range"),
            "{msg}"
        );
        // The same value from the command line names the flag.
        let msg = resolve(
            ConvertRequest {
                timeout_secs: Some(0.0),
                ..req()
            },
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            msg,
            "--timeout: 0 is not a number of seconds above 0 and at most 86400"
        );
    }

    #[test]
    fn publishing_defaults_to_a_wav_and_vtt_and_sorts_what_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let c = resolve(req(), dir.path()).unwrap();
        assert_eq!(c.publishing, Publishing::default());
        assert!(!c.publishing.needs_ffmpeg());
        let c = resolve(
            ConvertRequest {
                formats: Some(vec![AudioFormat::Opus, AudioFormat::Mp3, AudioFormat::Opus]),
                chapters: Some(vec![ChapterFormat::Cue, ChapterFormat::Vtt]),
                loudness: Some(-16.0),
                ..req()
            },
            dir.path(),
        )
        .unwrap();
        let p = c.publishing;
        assert_eq!(p.formats, [AudioFormat::Mp3, AudioFormat::Opus]);
        assert_eq!(p.chapters, [ChapterFormat::Vtt, ChapterFormat::Cue]);
        assert!(p.needs_ffmpeg());
        let target = p.loudness.unwrap();
        assert_eq!(
            (target.integrated_lufs, target.true_peak_dbtp),
            (-16.0, -1.0)
        );
        assert!(p.describe().contains("formats=mp3,opus\n"));
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
            (
                ConvertRequest {
                    formats: Some(vec![]),
                    ..req()
                },
                "--formats",
            ),
            (
                ConvertRequest {
                    mp3_bitrate: Some(1000),
                    ..req()
                },
                "--mp3-bitrate",
            ),
            (
                ConvertRequest {
                    loudness: Some(3.0),
                    ..req()
                },
                "--loudness",
            ),
            (
                ConvertRequest {
                    true_peak: Some(1.0),
                    ..req()
                },
                "--true-peak",
            ),
        ] {
            let err = resolve(r, dir.path()).unwrap_err();
            assert!(err.to_string().starts_with(option), "{err}");
        }
    }
}
