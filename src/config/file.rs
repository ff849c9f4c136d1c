//! `aloud.toml`: defaults for any option of `aloud convert`, so a project or a user does not
//! repeat flags.
//!
//! Looked up in the working folder (`./aloud.toml`) and in the user's config folder
//! (`~/.config/aloud/aloud.toml`); `--config FILE` uses that one file instead. Keys are the
//! long option names with `_` for `-` (`gap_ms = 300`, `cache_dir = "..."`). Relative paths
//! are relative to the file's folder. Precedence, highest first: command-line flags, the
//! working folder's file, the user's file, the voice profile, built-in defaults. Lists
//! (`lexicon`, `furniture`) add up; a flag cannot switch off a boolean a file switched on.

use super::{AudioFormat, BackendKind, ChapterFormat, ConfigError, ConvertRequest};
use crate::text::{Format, HtmlReader};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file's name in a folder.
pub const FILE_NAME: &str = "aloud.toml";

/// An `aloud.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `--output`.
    pub output: Option<PathBuf>,
    /// `--jobs`.
    pub jobs: Option<usize>,
    /// `--backend`.
    pub backend: Option<BackendKind>,
    /// `--voice`.
    pub voice: Option<String>,
    /// `--rate`.
    pub rate: Option<u32>,
    /// `--pitch`.
    pub pitch: Option<u32>,
    /// `--volume`.
    pub volume: Option<u32>,
    /// `--sample-rate`.
    pub sample_rate: Option<u32>,
    /// `--gap-ms`.
    pub gap_ms: Option<u64>,
    /// `--chapter-gap-ms`.
    pub chapter_gap_ms: Option<u64>,
    /// `--timeout`, seconds.
    pub timeout: Option<f64>,
    /// `--command`.
    pub command: Option<String>,
    /// `--format`.
    pub format: Option<Format>,
    /// `--max-chars`.
    pub max_chars: Option<usize>,
    /// `--image-alt`.
    pub image_alt: Option<bool>,
    /// `--html-reader`.
    pub html_reader: Option<HtmlReader>,
    /// `--lexicon`, any number.
    #[serde(default)]
    pub lexicon: Vec<PathBuf>,
    /// `--furniture`, any number.
    #[serde(default)]
    pub furniture: Vec<PathBuf>,
    /// `--retries`.
    pub retries: Option<u32>,
    /// `--cache-dir`.
    pub cache_dir: Option<PathBuf>,
    /// `--no-cache`.
    pub no_cache: Option<bool>,
    /// `--quiet`.
    pub quiet: Option<bool>,
    /// `--verbose`.
    pub verbose: Option<bool>,
    /// `--formats`.
    pub formats: Option<Vec<AudioFormat>>,
    /// `--chapters`.
    pub chapters: Option<Vec<ChapterFormat>>,
    /// `--mp3-bitrate`.
    pub mp3_bitrate: Option<u32>,
    /// `--opus-bitrate`.
    pub opus_bitrate: Option<u32>,
    /// `--aac-bitrate`.
    pub aac_bitrate: Option<u32>,
    /// `--loudness`.
    pub loudness: Option<f64>,
    /// `--true-peak`.
    pub true_peak: Option<f64>,
    /// `--measure-loudness`.
    pub measure_loudness: Option<bool>,
}

/// The config files that apply, highest precedence first, each with its path.
pub fn find(
    cwd: &Path,
    explicit: Option<&Path>,
) -> Result<Vec<(PathBuf, ConfigFile)>, ConfigError> {
    if let Some(path) = explicit {
        let path = cwd.join(path);
        let src = super::read_file(&path)?;
        return Ok(vec![(path.clone(), parse(&src, &path)?)]);
    }
    let mut candidates = vec![cwd.join(FILE_NAME)];
    if let Some(d) = super::profile::user_config_dir() {
        candidates.push(d.join(FILE_NAME));
    }
    let mut found = Vec::new();
    for path in candidates {
        let read = super::read_if_exists(&path).map_err(|e| ConfigError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if let Some(src) = read {
            let file = parse(&src, &path)?;
            found.push((path, file));
        }
    }
    Ok(found)
}

/// Parses a config file; errors carry TOML's line, column and key.
pub fn parse(src: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
    let mut file: ConfigFile = toml::from_str(src).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        message: super::toml_message(&e),
    })?;
    file.check().map_err(|message| ConfigError::File {
        path: path.to_path_buf(),
        message,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let rebase = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    };
    file.output.as_mut().map(rebase);
    file.cache_dir.as_mut().map(rebase);
    file.lexicon.iter_mut().for_each(rebase);
    file.furniture.iter_mut().for_each(rebase);
    Ok(file)
}

impl ConfigFile {
    /// The values' ranges, the same as the flags'.
    fn check(&self) -> Result<(), String> {
        if self.formats.as_ref().is_some_and(Vec::is_empty) {
            return Err("formats: name at least one of wav, mp3, opus, m4b".into());
        }
        if let Some(problem) = self.voice.as_deref().and_then(super::voice_problem) {
            return Err(format!("voice: {problem}"));
        }
        let u = |v: Option<u32>| v.map(u64::from);
        super::check_settings(
            &[
                ("jobs", self.jobs.map(|v| v as u64)),
                ("rate", u(self.rate)),
                ("pitch", u(self.pitch)),
                ("volume", u(self.volume)),
                ("sample_rate", u(self.sample_rate)),
                ("gap_ms", self.gap_ms),
                ("chapter_gap_ms", self.chapter_gap_ms),
                ("max_chars", self.max_chars.map(|v| v as u64)),
                ("retries", u(self.retries)),
                ("mp3_bitrate", u(self.mp3_bitrate)),
                ("opus_bitrate", u(self.opus_bitrate)),
                ("aac_bitrate", u(self.aac_bitrate)),
            ],
            &[
                ("timeout", self.timeout, super::timeout_problem),
                ("loudness", self.loudness, super::loudness_problem),
                ("true_peak", self.true_peak, super::true_peak_problem),
            ],
        )
    }
}

/// Fills what `req` leaves open from `files` (highest precedence first).
pub fn apply(req: &mut ConvertRequest, files: &[(PathBuf, ConfigFile)]) {
    for (_, f) in files {
        let f = f.clone();
        req.output = req.output.take().or(f.output);
        req.jobs = req.jobs.or(f.jobs);
        req.backend = req.backend.or(f.backend);
        req.voice = req.voice.take().or(f.voice);
        req.rate = req.rate.or(f.rate);
        req.pitch = req.pitch.or(f.pitch);
        req.volume = req.volume.or(f.volume);
        req.sample_rate = req.sample_rate.or(f.sample_rate);
        req.gap_ms = req.gap_ms.or(f.gap_ms);
        req.chapter_gap_ms = req.chapter_gap_ms.or(f.chapter_gap_ms);
        req.timeout_secs = req.timeout_secs.or(f.timeout);
        req.command = req.command.take().or(f.command);
        req.format = req.format.or(f.format);
        req.max_chars = req.max_chars.or(f.max_chars);
        req.image_alt |= f.image_alt.unwrap_or(false);
        req.html_reader = req.html_reader.or(f.html_reader);
        req.retries = req.retries.or(f.retries);
        req.cache_dir = req.cache_dir.take().or(f.cache_dir);
        req.no_cache |= f.no_cache.unwrap_or(false);
        req.formats = req.formats.take().or(f.formats);
        req.chapters = req.chapters.take().or(f.chapters);
        req.mp3_bitrate = req.mp3_bitrate.or(f.mp3_bitrate);
        req.opus_bitrate = req.opus_bitrate.or(f.opus_bitrate);
        req.aac_bitrate = req.aac_bitrate.or(f.aac_bitrate);
        req.loudness = req.loudness.or(f.loudness);
        req.true_peak = req.true_peak.or(f.true_peak);
        req.measure_loudness |= f.measure_loudness.unwrap_or(false);
        req.quiet |= f.quiet.unwrap_or(false) && !req.verbose;
        req.verbose |= f.verbose.unwrap_or(false) && !req.quiet;
        // Files' lists come first, so a flag's lexicon entries win over a file's.
        req.lexicon_files.splice(0..0, f.lexicon);
        req.furniture_files.splice(0..0, f.furniture);
    }
}
