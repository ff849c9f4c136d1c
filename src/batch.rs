//! Which files a run converts, and where each one's outputs go.
//!
//! Folders are walked recursively in sorted order; hidden files and folders are skipped, and
//! symbolic links to folders are not followed (so a link loop cannot trap the walk). A file
//! named on the command line is converted whatever its extension. Outputs mirror the input
//! tree under the output folder and never escape it. When two inputs would write the same
//! outputs (`b.md` and `b.txt`), both keep their extension in the output name instead, with a
//! warning; the choice depends only on the list of inputs, so it is the same on every run.

use crate::audio::check::Expectation;
use crate::audio::frames_to_ms;
use crate::backend::{self, EngineInfo, SynthError};
use crate::cache::UnitCache;
use crate::config::{
    self, BackendConfig, CacheAction, ConvertConfig, ConvertRequest, IndexRequest, Shard,
};
use crate::encode::Ffmpeg;
use crate::exit_codes::ExitCode;
use crate::index;
use crate::pipeline::{self, ArticleJob, Outcome, PipelineSettings, RunReport, UnitStats};
use crate::report::{self, Progress};
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// File extensions a folder walk picks up (lower case).
pub const ARTICLE_EXTENSIONS: &[&str] = &["txt", "md", "markdown", "html", "htm"];

/// `aloud convert`: resolve settings, find the articles (this shard's), check the engine once,
/// convert, rebuild the output folder's index, and report. Returns the exit code; `Err` is for
/// failures before any article was attempted.
pub fn run_convert(request: ConvertRequest) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot determine the current folder")?;
    let config = match config::resolve(request, &cwd) {
        Ok(config) => config,
        Err(e) => {
            report::error(&e);
            return Ok(ExitCode::Usage);
        }
    };
    let stdin = StdinSpool::read_if_named(&config.inputs)?;
    let mut found = discover(&config.inputs, &config.output_dir, stdin.as_ref())?;
    for w in &found.warnings {
        report::warning(w);
    }
    if let Some(shard) = config.shard {
        let all = found.jobs.len();
        found.jobs.retain(|j| in_shard(&j.name, shard));
        if found.jobs.is_empty() && all > 0 && !config.quiet {
            report::line(format_args!(
                "aloud: shard {}/{} has none of the {all} article{} found (the other shards have them)",
                shard.index,
                shard.count,
                if all == 1 { "" } else { "s" }
            ));
        }
    }
    let synth = backend::build(&config.backend)?;
    let engine = match synth.check() {
        Ok(info) => info,
        // Ctrl-C while the engine was being tried: an interruption, not a broken engine.
        Err(_) if crate::process::cancelled() => {
            report::error("interrupted before anything was synthesized; no files were written");
            return Ok(ExitCode::Interrupted);
        }
        Err(e @ SynthError::NotFound { .. }) => return Err(e.into()),
        Err(e) => {
            // The usual cause with espeak-ng is a voice name it does not have.
            let voice = match &config.backend {
                BackendConfig::Espeak(s) => Some(&s.voice),
                BackendConfig::LibEspeak(s) => Some(&s.espeak.voice),
                _ => None,
            };
            let hint = voice.map_or(String::new(), |v| {
                format!(" with voice {v:?} (`aloud voices` lists its voices and aloud's profiles)")
            });
            return Err(
                anyhow::Error::new(e).context(format!("{} is not usable{hint}", synth.name()))
            );
        }
    };
    // ffmpeg is checked once, before any synthesis, when a compressed format is asked for.
    let ffmpeg = if config.publishing.needs_ffmpeg() {
        Some(Ffmpeg::check(&config.publishing.formats)?)
    } else {
        None
    };
    let started = Instant::now();
    let settings = PipelineSettings {
        jobs: config.jobs,
        gap_ms: config.gap_ms,
        chapter_gap_ms: config.chapter_gap_ms,
        sample_rate: config.sample_rate.unwrap_or(engine.sample_rate),
        text: config.text.clone(),
        retries: config.retries,
        expectation: match &config.backend {
            BackendConfig::Espeak(s) => Expectation::espeak(s.rate),
            BackendConfig::Mock(s) => Expectation::mock(s.ms_per_char),
            _ => Expectation::other(),
        },
        cache: usable_cache(config.cache.as_ref()),
        rebuild: config.force,
        fingerprint: fingerprint(&engine, ffmpeg.as_ref(), &config),
        publishing: config.publishing.clone(),
        ffmpeg,
    };
    remove_stale_temps(&found.jobs, config.quiet);
    let bytes: Vec<u64> = found
        .jobs
        .iter()
        .map(|j| std::fs::metadata(&j.source).map_or(0, |m| m.len()))
        .collect();
    let mut progress = Progress::new(&bytes, config.quiet, config.verbose);
    let run = pipeline::convert(&found.jobs, synth.as_ref(), &engine, &settings, &mut |e| {
        progress.event(e)
    })
    .context("cannot start the synthesis workers")?;
    progress.finish();
    // The index lists what is in the folder now, this run's articles and any earlier ones;
    // even an interrupted run's finished articles belong in it.
    // A run that wrote nothing into an output folder that does not exist (an empty shard) has
    // nothing to index.
    let index_failed = config.output_dir.is_dir()
        && rebuild_index(&config.output_dir, config.quiet || run.interrupted).is_none();

    let summary = Summary::new(&found.jobs, &run, started.elapsed());
    if config.json {
        let mut out = std::io::stdout().lock();
        let json = serde_json::to_string_pretty(&summary)?;
        if let Err(e) = writeln!(out, "{json}")
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(e.into());
        }
    }
    if run.interrupted {
        report::error(format_args!(
            "interrupted: {} of {} articles finished and kept; unfinished ones left no files; run again to resume",
            summary.articles.converted + summary.articles.unchanged,
            summary.articles.total
        ));
        return Ok(ExitCode::Interrupted);
    }
    if let (Some(cache), Some(why)) = (&settings.cache, &run.cache_error) {
        let n = run.units.cache_write_errors;
        report::warning(format_args!(
            "{n} synthesized unit{} could not be written to the cache in {} ({why}); the next run synthesizes {} again",
            if n == 1 { "" } else { "s" },
            cache.dir().display(),
            if n == 1 { "it" } else { "them" }
        ));
    }
    if !config.quiet {
        report::line(format_args!("{}", summary.line()));
    }
    Ok(if summary.articles.failed > 0 || index_failed {
        ExitCode::Failure
    } else {
        ExitCode::Success
    })
}

/// The cache, if its folder is a folder or can be made one; otherwise a warning and no cache,
/// rather than one failed write per unit.
fn usable_cache(cache: Option<&UnitCache>) -> Option<UnitCache> {
    let cache = cache?;
    let dir = cache.dir();
    // The entries' own folder too, so that a file in its place is found now, not at the end.
    let why = match std::fs::create_dir_all(cache.units_dir()) {
        Ok(()) => return Some(cache.clone()),
        Err(_) if dir.exists() && !dir.is_dir() => "it is not a folder".to_string(),
        Err(_) if cache.units_dir().exists() => {
            format!("{} is not a folder", cache.units_dir().display())
        }
        Err(e) => e.to_string(),
    };
    report::warning(format_args!(
        "cannot use the cache folder {} ({why}); this run caches nothing (give --cache-dir a folder, or --no-cache)",
        dir.display()
    ));
    None
}

/// The input that names standard input.
pub const STDIN_ARG: &str = "-";

/// What an article read from standard input is called: its outputs are `stdin.wav` and so on,
/// and with no extension its format is found from its content (`--format` chooses it).
pub const STDIN_NAME: &str = "stdin";

/// Standard input read to its end into a temporary file, which lives as long as this (the
/// pipeline reads an article more than once, and a pipe can be read once).
pub struct StdinSpool(tempfile::NamedTempFile);

impl StdinSpool {
    /// Reads standard input if `-` is one of the inputs.
    pub fn read_if_named(inputs: &[PathBuf]) -> anyhow::Result<Option<StdinSpool>> {
        if !inputs.iter().any(|i| i.as_os_str() == STDIN_ARG) {
            return Ok(None);
        }
        let mut stdin = std::io::stdin().lock();
        if std::io::IsTerminal::is_terminal(&stdin) {
            report::line(format_args!(
                "aloud: reading the article from standard input; end it with Ctrl-D"
            ));
        }
        let mut file = tempfile::Builder::new()
            .prefix("aloud-stdin.")
            .tempfile()
            .context("cannot make a temporary file for standard input")?;
        std::io::copy(&mut stdin, file.as_file_mut())
            .context("cannot read the article from standard input")?;
        Ok(Some(StdinSpool(file)))
    }

    /// Where it was written.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Removes the temporary files that killed runs left in the folders this run writes into
/// (a killed run cannot remove its own; a WAV's can be gigabytes), saying so unless quiet.
fn remove_stale_temps(jobs: &[ArticleJob], quiet: bool) {
    let dirs: std::collections::BTreeSet<&Path> =
        jobs.iter().filter_map(|j| j.out_base.parent()).collect();
    for dir in dirs {
        let (files, bytes) = pipeline::remove_stale_temps(dir);
        if files > 0 && !quiet {
            report::line(format_args!(
                "aloud: removed {files} temporary {} ({}) that an interrupted run left in {}",
                if files == 1 { "file" } else { "files" },
                crate::html::human_size(bytes),
                dir.display()
            ));
        }
    }
}

/// Whether an article belongs to a shard: the first 8 bytes of the SHA-256 of its relative
/// path (with `/` separators), as a big-endian number, modulo the shard count. It depends only
/// on the path, so every machine agrees without talking to the others.
pub fn in_shard(name: &str, shard: Shard) -> bool {
    let digest = Sha256::digest(name.as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    n % u64::from(shard.count) == u64::from(shard.index)
}

/// Raised by every change that makes other outputs from the same source and settings (how an
/// article is read, what its page, captions or manifest hold, which files are written), so
/// that outputs an earlier build made are converted again instead of found up to date. The
/// package version alone does not do it between releases. Reconverting takes the units from
/// the cache: it costs no synthesis.
pub const OUTPUTS_REVISION: u32 = 2;

/// SHA-256 of everything that shapes an article's outputs besides its source: the engine
/// and voice, the text options, the files asked for with their bit rates and loudness, and
/// the versions of aloud (with its [`OUTPUTS_REVISION`]) and of the ffmpeg that encodes.
fn fingerprint(engine: &EngineInfo, ffmpeg: Option<&Ffmpeg>, config: &ConvertConfig) -> String {
    let mut settings = engine.settings.clone();
    settings.sort();
    let mut text = format!(
        "aloud {} outputs {OUTPUTS_REVISION}\nengine={}\nversion={}\nrate={}\nsettings={settings:?}\noutput_rate={:?}\ngap_ms={}\nchapter_gap_ms={}\n{}",
        env!("CARGO_PKG_VERSION"),
        engine.name,
        engine.version,
        engine.sample_rate,
        config.sample_rate,
        config.gap_ms,
        config.chapter_gap_ms,
        config.text.describe()
    );
    text.push_str(&config.publishing.describe());
    if let Some(ffmpeg) = ffmpeg {
        text.push_str(&format!("encoder={}\n", ffmpeg.version));
    }
    crate::hex(&Sha256::digest(text.as_bytes()))
}

/// The end-of-run summary (`--json` prints it).
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    /// Article counts.
    pub articles: ArticleCounts,
    /// Unit counts.
    pub units: UnitStats,
    /// Seconds of audio in the articles converted or already up to date.
    pub audio_seconds: f64,
    /// Wall-clock seconds of the run.
    pub wall_seconds: f64,
    /// Whether the run was interrupted.
    pub interrupted: bool,
    /// How loud the articles converted or up to date are (`null` when none could be
    /// measured).
    pub loudness: Option<LoudnessSpread>,
    /// Every article that failed, with why.
    pub failures: Vec<Failure>,
}

/// The range of the articles' integrated loudness: how evenly loud a batch is.
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct LoudnessSpread {
    /// Articles measured.
    pub articles: usize,
    /// The quietest, LUFS.
    pub min_lufs: f64,
    /// The loudest, LUFS.
    pub max_lufs: f64,
    /// `max_lufs - min_lufs`, LU.
    pub spread_lu: f64,
}

impl LoudnessSpread {
    fn of(levels: &[f64]) -> Option<LoudnessSpread> {
        let min = levels.iter().copied().reduce(f64::min)?;
        let max = levels.iter().copied().reduce(f64::max)?;
        Some(LoudnessSpread {
            articles: levels.len(),
            min_lufs: min,
            max_lufs: max,
            spread_lu: crate::manifest::round_db(max - min),
        })
    }
}

/// How many articles did what.
#[derive(Debug, Default, serde::Serialize)]
pub struct ArticleCounts {
    /// Articles in this run (this shard's).
    pub total: usize,
    /// Converted now.
    pub converted: usize,
    /// Already up to date.
    pub unchanged: usize,
    /// Failed; they have no outputs.
    pub failed: usize,
}

/// One failed article.
#[derive(Debug, serde::Serialize)]
pub struct Failure {
    /// Its source file, as it was given or found.
    pub source: String,
    /// Why (with the paragraph and the engine's stderr when an engine failed).
    pub error: String,
}

impl Summary {
    fn new(jobs: &[ArticleJob], run: &RunReport, wall: Duration) -> Summary {
        let mut articles = ArticleCounts {
            total: jobs.len(),
            ..ArticleCounts::default()
        };
        let mut audio_ms = 0;
        let mut failures = Vec::new();
        let mut levels = Vec::new();
        for o in &run.outcomes {
            match o {
                Outcome::Converted(c) | Outcome::Unchanged(c) => {
                    if matches!(o, Outcome::Converted(_)) {
                        articles.converted += 1;
                    } else {
                        articles.unchanged += 1;
                    }
                    audio_ms += frames_to_ms(c.frames, c.sample_rate);
                    levels.extend(c.loudness_lufs);
                }
                Outcome::Failed { name, error } => {
                    articles.failed += 1;
                    failures.push(Failure {
                        source: name.clone(),
                        error: error.to_string(),
                    });
                }
            }
        }
        Summary {
            articles,
            units: run.units,
            audio_seconds: audio_ms as f64 / 1000.0,
            wall_seconds: (wall.as_secs_f64() * 1000.0).round() / 1000.0,
            interrupted: run.interrupted,
            loudness: LoudnessSpread::of(&levels),
            failures,
        }
    }

    /// One line for people.
    fn line(&self) -> String {
        let a = &self.articles;
        let mut parts = vec![format!("{} converted", a.converted)];
        if a.unchanged > 0 {
            parts.push(format!("{} up to date", a.unchanged));
        }
        if a.failed > 0 {
            parts.push(format!("{} failed", a.failed));
        }
        let mut line = format!(
            "{} of {} article{}; {} of audio; {} unit{} synthesized, {} from cache; {:.1} s",
            parts.join(", "),
            a.total,
            if a.total == 1 { "" } else { "s" },
            report::clock((self.audio_seconds * 1000.0) as u64),
            self.units.synthesized,
            if self.units.synthesized == 1 { "" } else { "s" },
            self.units.cached,
            self.wall_seconds
        );
        match &self.loudness {
            Some(l) if l.articles == 1 => {
                line.push_str(&format!("; loudness {:.1} LUFS", l.min_lufs));
            }
            Some(l) => line.push_str(&format!(
                "; loudness {:.1} to {:.1} LUFS (spread {:.1} LU)",
                l.min_lufs, l.max_lufs, l.spread_lu
            )),
            None => {}
        }
        line
    }
}

/// `aloud cache stats|clear`.
pub fn run_cache(
    action: CacheAction,
    dir: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(dir) = dir.or_else(UnitCache::default_dir) else {
        anyhow::bail!(
            "no cache folder: there is no home folder to put it in; pass --cache-dir DIR"
        );
    };
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "the cache folder {} is not a folder; give --cache-dir a folder",
            dir.display()
        );
    }
    let cache = UnitCache::new(&dir);
    let (verb, stats) = match action {
        CacheAction::Stats => ("holds", cache.stats()),
        CacheAction::Clear => (
            "cleared",
            cache
                .clear()
                .with_context(|| format!("could not clear the cache in {}", dir.display()))?,
        ),
    };
    let mut out = std::io::stdout().lock();
    let written = if json {
        let v = serde_json::json!({"dir": dir, "entries": stats.entries, "bytes": stats.bytes});
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)
    } else {
        writeln!(
            out,
            "{}: {verb} {} unit{} ({:.1} MiB)",
            dir.display(),
            stats.entries,
            if stats.entries == 1 { "" } else { "s" },
            stats.bytes as f64 / (1024.0 * 1024.0)
        )
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::Success),
    }
}

/// `aloud index [DIR]`: rebuild `DIR/index.html` from the manifests under DIR.
pub fn run_index(request: IndexRequest) -> anyhow::Result<ExitCode> {
    let dir = request
        .dir
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_OUTPUT));
    if !dir.is_dir() {
        report::error(format_args!("{}: not a folder", dir.display()));
        return Ok(ExitCode::Failure);
    }
    match rebuild_index(&dir, request.quiet) {
        None => Ok(ExitCode::Failure),
        Some(0) => {
            report::error(format_args!(
                "{}: no aloud manifests (NAME.json) found in it; nothing to index",
                dir.display()
            ));
            Ok(ExitCode::Failure)
        }
        Some(_) => Ok(ExitCode::Success),
    }
}

/// Rebuilds `dir/index.html`, printing its warnings and errors. Returns the number of articles
/// listed (0: no manifest, nothing written), or `None` when it could not be written.
fn rebuild_index(dir: &Path, quiet: bool) -> Option<usize> {
    match index::rebuild(dir) {
        Ok(r) => {
            for w in &r.warnings {
                report::warning(w);
            }
            if let Some(path) = r.written.filter(|_| !quiet) {
                report::line(format_args!(
                    "index {} lists {} article{}",
                    path.display(),
                    r.articles,
                    if r.articles == 1 { "" } else { "s" }
                ));
            }
            Some(r.articles)
        }
        Err(e) => {
            report::error(format_args!("the index: {e}"));
            None
        }
    }
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Articles in order.
    pub jobs: Vec<ArticleJob>,
    /// Things the user should know (renamed outputs, empty folders).
    pub warnings: Vec<String>,
}

/// Why the inputs cannot be used at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// An input does not exist or cannot be examined. (The message leaves the cause to the
    /// error chain, which prints it once.)
    #[error("cannot read the input {}", .path.display())]
    Input {
        /// The input as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An input is neither a file nor a folder (a FIFO, a device), which reading could block on.
    #[error("{} is not a regular file or a folder; give aloud article files or folders of them", .0.display())]
    NotAFile(PathBuf),
    /// An input folder is the output folder, whose files aloud never reads back.
    #[error(
        "{} is the output folder, and aloud does not read its own outputs as articles; write them elsewhere with -o DIR",
        .0.display()
    )]
    InputIsOutput(PathBuf),
    /// The output folder's path names something that is not a folder.
    #[error("the output folder {} exists and is not a folder; choose another with -o DIR", .0.display())]
    OutputNotAFolder(PathBuf),
    /// No article was found in any input.
    #[error("no articles found in {} (aloud reads files ending in {})", .paths, .extensions)]
    NoArticles {
        /// The inputs, for the message.
        paths: String,
        /// The extensions looked for.
        extensions: String,
    },
}

/// Finds the articles under `inputs` and names their outputs under `out_dir`.
pub fn discover(
    inputs: &[PathBuf],
    out_dir: &Path,
    stdin: Option<&StdinSpool>,
) -> Result<Discovery, DiscoveryError> {
    if std::fs::metadata(out_dir).is_ok_and(|m| !m.is_dir()) {
        return Err(DiscoveryError::OutputNotAFolder(out_dir.to_path_buf()));
    }
    let out_canonical = out_dir.canonicalize().ok();
    let mut found: Vec<(PathBuf, PathBuf)> = Vec::new(); // (source, path relative to its input)
    let mut warnings = Vec::new();
    for input in inputs {
        if let Some(spool) = stdin.filter(|_| input.as_os_str() == STDIN_ARG) {
            found.push((spool.path().to_path_buf(), PathBuf::from(STDIN_NAME)));
            continue;
        }
        let meta = std::fs::metadata(input).map_err(|source| DiscoveryError::Input {
            path: input.clone(),
            source,
        })?;
        if meta.is_dir() {
            if out_canonical.is_some() && input.canonicalize().ok() == out_canonical {
                return Err(DiscoveryError::InputIsOutput(input.clone()));
            }
            let before = found.len();
            let mut ours = 0;
            walk(
                input,
                Path::new(""),
                out_canonical.as_deref(),
                &mut found,
                &mut warnings,
                &mut ours,
            );
            if ours > 0 {
                warnings.push(format!(
                    "{}: skipped {ours} {} that aloud wrote (player pages and indexes are outputs, not articles)",
                    input.display(),
                    if ours == 1 { "page" } else { "pages" }
                ));
            }
            if found.len() == before {
                warnings.push(format!(
                    "{}: no articles found in this folder",
                    input.display()
                ));
            }
        } else if !meta.is_file() {
            return Err(DiscoveryError::NotAFile(input.clone()));
        } else {
            let name = input
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| input.clone());
            found.push((input.clone(), name));
        }
    }
    // The same file named twice is converted once.
    let mut seen = std::collections::HashSet::new();
    found.retain(|(src, _)| seen.insert(src.canonicalize().unwrap_or_else(|_| src.clone())));
    if found.is_empty() {
        return Err(DiscoveryError::NoArticles {
            paths: inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            extensions: ARTICLE_EXTENSIONS
                .iter()
                .map(|e| format!(".{e}"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let jobs = name_outputs(found, out_dir, stdin, &mut warnings);
    Ok(Discovery { jobs, warnings })
}

fn walk(
    root: &Path,
    rel: &Path,
    skip: Option<&Path>,
    found: &mut Vec<(PathBuf, PathBuf)>,
    warnings: &mut Vec<String>,
    our_pages: &mut usize,
) {
    let dir = root.join(rel);
    if skip.is_some() && dir.canonicalize().ok().as_deref() == skip {
        return; // never read our own outputs back as inputs
    }
    let mut entries: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(Result::ok).collect(),
        Err(e) => {
            warnings.push(format!("{}: skipped, cannot list it: {e}", dir.display()));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let child_rel = rel.join(&name);
        if file_type.is_dir() {
            walk(root, &child_rel, skip, found, warnings, our_pages);
        } else if is_article(&path) {
            // A link to a file is read; a link to a folder (file_type is the link's) is not
            // followed.
            let is_file =
                file_type.is_file() || std::fs::metadata(&path).is_ok_and(|m| m.is_file());
            if is_file && written_by_aloud(&path) {
                *our_pages += 1;
            } else if is_file {
                found.push((path, child_rel));
            }
        }
    }
}

/// Whether `path` is a page aloud wrote (a player page or an index, from an earlier run into
/// a folder now being read): its head names aloud as its generator.
fn written_by_aloud(path: &Path) -> bool {
    use std::io::Read;
    let is_html = path
        .extension()
        .and_then(OsStr::to_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    let mut head = Vec::with_capacity(1024);
    is_html
        && std::fs::File::open(path)
            .and_then(|f| f.take(1024).read_to_end(&mut head))
            .is_ok()
        && head
            .windows(GENERATOR_META.len())
            .any(|w| w == GENERATOR_META)
}

/// How aloud's pages name their generator (see `html.rs`).
const GENERATOR_META: &[u8] = b"<meta name=\"generator\" content=\"aloud ";

fn is_article(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|e| ARTICLE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Output bases: `out_dir/rel-without-extension`, or with the extension kept where two
/// inputs would collide (or where an article at the top would be named `index`, whose page
/// would overwrite the folder's `index.html`), or with `~N` where even that collides. Each
/// renaming is one warning that names the files and what they are written as.
fn name_outputs(
    found: Vec<(PathBuf, PathBuf)>,
    out_dir: &Path,
    stdin: Option<&StdinSpool>,
    warnings: &mut Vec<String>,
) -> Vec<ArticleJob> {
    let stem_of = |rel: &Path| safe_relative(&rel.with_extension(""));
    let mut by_stem: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, (_, rel)) in found.iter().enumerate() {
        by_stem.entry(stem_of(rel)).or_default().push(i);
    }
    // How messages name each input.
    let labels: Vec<String> = found
        .iter()
        .map(|(source, _)| {
            if stdin.is_some_and(|s| s.path() == source) {
                "standard input".into()
            } else {
                source.display().to_string()
            }
        })
        .collect();
    let index_stem = Path::new(index::INDEX_FILE).with_extension("");
    let mut bases: Vec<PathBuf> = found.iter().map(|(_, rel)| stem_of(rel)).collect();
    let mut renamed: Vec<(String, Vec<usize>)> = Vec::new();
    for (stem, members) in &by_stem {
        let why = if members.len() > 1 {
            format!("would all be written as {}.*", out_dir.join(stem).display())
        } else if stem
            .as_os_str()
            .eq_ignore_ascii_case(index_stem.as_os_str())
        {
            format!(
                "would be written as {}, the folder's index",
                out_dir.join(index::INDEX_FILE).display()
            )
        } else {
            continue;
        };
        for &i in members {
            bases[i] = safe_relative(&found[i].1);
        }
        renamed.push((why, members.clone()));
    }
    // An article named like another one's sidecar (`x.chapters.md`, whose manifest would be
    // `x.chapters.json`, the chapter list of an article `x`) keeps its extension, whether or
    // not an `x` is in this run: names depend on nothing but the article's own path, so runs
    // into the same folder never share one. Every file aloud may write counts, so the names do
    // not change with the formats asked for either.
    let tails = pipeline::sidecar_tails();
    for (i, (_, rel)) in found.iter().enumerate() {
        let stem = stem_of(rel);
        let stem_text = stem.to_string_lossy();
        let Some(tail) = tails.iter().find(|t| stem_text.ends_with(*t)) else {
            continue;
        };
        if bases[i] != stem {
            continue;
        }
        let owner = &stem_text[..stem_text.len() - tail.len()];
        bases[i] = safe_relative(rel);
        renamed.push((
            format!(
                "would write {}.*, names that belong to the files of any article named {owner}",
                out_dir.join(&stem).display()
            ),
            vec![i],
        ));
    }
    // A page given as an input inside the output folder would be overwritten by its own player
    // page (`aloud convert p.html -o .`): it keeps its extension (`p.html.html`).
    for (i, (source, rel)) in found.iter().enumerate() {
        let mut page = out_dir.join(&bases[i]).into_os_string();
        page.push(pipeline::PAGE_SUFFIX);
        let page = PathBuf::from(page);
        if page.exists() && page.canonicalize().ok() == source.canonicalize().ok() {
            bases[i] = safe_relative(rel);
            renamed.push((
                format!(
                    "would be overwritten by its own player page {}",
                    page.display()
                ),
                vec![i],
            ));
        }
    }
    // Still colliding (the same relative path under two inputs): number them in order.
    let mut count: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for base in &bases {
        *count.entry(base.clone()).or_default() += 1;
    }
    let mut used: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for base in &mut bases {
        if count[&*base] > 1 {
            let n = used.entry(base.clone()).or_default();
            *n += 1;
            let mut s = base.clone().into_os_string();
            s.push(format!("~{n}"));
            *base = PathBuf::from(s);
        }
    }
    for (why, members) in renamed {
        let names: Vec<&str> = members.iter().map(|&i| labels[i].as_str()).collect();
        let written: Vec<String> = members
            .iter()
            .map(|&i| format!("{}.*", out_dir.join(&bases[i]).display()))
            .collect();
        warnings.push(format!(
            "{} {why}; written as {} instead",
            names.join(", "),
            written.join(", ")
        ));
    }
    found
        .into_iter()
        .zip(bases)
        .zip(labels)
        .map(|(((source, rel), base), label)| ArticleJob {
            label,
            name: rel.to_string_lossy().into_owned(),
            out_base: out_dir.join(base),
            source,
        })
        .collect()
}

/// Keeps only normal components, so no output can escape the output folder, and makes each a
/// name every output can carry: valid UTF-8 (invalid bytes become U+FFFD, as in the manifest
/// and the page, which name the files) without control characters (a newline becomes `_`).
fn safe_relative(p: &Path) -> PathBuf {
    let kept: PathBuf = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(
                n.to_string_lossy()
                    .chars()
                    .map(|c| if c.is_control() { '_' } else { c })
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect();
    if kept.as_os_str().is_empty() {
        PathBuf::from("article")
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(p: &Path) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, "text").unwrap();
    }

    #[test]
    fn folders_are_walked_sorted_skipping_hidden_and_other_files() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("in");
        for f in [
            "b.txt",
            "a/z.txt",
            "a/y.TXT",
            ".hidden.txt",
            ".git/x.txt",
            "c.wav",
            "a/.h/q.txt",
        ] {
            touch(&root.join(f));
        }
        let out = d.path().join("out");
        let found = discover(std::slice::from_ref(&root), &out, None).unwrap();
        let names: Vec<_> = found.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["a/y.TXT", "a/z.txt", "b.txt"]);
        assert_eq!(found.jobs[1].out_base, out.join("a/z"));
    }

    #[test]
    fn colliding_outputs_keep_their_extensions_with_a_warning() {
        let d = tempfile::tempdir().unwrap();
        let (b1, b2) = (d.path().join("b.txt"), d.path().join("b.TXT"));
        touch(&b1);
        touch(&b2);
        let out = d.path().join("out");
        let found = discover(&[b1, b2], &out, None).unwrap();
        let bases: Vec<_> = found.jobs.iter().map(|j| j.out_base.clone()).collect();
        assert_eq!(bases, [out.join("b.txt"), out.join("b.TXT")]);
        assert_eq!(found.warnings.len(), 1);
    }

    /// Empty `files` under `in/`, found for the output folder `out/`: each one's output base
    /// relative to `out/`, and the warnings.
    fn bases_in_folder(files: &[&str]) -> (Vec<PathBuf>, Vec<String>) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("in");
        for f in files {
            touch(&root.join(f));
        }
        let out = d.path().join("out");
        let found = discover(std::slice::from_ref(&root), &out, None).unwrap();
        let bases = found
            .jobs
            .iter()
            .map(|j| j.out_base.strip_prefix(&out).unwrap().to_path_buf())
            .collect();
        (bases, found.warnings)
    }

    #[test]
    fn the_sidecar_tails_are_the_chapter_files() {
        assert_eq!(
            pipeline::sidecar_tails(),
            [".chapters", ".podcast-chapters"]
        );
    }

    #[test]
    fn an_article_named_like_another_ones_sidecar_keeps_its_extension() {
        let (bases, warnings) =
            bases_in_folder(&["x.md", "x.chapters.md", "x.podcast-chapters.txt", "y.md"]);
        assert_eq!(
            bases,
            [
                Path::new("x.chapters.md"),
                Path::new("x"),
                Path::new("x.podcast-chapters.txt"),
                Path::new("y")
            ]
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("x.chapters.md would write ")
                && warnings[0].contains(
                    "x.chapters.*, names that belong to the files of any article named x"
                ),
            "{warnings:?}"
        );
        // The same without an `x` in the run: names depend on the article's path alone.
        let (bases, _) = bases_in_folder(&["x.chapters.md"]);
        assert_eq!(bases, [Path::new("x.chapters.md")]);
    }

    #[test]
    fn the_same_name_under_two_inputs_is_numbered() {
        let d = tempfile::tempdir().unwrap();
        let (x1, x2) = (d.path().join("d1/x.txt"), d.path().join("d2/x.txt"));
        touch(&x1);
        touch(&x2);
        let out = d.path().join("out");
        let found = discover(&[x1.clone(), x2, x1], &out, None).unwrap();
        let bases: Vec<_> = found.jobs.iter().map(|j| j.out_base.clone()).collect();
        assert_eq!(bases, [out.join("x.txt~1"), out.join("x.txt~2")]);
        assert_eq!(found.warnings.len(), 1);
        assert!(
            found.warnings[0].ends_with(&format!(
                "; written as {0}/x.txt~1.*, {0}/x.txt~2.* instead",
                out.display()
            )),
            "{}",
            found.warnings[0]
        );
    }

    #[test]
    fn an_article_named_index_does_not_overwrite_the_folder_index() {
        let (bases, warnings) = bases_in_folder(&["index.md", "other.md", "sub/index.md"]);
        // Only the top folder has an index page; sub/index.html is free.
        assert_eq!(
            bases,
            [
                Path::new("index.md"),
                Path::new("other"),
                Path::new("sub/index")
            ]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("the folder's index"));
    }

    #[test]
    fn pages_aloud_wrote_are_not_read_as_articles() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("in");
        touch(&root.join("a.txt"));
        touch(&root.join("page.html"));
        let page = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"generator\" content=\"aloud 0.1.0\">\n";
        fs::create_dir_all(root.join("output")).unwrap();
        fs::write(root.join("output/a.html"), page).unwrap();
        fs::write(root.join("output/index.html"), page).unwrap();
        let found = discover(std::slice::from_ref(&root), &d.path().join("audio"), None).unwrap();
        let names: Vec<_> = found.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "page.html"]);
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        assert!(found.warnings[0].contains("skipped 2 pages that aloud wrote"));
    }

    #[test]
    fn an_input_that_is_the_output_a_fifo_or_an_output_that_is_a_file_are_refused() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("same/a.txt"));
        let same = d.path().join("same");
        let err = discover(std::slice::from_ref(&same), &same, None).unwrap_err();
        assert!(matches!(err, DiscoveryError::InputIsOutput(_)), "{err}");
        let fifo = d.path().join("fifo.txt");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = discover(&[fifo], &d.path().join("o"), None).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "is not a regular file or a folder; give aloud article files or folders of them"
            ),
            "{err}"
        );
        touch(&d.path().join("outfile"));
        let err =
            discover(std::slice::from_ref(&same), &d.path().join("outfile"), None).unwrap_err();
        assert!(matches!(err, DiscoveryError::OutputNotAFolder(_)), "{err}");
    }

    #[test]
    fn the_output_folder_is_not_read_back() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("a.txt"));
        touch(&d.path().join("output/old.txt"));
        let out = d.path().join("output");
        let found = discover(&[d.path().to_path_buf()], &out, None).unwrap();
        assert_eq!(found.jobs.len(), 1);
    }

    #[test]
    fn a_symlink_loop_does_not_trap_the_walk() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("in/a.txt"));
        std::os::unix::fs::symlink(d.path().join("in"), d.path().join("in/loop")).unwrap();
        let found = discover(&[d.path().join("in")], &d.path().join("out"), None).unwrap();
        assert_eq!(found.jobs.len(), 1);
    }

    #[test]
    fn missing_inputs_and_empty_folders_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let err = discover(&[d.path().join("nope.txt")], d.path(), None).unwrap_err();
        assert!(err.to_string().contains("nope.txt"), "{err}");
        let err = discover(&[d.path().to_path_buf()], &d.path().join("o"), None).unwrap_err();
        assert!(err.to_string().starts_with("no articles found in"), "{err}");
    }

    #[test]
    fn output_names_are_utf8_without_control_characters() {
        use std::os::unix::ffi::OsStrExt;
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"a\nb \xff\"q\".txt"));
        assert_eq!(safe_relative(odd), PathBuf::from("a_b \u{fffd}\"q\".txt"));
    }

    #[test]
    fn outputs_never_escape_the_output_folder() {
        assert_eq!(
            safe_relative(Path::new("../../etc/passwd")),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(safe_relative(Path::new("/abs/x")), PathBuf::from("abs/x"));
    }
}
