//! Articles → units → parallel synthesis → ordered, streamed assembly → finishing → outputs.
//!
//! One run feeds the units of every article, in order, to one rayon pool of `jobs` workers.
//! The calling thread is the writer: it receives finished units, writes each article's audio
//! as soon as all earlier units of that article are written, and completes the WAV (chapter
//! chunks) the moment its last unit is written. It then hands the article to one of `jobs`
//! finishing threads and goes straight back to writing: a finisher measures (and, with
//! `--loudness`, corrects) the loudness, writes the chapter files, has ffmpeg encode the
//! compressed formats (at most `jobs` encodes at once over the run), builds the player page
//! and the manifest, renames everything into place and reports back. So encoding an article
//! never holds up the synthesis of the next ones.
//!
//! Invariants:
//! - Memory is bounded by a window of `2 × jobs + 2` units that are being synthesized or are
//!   waiting for an earlier unit; never by the length of an article or the size of a folder.
//! - Outputs appear atomically: everything is written to hidden temporary files in the output
//!   folder and renamed at the end (the manifest last). A failed or interrupted article leaves
//!   no file behind, and other articles go on.
//! - The bytes written depend only on the input and settings, never on `jobs` or timing (for
//!   the encoded files, given the same ffmpeg).
//! - Ctrl-C kills running engines and encoders; unfinished articles leave no files.

use crate::audio::check::{Expectation, UnitCheck, check};
use crate::audio::digest::{AudioDigest, hash_stretches};
use crate::audio::loudness;
use crate::audio::resample::resample;
use crate::audio::riff::{CueRegion, WavError, WavWriter};
use crate::audio::{Audio, ms_to_frames};
use crate::backend::{EngineInfo, Request, SynthError, Synthesizer};
use crate::cache::{Lookup, UnitCache, unit_key};
use crate::captions;
use crate::chapters::{self, ChapterSpan};
use crate::config::{AudioFormat, ChapterFormat, Publishing};
use crate::encode::{EncodeError, Ffmpeg};
use crate::hex;
use crate::html::{self, AudioFile};
use crate::manifest::{
    self, ChapterRecord, EngineRecord, Files, LoudnessRecord, Manifest, NormalizationRecord,
    ParagraphRecord, SentenceRecord, SkippedRecord, UnitRecord, WordRecord,
};
use crate::process;
use crate::text::{self, Article, TextError, TextOptions, Unit};
use crate::timing::{self, Precision, UnitSpans};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tempfile::NamedTempFile;

/// `aloud <version>`, as the files name their maker.
const GENERATOR: &str = concat!("aloud ", env!("CARGO_PKG_VERSION"));

/// One article to convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleJob {
    /// Where to read it.
    pub source: PathBuf,
    /// How to name it in the manifest and outputs: its path relative to the input it was found
    /// under (never absolute), `stdin` for standard input. Its extension chooses the format.
    pub name: String,
    /// How messages name it: the source as given or found (`a/x.md`: two inputs may share a
    /// name), or `standard input`.
    pub label: String,
    /// Output path without extension; `.wav`, `.chapters.vtt`, `.html` and `.json` are
    /// appended.
    pub out_base: PathBuf,
}

impl ArticleJob {
    /// The output path with `suffix` appended (e.g. `.wav`).
    pub fn output(&self, suffix: &str) -> PathBuf {
        let mut s: OsString = self.out_base.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    }
}

/// What the pipeline needs to know besides the engine.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Parallel synthesis workers.
    pub jobs: usize,
    /// Silence between paragraphs.
    pub gap_ms: u64,
    /// Silence before a paragraph that starts a chapter (instead of `gap_ms`).
    pub chapter_gap_ms: u64,
    /// The articles' sample rate; units at another rate are resampled to it.
    pub sample_rate: u32,
    /// How articles are read and cut into units.
    pub text: TextOptions,
    /// Extra attempts for a unit whose engine call fails (timeouts included).
    pub retries: u32,
    /// What a unit's length should be for its text, for the checks every unit passes.
    pub expectation: Expectation,
    /// Where synthesized units are kept between runs; `None` disables caching.
    pub cache: Option<UnitCache>,
    /// Convert articles even when their outputs are up to date.
    pub rebuild: bool,
    /// SHA-256 of every setting that shapes the outputs (engine, voice, text options,
    /// formats, loudness, `aloud`'s and ffmpeg's versions); with the source's hash it decides
    /// whether outputs are up to date.
    pub fingerprint: String,
    /// Which files to write and how the audio is finished.
    pub publishing: Publishing,
    /// ffmpeg, checked, when a compressed format is asked for.
    pub ffmpeg: Option<Ffmpeg>,
}

/// Why one article could not be converted. The article's name is added by the caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArticleError {
    /// The source could not be read.
    #[error("could not read it: {0}")]
    Read(#[source] std::io::Error),
    /// The text is unusable.
    #[error(transparent)]
    Text(#[from] TextError),
    /// An engine call failed.
    #[error("paragraph {paragraph}: {source}")]
    Synthesis {
        /// 1-based paragraph number.
        paragraph: usize,
        /// What the engine did.
        source: SynthError,
    },
    /// An output file could not be written.
    #[error("could not write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The WAV could not be assembled.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// A compressed file could not be made.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The loudness could not be measured or corrected (the temporary WAV could not be read
    /// or written).
    #[error("could not measure or correct its loudness: {0}")]
    Loudness(#[source] std::io::Error),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A finished article.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The source file, as it was given or found.
    pub name: String,
    /// The main audio file written: the WAV, or else the first compressed one.
    pub audio: PathBuf,
    /// The article's title.
    pub title: String,
    /// Number of chapters.
    pub chapters: usize,
    /// Number of paragraphs.
    pub paragraphs: usize,
    /// Frames of audio.
    pub frames: u64,
    /// Frames per second.
    pub sample_rate: u32,
    /// Integrated loudness of the audio as written, LUFS (`None`: nothing to measure).
    pub loudness_lufs: Option<f64>,
}

/// What happened to one article.
#[derive(Debug)]
pub enum Outcome {
    /// All outputs were written.
    Converted(Converted),
    /// The outputs were already up to date (same source, same settings); nothing was done.
    Unchanged(Converted),
    /// Nothing was written for it.
    Failed {
        /// The source file, as it was given or found (`in/a/x.md`, not only `x.md`: two
        /// inputs may share a name).
        name: String,
        /// Why.
        error: ArticleError,
    },
}

/// The result of a run: one outcome per finished article in input order, and whether the run
/// was interrupted (articles without an outcome were not finished and left no files).
#[derive(Debug, Default)]
pub struct RunReport {
    /// Outcomes, in input order.
    pub outcomes: Vec<Outcome>,
    /// Whether Ctrl-C or SIGTERM stopped the run.
    pub interrupted: bool,
    /// What the engine and the cache did.
    pub units: UnitStats,
    /// Why the first unit that could not be written to the cache was not (the run went on).
    pub cache_error: Option<String>,
}

/// Unit counts for a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UnitStats {
    /// Units the engine synthesized.
    pub synthesized: u64,
    /// Units taken from the cache.
    pub cached: u64,
    /// Engine calls that failed and were tried again.
    pub retried: u64,
    /// Cache entries that failed their checks and were synthesized again.
    pub corrupt_cache_entries: u64,
    /// Units that could not be written to the cache (the run went on).
    pub cache_write_errors: u64,
}

#[derive(Default)]
struct Counters {
    synthesized: AtomicU64,
    cached: AtomicU64,
    retried: AtomicU64,
    corrupt: AtomicU64,
    cache_write_errors: AtomicU64,
    first_cache_error: std::sync::OnceLock<String>,
}

impl Counters {
    fn snapshot(&self) -> UnitStats {
        UnitStats {
            synthesized: self.synthesized.load(Ordering::Relaxed),
            cached: self.cached.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            corrupt_cache_entries: self.corrupt.load(Ordering::Relaxed),
            cache_write_errors: self.cache_write_errors.load(Ordering::Relaxed),
        }
    }
}

/// What the pipeline reports while it runs, from the writer thread, in order.
#[derive(Debug)]
pub enum Event<'a> {
    /// An article's first unit is about to be written (or it was found up to date).
    Started {
        /// The job's name.
        name: &'a str,
        /// Its paragraphs.
        paragraphs: usize,
    },
    /// A paragraph's last unit was written.
    Paragraph {
        /// Frames written for that paragraph.
        frames: u64,
        /// The article's sample rate.
        sample_rate: u32,
    },
    /// An article is done, one way or another.
    Finished(&'a Outcome),
}

/// Converts `jobs` with `synth`, calling `on_event` as articles start and finish.
pub fn convert(
    jobs: &[ArticleJob],
    synth: &dyn Synthesizer,
    engine: &EngineInfo,
    settings: &PipelineSettings,
    on_event: &mut dyn FnMut(Event<'_>),
) -> std::io::Result<RunReport> {
    let workers = settings.jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("aloud-synth-{i}"))
        .build()
        .map_err(std::io::Error::other)?;
    let window = Semaphore::new(2 * workers + 2);
    let dispatch = Mutex::new(Dispatcher {
        jobs,
        settings,
        next_job: 0,
        current: None,
    });
    let counters = Counters::default();
    let synthesis = Synthesis {
        synth,
        engine,
        settings,
        counters: &counters,
    };
    let (tx, rx) = mpsc::channel::<Msg>();
    let (finish_tx, finish_rx) = mpsc::channel::<Finishing>();
    let finish_rx = Mutex::new(finish_rx);
    let finisher = Finisher {
        jobs,
        engine,
        settings,
        encoders: Semaphore::new(workers),
    };
    let writer = Writer {
        jobs,
        settings,
        window: &window,
        sinks: HashMap::new(),
        outcomes: BTreeMap::new(),
        finish: finish_tx,
        finishing: 0,
    };
    let report = std::thread::scope(|ts| {
        // Finishers: loudness, chapter files, encodes and renames, beside the synthesis of
        // the next articles.
        for i in 0..workers {
            let tx = tx.clone();
            let (finisher, queue) = (&finisher, &finish_rx);
            std::thread::Builder::new()
                .name(format!("aloud-finish-{i}"))
                .spawn_scoped(ts, move || finisher.run(queue, tx))
                .map_err(std::io::Error::other)?;
        }
        ts.spawn(|| {
            pool.scope(|s| {
                for _ in 0..workers {
                    let tx = tx.clone();
                    let (dispatch, window, synthesis) = (&dispatch, &window, &synthesis);
                    s.spawn(move |_| work(dispatch, window, synthesis, tx));
                }
            });
            synth.release();
            let _ = tx.send(Msg::SynthesisDone);
            drop(tx);
        });
        // If the writer stops early (it panicked), workers waiting for a slot must not wait
        // forever.
        let _close = CloseOnDrop(&window);
        Ok::<_, std::io::Error>(writer.run(rx, on_event))
    })?;
    Ok(RunReport {
        units: counters.snapshot(),
        cache_error: counters.first_cache_error.into_inner(),
        ..report
    })
}

/// A unit handed to a worker.
struct WorkItem {
    article: usize,
    unit: usize,
    prepared: Arc<Prepared>,
    abandoned: Arc<AtomicBool>,
}

/// An article read and segmented, shared by the dispatcher and the writer.
struct Prepared {
    article: Article,
    units: Vec<Unit>,
    /// SHA-256 of the source file's bytes.
    input_sha256: String,
    /// For each paragraph, whether a chapter starts there.
    chapter_starts: Vec<bool>,
    /// The files an earlier conversion listed that are this article's (see [`earlier`]), to
    /// remove once the new outputs are in place if they are not among them.
    earlier_files: Vec<String>,
}

/// How an article begins.
enum Begun {
    /// Its units follow.
    Work(Arc<Prepared>),
    /// Its outputs are up to date; no units follow.
    Unchanged(Converted),
}

enum UnitResult {
    Audio(Audio, UnitCheck),
    Failed(SynthError),
    /// Not synthesized: its article had already failed, or the run was cancelled.
    Skipped,
}

enum Msg {
    /// Sent before any unit of the article, under the dispatch lock.
    Begin {
        article: usize,
        prepared: Result<Begun, ArticleError>,
        abandoned: Arc<AtomicBool>,
    },
    Unit {
        article: usize,
        unit: usize,
        result: UnitResult,
    },
    /// Every unit has been handed back; no more `Begin` or `Unit` messages follow.
    SynthesisDone,
    /// A finisher is done with an article; `None` when it was interrupted.
    Finished {
        article: usize,
        result: Option<Result<Converted, ArticleError>>,
    },
}

/// Hands out units in input order, reading each article only when its first unit is needed.
struct Dispatcher<'a> {
    jobs: &'a [ArticleJob],
    settings: &'a PipelineSettings,
    next_job: usize,
    current: Option<(usize, Arc<Prepared>, usize, Arc<AtomicBool>)>,
}

impl Dispatcher<'_> {
    fn next(&mut self, tx: &Sender<Msg>) -> Option<WorkItem> {
        loop {
            if process::cancelled() {
                return None;
            }
            if let Some((article, prepared, next, abandoned)) = &mut self.current
                && *next < prepared.units.len()
            {
                let unit = *next;
                *next += 1;
                return Some(WorkItem {
                    article: *article,
                    unit,
                    prepared: Arc::clone(prepared),
                    abandoned: Arc::clone(abandoned),
                });
            }
            let article = self.next_job;
            let job = self.jobs.get(article)?;
            self.next_job += 1;
            let abandoned = Arc::new(AtomicBool::new(false));
            let prepared = prepare(job, self.settings);
            if let Ok(Begun::Work(p)) = &prepared {
                self.current = Some((article, Arc::clone(p), 0, Arc::clone(&abandoned)));
            }
            // Sent while the dispatch lock is held, so it precedes every unit of the article.
            let _ = tx.send(Msg::Begin {
                article,
                prepared,
                abandoned,
            });
        }
    }
}

fn prepare(job: &ArticleJob, settings: &PipelineSettings) -> Result<Begun, ArticleError> {
    let bytes = std::fs::read(&job.source).map_err(ArticleError::Read)?;
    let input_sha256 = hex(&Sha256::digest(&bytes));
    let earlier_files = match earlier(job, &input_sha256, settings) {
        Earlier::UpToDate(done) => return Ok(Begun::Unchanged(done)),
        Earlier::Files(files) => files,
    };
    let (article, units) = settings.text.read(&bytes, Path::new(&job.name))?;
    Ok(Begun::Work(Arc::new(Prepared {
        chapter_starts: article.chapter_starts(),
        article,
        units,
        input_sha256,
        earlier_files,
    })))
}

/// The manifest's suffix after the article's base name.
pub const MANIFEST_SUFFIX: &str = ".json";
/// The player page's.
pub const PAGE_SUFFIX: &str = ".html";
/// The captions'.
pub const CAPTIONS_SUFFIX: &str = ".captions.vtt";

/// The suffix of every file aloud may write beside an article's base name: the manifest, the
/// page, the captions, the audio formats and the chapter files.
pub fn every_output_suffix() -> Vec<&'static str> {
    let audio = AudioFormat::ALL.map(AudioFormat::suffix);
    let chapters = ChapterFormat::ALL.map(ChapterFormat::suffix);
    [MANIFEST_SUFFIX, PAGE_SUFFIX, CAPTIONS_SUFFIX]
        .into_iter()
        .chain(audio)
        .chain(chapters)
        .collect()
}

/// The endings of an article name that would make one of its files another article's
/// sidecar: `.chapters` (`x.chapters` + `.json` is `x`'s `.chapters.json`), and so on.
pub fn sidecar_tails() -> Vec<&'static str> {
    let suffixes = every_output_suffix();
    let mut tails: Vec<&str> = suffixes
        .iter()
        .flat_map(|long| {
            suffixes
                .iter()
                .filter(move |short| long.len() > short.len() && long.ends_with(**short))
                .map(move |short| &long[..long.len() - short.len()])
        })
        .collect();
    tails.sort_unstable();
    tails.dedup();
    tails
}

/// What an earlier conversion of an article left, from its manifest, read once.
enum Earlier {
    /// Its outputs are up to date: made from this very source with these very settings, and
    /// every file listed is there.
    UpToDate(Converted),
    /// Otherwise: the files it listed that are this article's to remove if the new
    /// conversion does not write them again (none if there is no readable manifest).
    Files(Vec<String>),
}

/// Reads the article's existing manifest, if any. Under `rebuild` only its file list is
/// parsed: it cannot be up to date.
fn earlier(job: &ArticleJob, input_sha256: &str, settings: &PipelineSettings) -> Earlier {
    #[derive(serde::Deserialize)]
    struct Listing {
        files: manifest::Files,
    }
    let Ok(json) = std::fs::read(job.output(MANIFEST_SUFFIX)) else {
        return Earlier::Files(Vec::new());
    };
    let files = if settings.rebuild {
        serde_json::from_slice::<Listing>(&json)
            .ok()
            .map(|l| l.files)
    } else {
        let Ok(m) = serde_json::from_slice::<Manifest>(&json) else {
            return Earlier::Files(Vec::new());
        };
        let current = m.format == manifest::FORMAT
            && m.format_version == manifest::FORMAT_VERSION
            && m.input_sha256 == input_sha256
            && m.settings_sha256 == settings.fingerprint;
        let dir = job.out_base.parent().unwrap_or(Path::new("."));
        if current && m.files.all().iter().all(|f| dir.join(f).is_file()) {
            return Earlier::UpToDate(converted(job, &m));
        }
        Some(m.files)
    };
    // Only the article's own names (its base name and one of aloud's suffixes): a damaged or
    // edited manifest cannot name anything else in the folder.
    let stem = job
        .out_base
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let ours: Vec<String> = every_output_suffix()
        .into_iter()
        .map(|suffix| format!("{stem}{suffix}"))
        .collect();
    let listed = files.as_ref().map(manifest::Files::all).unwrap_or_default();
    Earlier::Files(
        listed
            .into_iter()
            .filter(|f| ours.iter().any(|o| o == f))
            .map(str::to_string)
            .collect(),
    )
}

/// What the run reports for an article whose manifest is `m`.
fn converted(job: &ArticleJob, m: &Manifest) -> Converted {
    Converted {
        name: job.label.clone(),
        audio: m
            .files
            .audio()
            .first()
            .map_or_else(|| job.output(".wav"), |(f, _)| job.output(f.suffix())),
        title: m.title.clone(),
        chapters: m.chapters.len(),
        paragraphs: m.paragraphs.len(),
        frames: m.total_frames,
        sample_rate: m.sample_rate,
        loudness_lufs: m.loudness.as_ref().and_then(|l| l.integrated_lufs),
    }
}

/// What a worker needs to turn a unit into audio: the engine, the cache and the retry policy.
struct Synthesis<'a> {
    synth: &'a dyn Synthesizer,
    engine: &'a EngineInfo,
    settings: &'a PipelineSettings,
    counters: &'a Counters,
}

impl Synthesis<'_> {
    /// The unit's audio at the article's rate, and its check: from the cache, else from the
    /// engine (with retries, then cached), resampled when the engine's rate differs.
    fn unit(&self, text: &str) -> Result<(Audio, UnitCheck), SynthError> {
        let (audio, unit_check) = self.native(text)?;
        if audio.sample_rate == self.settings.sample_rate {
            return Ok((audio, unit_check));
        }
        let audio =
            resample(audio, self.settings.sample_rate).map_err(|message| SynthError::Io {
                engine: self.synth.name().to_string(),
                message,
            })?;
        Ok((audio, unit_check))
    }

    /// The unit's audio as the engine makes it, checked.
    fn native(&self, text: &str) -> Result<(Audio, UnitCheck), SynthError> {
        let key = self
            .settings
            .cache
            .as_ref()
            .map(|_| unit_key(self.engine, text));
        if let (Some(cache), Some(key)) = (&self.settings.cache, &key) {
            match cache.get(key) {
                // An entry that no longer passes the checks (they changed) is made again.
                Lookup::Hit(audio) => {
                    let unit_check = check(&audio, text, self.settings.expectation);
                    if unit_check.problem.is_none() {
                        self.counters.cached.fetch_add(1, Ordering::Relaxed);
                        return Ok((audio, unit_check));
                    }
                }
                Lookup::Corrupt => {
                    self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
                }
                Lookup::Miss => {}
            }
        }
        let (audio, unit_check) = self.with_retries(text)?;
        self.counters.synthesized.fetch_add(1, Ordering::Relaxed);
        if let (Some(cache), Some(key)) = (&self.settings.cache, &key)
            && let Err(e) = cache.put(key, &audio)
        {
            self.counters
                .cache_write_errors
                .fetch_add(1, Ordering::Relaxed);
            let _ = self.counters.first_cache_error.set(e.to_string());
        }
        Ok((audio, unit_check))
    }

    fn with_retries(&self, text: &str) -> Result<(Audio, UnitCheck), SynthError> {
        let mut attempt = 0;
        loop {
            let result = self.synth.synthesize(&Request { text }).and_then(|audio| {
                let unit_check = check(&audio, text, self.settings.expectation);
                match unit_check.problem.clone() {
                    None => Ok((audio, unit_check)),
                    Some(problem) => Err(SynthError::Rejected {
                        engine: self.synth.name().to_string(),
                        problem,
                    }),
                }
            });
            match result {
                Err(e)
                    if attempt < self.settings.retries
                        && is_transient(&e)
                        && !process::cancelled() =>
                {
                    attempt += 1;
                    self.counters.retried.fetch_add(1, Ordering::Relaxed);
                    // 100 ms, 200 ms, 400 ms, ... capped at 5 s.
                    std::thread::sleep(Duration::from_millis(
                        (100u64 << (attempt - 1).min(6)).min(5000),
                    ));
                }
                Err(e) if attempt > 0 => {
                    return Err(SynthError::GaveUp {
                        attempts: attempt + 1,
                        last: Box::new(e),
                    });
                }
                other => return other,
            }
        }
    }
}

/// Failures worth another try: an engine that failed, hung or wrote bad audio may do better
/// next time; a missing engine or an interrupted run will not.
fn is_transient(e: &SynthError) -> bool {
    matches!(
        e,
        SynthError::Failed { .. }
            | SynthError::TimedOut { .. }
            | SynthError::BadAudio { .. }
            | SynthError::Rejected { .. }
            | SynthError::Io { .. }
    )
}

fn work(
    dispatch: &Mutex<Dispatcher<'_>>,
    window: &Semaphore,
    synthesis: &Synthesis<'_>,
    tx: Sender<Msg>,
) {
    loop {
        if !window.acquire() {
            return;
        }
        let item = dispatch.lock().unwrap_or_else(|p| p.into_inner()).next(&tx);
        let Some(item) = item else {
            window.release(1);
            return;
        };
        let result = if item.abandoned.load(Ordering::Relaxed) || process::cancelled() {
            UnitResult::Skipped
        } else {
            match synthesis.unit(&item.prepared.units[item.unit].text) {
                Ok((a, check)) => UnitResult::Audio(a, check),
                Err(e) => UnitResult::Failed(e),
            }
        };
        let msg = Msg::Unit {
            article: item.article,
            unit: item.unit,
            result,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// A counting semaphore whose waits give up when the run is cancelled or the semaphore is
/// closed. It bounds the units in flight or waiting to be written (`release` as the writer
/// takes them), and the encoders running at once (a [`Permit`] each).
struct Semaphore {
    used: Mutex<usize>,
    freed: Condvar,
    capacity: usize,
    closed: AtomicBool,
}

/// One place in a [`Semaphore`], given back when dropped.
struct Permit<'a>(&'a Semaphore);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.release(1);
    }
}

/// Closes a [`Semaphore`] when dropped, so no one waits on a writer that has gone.
struct CloseOnDrop<'a>(&'a Semaphore);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.freed.notify_all();
    }
}

impl Semaphore {
    fn new(capacity: usize) -> Self {
        Semaphore {
            used: Mutex::new(0),
            freed: Condvar::new(),
            capacity: capacity.max(1),
            closed: AtomicBool::new(false),
        }
    }

    /// Takes a place, waiting for one; false (and nothing taken) once the run is cancelled
    /// or the semaphore closed.
    fn acquire(&self) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if process::cancelled() || self.closed.load(Ordering::SeqCst) {
                return false;
            }
            if *used < self.capacity {
                *used += 1;
                return true;
            }
            used = self
                .freed
                .wait_timeout(used, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// [`Semaphore::acquire`], the place given back when the permit is dropped.
    fn permit(&self) -> Option<Permit<'_>> {
        self.acquire().then_some(Permit(self))
    }

    /// Gives back `n` places.
    fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        *used -= n;
        self.freed.notify_all();
    }
}

/// The writer side: one sink per article in progress.
struct Writer<'a> {
    jobs: &'a [ArticleJob],
    settings: &'a PipelineSettings,
    window: &'a Semaphore,
    sinks: HashMap<usize, Sink>,
    outcomes: BTreeMap<usize, Outcome>,
    /// Complete WAVs go to the finishers through here; dropping it lets them stop.
    finish: Sender<Finishing>,
    /// Articles handed to the finishers and not yet back.
    finishing: usize,
}

impl Writer<'_> {
    fn run(mut self, rx: Receiver<Msg>, on_event: &mut dyn FnMut(Event<'_>)) -> RunReport {
        let mut synthesis_done = false;
        while !(synthesis_done && self.finishing == 0) {
            let Ok(msg) = rx.recv() else { break };
            match msg {
                Msg::SynthesisDone => synthesis_done = true,
                Msg::Finished { article, result } => {
                    self.finishing -= 1;
                    if let Some(result) = result {
                        match result {
                            Ok(c) => self.finish(article, Outcome::Converted(c), on_event),
                            Err(error) => self.fail(article, error, on_event),
                        }
                    }
                }
                Msg::Begin {
                    article,
                    prepared,
                    abandoned,
                } => {
                    let job = &self.jobs[article];
                    let opened = prepared.and_then(|begun| match begun {
                        Begun::Work(p) => {
                            Sink::open(job, p, Arc::clone(&abandoned), self.settings).map(Some)
                        }
                        Begun::Unchanged(done) => {
                            on_event(Event::Started {
                                name: &job.name,
                                paragraphs: done.paragraphs,
                            });
                            self.finish(article, Outcome::Unchanged(done), on_event);
                            Ok(None)
                        }
                    });
                    match opened {
                        Ok(Some(sink)) => {
                            on_event(Event::Started {
                                name: &job.name,
                                paragraphs: sink.prepared.article.paragraphs.len(),
                            });
                            self.sinks.insert(article, sink);
                        }
                        Ok(None) => {}
                        Err(error) => {
                            // Units already handed out come back as skipped and free their slots.
                            abandoned.store(true, Ordering::Relaxed);
                            self.fail(article, error, on_event);
                        }
                    }
                }
                Msg::Unit {
                    article,
                    unit,
                    result,
                } => {
                    let Some(sink) = self.sinks.get_mut(&article) else {
                        // The article could not be opened; its units were skipped.
                        self.window.release(1);
                        continue;
                    };
                    let accepted = sink.accept(unit, result, self.settings);
                    self.window.release(accepted.released);
                    for frames in accepted.paragraphs {
                        on_event(Event::Paragraph {
                            frames,
                            sample_rate: self.settings.sample_rate,
                        });
                    }
                    if sink.received == sink.prepared.units.len() {
                        let sink = self.sinks.remove(&article).expect("sink exists");
                        match sink.finalize(article) {
                            None => {}
                            Some(Ok(finishing)) => {
                                // The writer never waits for a finisher: the next articles'
                                // units keep being written while this one is finished.
                                self.finishing += 1;
                                if let Err(mpsc::SendError(f)) = self.finish.send(finishing) {
                                    self.finishing -= 1;
                                    let error = ArticleError::Internal("no finisher".into());
                                    drop(f);
                                    self.fail(article, error, on_event);
                                }
                            }
                            Some(Err(error)) => self.fail(article, error, on_event),
                        }
                    }
                }
            }
        }
        // Whatever is still open was interrupted; dropping the sinks deletes their temp files.
        let interrupted = process::cancelled();
        self.sinks.clear();
        RunReport {
            outcomes: self.outcomes.into_values().collect(),
            interrupted,
            units: UnitStats::default(),
            cache_error: None,
        }
    }

    fn finish(&mut self, article: usize, outcome: Outcome, on_event: &mut dyn FnMut(Event<'_>)) {
        on_event(Event::Finished(&outcome));
        self.outcomes.insert(article, outcome);
    }

    fn fail(&mut self, article: usize, error: ArticleError, on_event: &mut dyn FnMut(Event<'_>)) {
        let name = self.jobs[article].label.clone();
        self.finish(article, Outcome::Failed { name, error }, on_event);
    }
}

/// What accepting a unit did.
struct Accepted {
    /// Places freed in the window of units in flight.
    released: usize,
    /// Frames of each paragraph completed by it.
    paragraphs: Vec<u64>,
}

type TempWav = WavWriter<BufWriter<OutputFile>>;

/// One article being written.
struct Sink {
    prepared: Arc<Prepared>,
    abandoned: Arc<AtomicBool>,
    /// `Ok` while writing; the first error otherwise (the temp file is gone by then).
    state: Result<TempWav, ArticleError>,
    /// Whether a unit was cancelled, so the article cannot finish.
    interrupted: bool,
    pending: BTreeMap<usize, (Audio, UnitCheck)>,
    next: usize,
    received: usize,
    /// Where each unit's audio starts and ends in the article's timeline.
    unit_spans: Vec<(u64, u64)>,
    /// Each unit's check, once written.
    unit_checks: Vec<Option<UnitCheck>>,
    /// The hash of the audio of each finished chapter, and of the one being written; `None`
    /// when `--loudness` will rewrite the samples, so they are hashed after that instead.
    chapter_hashes: Vec<String>,
    chapter_hasher: Option<AudioDigest>,
    /// Each unit's word and sentence spans on the article's timeline.
    timings: Vec<UnitSpans>,
}

impl Sink {
    fn open(
        job: &ArticleJob,
        prepared: Arc<Prepared>,
        abandoned: Arc<AtomicBool>,
        settings: &PipelineSettings,
    ) -> Result<Sink, ArticleError> {
        let wav_path = job.output(".wav");
        let tmp = temp_beside(&wav_path)?;
        let article = &prepared.article;
        // ICRD is a date, `YYYY-MM-DD`: that of an ISO date or date-time, or nothing.
        let date = article.date.as_deref().and_then(text::iso_day);
        // Entries with empty values are left out.
        let info = [
            (*b"INAM", article.title.as_str()),
            (*b"IART", article.author.as_deref().unwrap_or("")),
            (*b"ICMT", job.name.as_str()),
            (*b"ICRD", date.unwrap_or("")),
            (*b"ISFT", GENERATOR),
        ];
        let mut wav = WavWriter::new(
            BufWriter::with_capacity(256 * 1024, OutputFile(tmp)),
            settings.sample_rate,
            &info,
        )?;
        // Test aid: RF64 from a small size, so tests need not write 4 GiB.
        if let Some(bytes) = std::env::var("ALOUD_TEST_RF64_THRESHOLD")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            wav = wav.with_rf64_threshold(bytes);
        }
        let n = prepared.units.len();
        Ok(Sink {
            prepared,
            abandoned,
            state: Ok(wav),
            interrupted: false,
            pending: BTreeMap::new(),
            next: 0,
            received: 0,
            unit_spans: vec![(0, 0); n],
            unit_checks: vec![None; n],
            chapter_hashes: Vec::new(),
            chapter_hasher: settings
                .publishing
                .loudness
                .is_none()
                .then(AudioDigest::new),
            timings: vec![UnitSpans::default(); n],
        })
    }

    /// Takes one unit's result and writes whatever is now in order.
    fn accept(&mut self, unit: usize, result: UnitResult, settings: &PipelineSettings) -> Accepted {
        self.received += 1;
        let mut done = Accepted {
            released: 1,
            paragraphs: Vec::new(),
        };
        if self.state.is_err() {
            return done;
        }
        match result {
            UnitResult::Audio(audio, unit_check) => {
                done.released = 0;
                self.pending.insert(unit, (audio, unit_check));
                while let Some((audio, unit_check)) = self.pending.remove(&self.next) {
                    done.released += 1;
                    self.unit_checks[self.next] = Some(unit_check);
                    if let Err(e) = self.write_unit(self.next, &audio, settings) {
                        done.released += self.fail(e);
                        return done;
                    }
                    let units = &self.prepared.units;
                    let paragraph = units[self.next].paragraph;
                    if units
                        .get(self.next + 1)
                        .is_none_or(|u| u.paragraph != paragraph)
                    {
                        let first = units[..=self.next]
                            .iter()
                            .rposition(|u| u.paragraph != paragraph)
                            .map_or(0, |i| i + 1);
                        done.paragraphs
                            .push(self.unit_spans[self.next].1 - self.unit_spans[first].0);
                    }
                    self.next += 1;
                }
            }
            UnitResult::Failed(SynthError::Cancelled) | UnitResult::Skipped => {
                self.interrupted = true;
            }
            UnitResult::Failed(source) => {
                let paragraph = self.prepared.units[unit].paragraph + 1;
                done.released += self.fail(ArticleError::Synthesis { paragraph, source });
            }
        }
        done
    }

    /// Marks the article failed, drops its temp file and buffered audio; returns the slots freed.
    fn fail(&mut self, error: ArticleError) -> usize {
        self.abandoned.store(true, Ordering::Relaxed);
        self.state = Err(error);
        let freed = self.pending.len();
        self.pending.clear();
        freed
    }

    fn write_unit(
        &mut self,
        index: usize,
        audio: &Audio,
        settings: &PipelineSettings,
    ) -> Result<(), ArticleError> {
        let Ok(wav) = &mut self.state else {
            return Ok(());
        };
        let paragraph = self.prepared.units[index].paragraph;
        let first_of_paragraph =
            index == 0 || self.prepared.units[index - 1].paragraph != paragraph;
        if first_of_paragraph && index > 0 {
            let starts_chapter = self.prepared.chapter_starts[paragraph];
            let gap = if starts_chapter {
                settings.chapter_gap_ms
            } else {
                settings.gap_ms
            };
            let gap = ms_to_frames(gap, audio.sample_rate);
            // The gap belongs to the chapter before: chapters end where the next starts.
            let hasher = &mut self.chapter_hasher;
            wav.write_silence_and(gap, |bytes| hasher.iter_mut().for_each(|h| h.bytes(bytes)))?;
            if starts_chapter && let Some(hasher) = &mut self.chapter_hasher {
                self.chapter_hashes.push(std::mem::take(hasher).finish());
            }
        }
        let start = wav.frames();
        let hasher = &mut self.chapter_hasher;
        wav.write_samples_and(&audio.samples, |bytes| {
            hasher.iter_mut().for_each(|h| h.bytes(bytes))
        })?;
        self.unit_spans[index] = (start, wav.frames());
        self.timings[index] = timing::unit_spans(audio).shifted(start);
        Ok(())
    }

    /// Writes the chapter chunks and hands the complete WAV on to be finished. `None` when
    /// the article was interrupted.
    fn finalize(self, article: usize) -> Option<Result<Finishing, ArticleError>> {
        let wav = match self.state {
            Ok(_) if self.interrupted => return None,
            Ok(wav) => wav,
            Err(e) => return Some(Err(e)),
        };
        let mut chapter_hashes = self.chapter_hashes;
        chapter_hashes.extend(self.chapter_hasher.map(|h| h.finish()));
        let written = Written {
            unit_spans: self.unit_spans,
            unit_checks: self.unit_checks,
            chapter_hashes,
            timings: self.timings,
        };
        Some(complete_wav(article, self.prepared, wav, written))
    }
}

/// Where each paragraph's speech starts and ends, from its units' spans.
fn paragraph_spans(
    paragraphs: usize,
    units: &[Unit],
    unit_spans: &[(u64, u64)],
) -> Vec<(u64, u64)> {
    let mut spans = vec![(u64::MAX, 0); paragraphs];
    for (u, &(start, end)) in units.iter().zip(unit_spans) {
        let span = &mut spans[u.paragraph];
        span.0 = span.0.min(start);
        span.1 = span.1.max(end);
    }
    spans
}

/// An article whose WAV is complete (chapter chunks included) in a temporary file, on its way
/// from the writer to a finisher.
struct Finishing {
    article: usize,
    prepared: Arc<Prepared>,
    wav: NamedTempFile,
    /// Where the samples start in `wav`.
    data_offset: u64,
    total: u64,
    spans: Vec<ChapterSpan>,
    para_spans: Vec<(u64, u64)>,
    written: Written,
}

/// What was learnt while writing an article's audio.
struct Written {
    /// Where each unit starts and ends.
    unit_spans: Vec<(u64, u64)>,
    /// Each unit's check.
    unit_checks: Vec<Option<UnitCheck>>,
    /// BLAKE3 of each chapter's audio (see `audio::digest`).
    chapter_hashes: Vec<String>,
    /// Each unit's word and sentence spans on the article's timeline.
    timings: Vec<UnitSpans>,
}

/// Lays out the chapters, writes the WAV's chapter chunks and flushes it. Cheap: it runs on
/// the writer thread.
fn complete_wav(
    index: usize,
    prepared: Arc<Prepared>,
    wav: TempWav,
    written: Written,
) -> Result<Finishing, ArticleError> {
    let article = &prepared.article;
    let total = wav.frames();
    let data_offset = wav.data_offset();
    let para_spans = paragraph_spans(
        article.paragraphs.len(),
        &prepared.units,
        &written.unit_spans,
    );
    let paragraph_start: Vec<u64> = para_spans.iter().map(|s| s.0).collect();
    let spans: Vec<ChapterSpan> = article
        .chapters
        .iter()
        .enumerate()
        .map(|(i, c)| ChapterSpan {
            title: c.title.clone(),
            start: paragraph_start[c.first_paragraph],
            end: article
                .chapters
                .get(i + 1)
                .map_or(total, |n| paragraph_start[n.first_paragraph]),
            level: c.level,
        })
        .collect();
    let regions: Vec<CueRegion> = spans
        .iter()
        .map(|s| CueRegion {
            title: s.title.clone(),
            start: s.start,
            length: s.end - s.start,
        })
        .collect();
    let wav = wav
        .finish(&regions)?
        .into_inner()
        .map_err(|e| WavError::Io(e.into_error()))?
        .0;
    Ok(Finishing {
        article: index,
        prepared,
        wav,
        data_offset,
        total,
        spans,
        para_spans,
        written,
    })
}

/// What finishers share.
struct Finisher<'a> {
    jobs: &'a [ArticleJob],
    engine: &'a EngineInfo,
    settings: &'a PipelineSettings,
    /// Encodes running at once, over all articles: at most `jobs`.
    encoders: Semaphore,
}

impl Finisher<'_> {
    /// Takes articles until the writer is done, and reports each one's outcome.
    fn run(&self, queue: &Mutex<Receiver<Finishing>>, tx: Sender<Msg>) {
        loop {
            let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(f) = next else { return };
            let article = f.article;
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.finish(f)))
                .unwrap_or_else(|_| {
                    Some(Err(ArticleError::Internal(
                        "finishing the article panicked".into(),
                    )))
                });
            if tx.send(Msg::Finished { article, result }).is_err() {
                return;
            }
        }
    }

    /// Measures (and normalises) the loudness, writes the chapter files, encodes, builds the
    /// page and the manifest, and renames everything into place, the manifest last. `None`
    /// when the run was interrupted; the temporary files go either way.
    fn finish(&self, f: Finishing) -> Option<Result<Converted, ArticleError>> {
        match self.try_finish(f) {
            Err(ArticleError::Encode(EncodeError::Cancelled)) => None,
            Err(ArticleError::Loudness(e)) if e.kind() == std::io::ErrorKind::Interrupted => None,
            // An article that was finished stays finished; anything else failed because of
            // the interruption.
            Err(_) if process::cancelled() => None,
            other => Some(other),
        }
    }

    fn try_finish(&self, mut f: Finishing) -> Result<Converted, ArticleError> {
        let job = &self.jobs[f.article];
        let settings = self.settings;
        let publishing = &settings.publishing;
        let rate = settings.sample_rate;
        let (article, prepared) = (&f.prepared.article, &f.prepared);
        let stop = || process::cancelled();

        // Loudness, when asked for: measured over the whole article, then normalised in place.
        // Measuring costs about a second of CPU per hour of audio, so it is not done unasked.
        let mut record = None;
        if publishing.loudness.is_some() || publishing.measure_loudness {
            let file = f.wav.as_file();
            let measured =
                loudness::measure(file, f.data_offset, f.total, rate, settings.jobs, &stop)
                    .map_err(ArticleError::Loudness)?;
            let mut measured_record = LoudnessRecord {
                integrated_lufs: measured.integrated_lufs.map(manifest::round_db),
                true_peak_dbtp: measured.true_peak_dbtp.map(manifest::round_db),
                normalization: None,
            };
            if let Some(target) = &publishing.loudness
                && let Some(n) = loudness::normalize(
                    file,
                    f.data_offset,
                    f.total,
                    rate,
                    &measured,
                    target,
                    &stop,
                )
                .map_err(ArticleError::Loudness)?
            {
                measured_record = LoudnessRecord {
                    integrated_lufs: n.after.integrated_lufs.map(manifest::round_db),
                    true_peak_dbtp: n.after.true_peak_dbtp.map(manifest::round_db),
                    normalization: Some(NormalizationRecord {
                        target_lufs: target.integrated_lufs,
                        ceiling_dbtp: target.true_peak_dbtp,
                        gain_db: manifest::round_db(n.gain_db),
                        measured_integrated_lufs: measured.integrated_lufs.map(manifest::round_db),
                        measured_true_peak_dbtp: measured.true_peak_dbtp.map(manifest::round_db),
                        limited_frames: n.limited_frames,
                    }),
                };
            }
            if publishing.loudness.is_some() {
                // Normalising may rewrite any sample, so the writer left the chapters unhashed:
                // hash them from the file as it now is.
                f.written.chapter_hashes =
                    hash_chapters(file, f.data_offset, &f.spans).map_err(ArticleError::Loudness)?;
            }
            record = Some(measured_record);
        }

        let mut files = Files {
            page: Some(file_name(job, PAGE_SUFFIX)),
            captions_vtt: Some(file_name(job, CAPTIONS_SUFFIX)),
            ..Files::default()
        };
        for &format in &publishing.formats {
            files.set_audio(format, file_name(job, format.suffix()));
        }
        for &format in &publishing.chapters {
            files.set_chapters(format, file_name(job, format.suffix()));
        }
        let about = chapters::About {
            title: &article.title,
            author: article.author.as_deref(),
            date: article.date.as_deref(),
            source: &job.name,
            generator: GENERATOR,
        };

        // Compressed files, from the finished WAV, several at once.
        let duration_ms = crate::audio::frames_to_ms(f.total, rate);
        let encoded = self.encode(job, &f, &about, duration_ms)?;

        // Chapter files.
        let mut sidecars: Vec<(NamedTempFile, PathBuf)> = Vec::new();
        for &format in &publishing.chapters {
            let text = match format {
                ChapterFormat::Vtt => chapters::webvtt(&f.spans, rate),
                ChapterFormat::Json => chapters::chapters_json(&about, &f.spans, rate),
                ChapterFormat::Ffmetadata => {
                    chapters::ffmetadata(&chapters::tags(&about), &f.spans, rate)
                }
                ChapterFormat::Podcast => {
                    let audio = [
                        AudioFormat::Mp3,
                        AudioFormat::M4b,
                        AudioFormat::Opus,
                        AudioFormat::Wav,
                    ]
                    .into_iter()
                    .find_map(|a| files.audio_file(a))
                    .unwrap_or_default();
                    chapters::podcast_json(&about, audio, &f.spans, rate)
                }
                ChapterFormat::Cue => {
                    let (audio, kind) = [
                        AudioFormat::Wav,
                        AudioFormat::Mp3,
                        AudioFormat::M4b,
                        AudioFormat::Opus,
                    ]
                    .into_iter()
                    .find_map(|a| files.audio_file(a).map(|n| (n, a)))
                    .unwrap_or(("", AudioFormat::Wav));
                    let kind = if kind == AudioFormat::Mp3 {
                        chapters::CueFileType::Mp3
                    } else {
                        chapters::CueFileType::Wave
                    };
                    chapters::cue_sheet(&about, audio, kind, &f.spans, rate)
                }
            };
            let path = job.output(format.suffix());
            sidecars.push((temp_with(&path, text.as_bytes())?, path));
        }

        let manifest = build_manifest(
            job,
            prepared,
            &f.written,
            &f.spans,
            &f.para_spans,
            f.total,
            self.engine,
            settings,
            files,
            record,
            settings
                .ffmpeg
                .as_ref()
                .filter(|_| publishing.needs_ffmpeg())
                .map(|e| e.version.clone()),
        );

        // Every audio file, in the order they are kept.
        let mut audio_tmp: Vec<(AudioFormat, NamedTempFile, PathBuf)> = Vec::new();
        if publishing.formats.contains(&AudioFormat::Wav) {
            audio_tmp.push((
                AudioFormat::Wav,
                f.wav,
                job.output(AudioFormat::Wav.suffix()),
            ));
        }
        audio_tmp.extend(encoded);
        let mut page_audio = Vec::new();
        for (format, tmp, path) in &audio_tmp {
            let bytes = tmp
                .as_file()
                .metadata()
                .map_err(|source| ArticleError::Write {
                    path: path.clone(),
                    source,
                })?
                .len();
            page_audio.push(AudioFile {
                name: manifest
                    .files
                    .audio_file(*format)
                    .unwrap_or_default()
                    .to_string(),
                mime: format.mime().into(),
                bytes,
                duration_ms,
            });
        }
        let html_path = job.output(PAGE_SUFFIX);
        let json_path = job.output(MANIFEST_SUFFIX);
        let captions_path = job.output(CAPTIONS_SUFFIX);
        // The page, the captions and the manifest at once: each walks every timed word (a
        // long article has tens of thousands), and this is the run's tail, when the
        // synthesis of a single article has nothing left to overlap with.
        let (html_tmp, captions_tmp, json_tmp) = std::thread::scope(|s| {
            let page = s.spawn(|| {
                temp_with(
                    &html_path,
                    html::article_page(&manifest, &page_audio).as_bytes(),
                )
            });
            let captions =
                s.spawn(|| temp_with(&captions_path, captions::webvtt(&manifest).as_bytes()));
            let json = temp_beside(&json_path).and_then(|mut tmp| {
                manifest
                    .write_json(BufWriter::with_capacity(256 * 1024, tmp.as_file_mut()))
                    .map_err(|source| ArticleError::Write {
                        path: json_path.clone(),
                        source,
                    })?;
                Ok(tmp)
            });
            let joined = |h: std::thread::ScopedJoinHandle<'_, _>| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            };
            (joined(page), joined(captions), json)
        });
        let (html_tmp, captions_tmp, json_tmp) = (html_tmp?, captions_tmp?, json_tmp?);
        if process::cancelled() {
            return Err(ArticleError::Encode(EncodeError::Cancelled));
        }

        // The manifest goes last: its presence says the other files are complete.
        let mut all: Vec<(NamedTempFile, PathBuf)> = audio_tmp
            .into_iter()
            .map(|(_, tmp, path)| (tmp, path))
            .collect();
        all.extend(sidecars);
        all.push((captions_tmp, captions_path));
        all.push((html_tmp, html_path));
        all.push((json_tmp, json_path));
        let mut placed: Vec<PathBuf> = Vec::new();
        for (tmp, path) in all {
            if let Err(e) = tmp.persist(&path) {
                for p in placed {
                    let _ = std::fs::remove_file(p);
                }
                return Err(ArticleError::Write {
                    path,
                    source: e.error,
                });
            }
            placed.push(path);
        }
        // An MP3 from an earlier run with `--formats mp3` would otherwise stay, out of date,
        // beside the new files and listed by no manifest.
        let now = manifest.files.all();
        let dir = job.out_base.parent().unwrap_or(Path::new("."));
        let earlier = &f.prepared.earlier_files;
        for old in earlier.iter().filter(|name| !now.contains(&name.as_str())) {
            let _ = std::fs::remove_file(dir.join(old));
        }
        Ok(converted(job, &manifest))
    }

    /// Encodes every compressed format of the article, each into a hidden temporary file
    /// beside its final name, several at once (at most `jobs` encodes run over the whole run).
    fn encode(
        &self,
        job: &ArticleJob,
        f: &Finishing,
        about: &chapters::About<'_>,
        duration_ms: u64,
    ) -> Result<Vec<(AudioFormat, NamedTempFile, PathBuf)>, ArticleError> {
        let publishing = &self.settings.publishing;
        let formats: Vec<AudioFormat> = publishing
            .formats
            .iter()
            .copied()
            .filter(|f| f.is_encoded())
            .collect();
        if formats.is_empty() {
            return Ok(Vec::new());
        }
        let Some(ffmpeg) = &self.settings.ffmpeg else {
            return Err(ArticleError::Encode(EncodeError::NotFound));
        };
        let rate = self.settings.sample_rate;
        let tags = chapters::tags(about);
        // ffmpeg's input metadata lives in the system's temporary folder, not the output's.
        let metadata = |text: String| -> Result<NamedTempFile, ArticleError> {
            let write_err = |source| ArticleError::Write {
                path: std::env::temp_dir().join("aloud-meta-*.ffmetadata"),
                source,
            };
            let mut tmp = tempfile::Builder::new()
                .prefix("aloud-meta-")
                .suffix(".ffmetadata")
                .tempfile()
                .map_err(write_err)?;
            tmp.write_all(text.as_bytes())
                .and_then(|_| tmp.flush())
                .map_err(write_err)?;
            Ok(tmp)
        };
        // MP3 and M4B take ffmpeg's chapters; Opus takes ours as Vorbis comments.
        let with_chapters = metadata(chapters::ffmetadata(&tags, &f.spans, rate))?;
        let mut opus_tags: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        opus_tags.extend(chapters::vorbis_chapter_comments(&f.spans, rate));
        let for_opus = metadata(chapters::ffmetadata(&opus_tags, &[], rate))?;

        let mut outputs = Vec::new();
        for &format in &formats {
            let path = job.output(format.suffix());
            outputs.push((format, temp_beside(&path)?, path));
        }
        let results: Vec<Result<(), EncodeError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = outputs
                .iter()
                .map(|(format, tmp, _)| {
                    let meta = if *format == AudioFormat::Opus {
                        for_opus.path()
                    } else {
                        with_chapters.path()
                    };
                    let wav = f.wav.path();
                    scope.spawn(move || {
                        let _permit = self.encoders.permit().ok_or(EncodeError::Cancelled)?;
                        ffmpeg.encode(
                            *format,
                            &publishing.bitrates,
                            wav,
                            meta,
                            tmp.path(),
                            duration_ms,
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(EncodeError::Cancelled)))
                .collect()
        });
        // The first failure in format order is reported (a cancel wins: it is not a failure).
        if results
            .iter()
            .any(|r| matches!(r, Err(EncodeError::Cancelled)))
        {
            return Err(ArticleError::Encode(EncodeError::Cancelled));
        }
        for r in results {
            r?;
        }
        Ok(outputs)
    }
}

/// An output's file name (no folder), as the manifest and the page refer to it.
fn file_name(job: &ArticleJob, suffix: &str) -> String {
    job.output(suffix)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn build_manifest(
    job: &ArticleJob,
    prepared: &Prepared,
    written: &Written,
    spans: &[ChapterSpan],
    para_spans: &[(u64, u64)],
    total: u64,
    engine: &EngineInfo,
    settings: &PipelineSettings,
    files: Files,
    loudness: Option<LoudnessRecord>,
    encoder: Option<String>,
) -> Manifest {
    let (article, units) = (&prepared.article, &prepared.units[..]);
    let rate = settings.sample_rate;
    // Everything here is linear in the article's size: 100,000 paragraphs must not take long.
    let chapter_of = article.chapter_of_paragraphs();
    let parents = article.chapter_parents();
    let unit_ranges = text::units_by_paragraph(article.paragraphs.len(), units);
    let chapters = spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let c = &article.chapters[i];
            // A chapter covers its sub-chapters: it runs to the next chapter of the same or a
            // higher level.
            let next = article.chapters[i + 1..]
                .iter()
                .find(|n| n.level <= c.level)
                .map_or(article.paragraphs.len(), |n| n.first_paragraph);
            ChapterRecord {
                index: i,
                title: s.title.clone(),
                start_frame: s.start,
                end_frame: s.end,
                start_seconds: manifest::seconds(s.start, rate),
                level: c.level,
                parent: parents[i],
                paragraphs: [c.first_paragraph, next - 1],
                audio_blake3: written.chapter_hashes.get(i).cloned().unwrap_or_default(),
            }
        })
        .collect();
    // The article's timings are as fine as its coarsest unit's.
    let precision = written
        .timings
        .iter()
        .map(UnitSpans::precision)
        .min()
        .unwrap_or_default();
    let paragraphs = article
        .paragraphs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut hash = Sha256::new();
            let mut unit_records = Vec::new();
            for k in unit_ranges[i].clone() {
                let (u, (start, end)) = (&units[k], written.unit_spans[k]);
                if !unit_records.is_empty() {
                    hash.update(b"\n");
                }
                hash.update(u.text.as_bytes());
                unit_records.push(UnitRecord {
                    index: k,
                    spoken: u.text.clone(),
                    start_frame: start,
                    end_frame: end,
                    check: written.unit_checks.get(k).cloned().flatten(),
                });
            }
            let (start, end) = para_spans[i];
            let (sentences, words) = paragraph_timings(
                &p.text,
                &units[unit_ranges[i].clone()],
                &written.timings[unit_ranges[i].clone()],
                precision,
            );
            ParagraphRecord {
                index: i,
                chapter: chapter_of[i],
                kind: p.kind.name().to_string(),
                title: text::title::opening_words(&p.text, text::title::MAX_TITLE_CHARS),
                text: p.text.clone(),
                spoken_sha256: hex(&hash.finalize()),
                start_frame: start,
                end_frame: end,
                duration_frames: end - start,
                start_seconds: manifest::seconds(start, rate),
                duration_seconds: manifest::seconds(end - start, rate),
                units: unit_records,
                sentences,
                words,
            }
        })
        .collect();
    Manifest {
        format: manifest::FORMAT.into(),
        format_version: manifest::FORMAT_VERSION,
        generator: GENERATOR.to_string(),
        source: job.name.clone(),
        input_sha256: prepared.input_sha256.clone(),
        settings_sha256: settings.fingerprint.clone(),
        title: article.title.clone(),
        author: article.author.clone(),
        date: article.date.clone(),
        language: article.language.clone().or_else(|| engine.language.clone()),
        engine: EngineRecord {
            name: engine.name.clone(),
            version: engine.version.clone(),
            sample_rate: engine.sample_rate,
            settings: engine.settings.iter().cloned().collect(),
        },
        sample_rate: rate,
        channels: 1,
        gap_ms: settings.gap_ms,
        chapter_gap_ms: settings.chapter_gap_ms,
        total_frames: total,
        timing: precision,
        duration_seconds: manifest::seconds(total, rate),
        loudness,
        encoder,
        files,
        chapters,
        paragraphs,
        skipped: article
            .skipped
            .iter()
            .map(|s| SkippedRecord {
                kind: s.kind.clone(),
                before_paragraph: s.before_paragraph,
                text: s.text.clone(),
            })
            .collect(),
    }
}

/// The hash of each chapter's samples, read back from a WAV file.
fn hash_chapters(
    file: &std::fs::File,
    data_offset: u64,
    spans: &[ChapterSpan],
) -> std::io::Result<Vec<String>> {
    use std::io::{Seek, SeekFrom};
    // Chapters are consecutive from the first frame.
    debug_assert!(spans.first().is_none_or(|s| s.start == 0));
    debug_assert!(spans.windows(2).all(|w| w[0].end == w[1].start));
    let mut file = file;
    file.seek(SeekFrom::Start(data_offset))?;
    let read = std::io::BufReader::with_capacity(1 << 20, file);
    hash_stretches(read, spans.iter().map(|s| s.end - s.start)).map_err(|(_, e)| e)
}

/// A paragraph's sentences and words, as fine as `precision` allows, mapped to its text as
/// written. `units` and `timings` are the paragraph's own.
fn paragraph_timings(
    written: &str,
    units: &[Unit],
    timings: &[UnitSpans],
    precision: Precision,
) -> (Vec<SentenceRecord>, Vec<WordRecord>) {
    let mut spoken_words: Vec<(&str, &timing::Span)> = Vec::new();
    let mut spoken_sentences: Vec<(&str, &timing::Span)> = Vec::new();
    for (u, t) in units.iter().zip(timings) {
        let text = |s: &timing::Span| u.text.get(s.text.clone()).unwrap_or("");
        spoken_words.extend(t.words.iter().map(|s| (text(s), s)));
        spoken_sentences.extend(t.sentences.iter().map(|s| (text(s), s)));
    }
    let words_only: Vec<&str> = spoken_words.iter().map(|(w, _)| *w).collect();
    let ranges = timing::align(written, &words_only);
    let words: Vec<WordRecord> = spoken_words
        .iter()
        .zip(&ranges)
        .map(|((spoken, span), range)| WordRecord {
            start_frame: span.start,
            end_frame: span.end,
            spoken: spoken.to_string(),
            text: range.clone().map(|r| [r.start, r.end]),
        })
        .collect();
    // Where each sentence's first written word starts.
    let first_written = |from: u64, to: Option<u64>| {
        words
            .iter()
            .filter(|w| w.start_frame >= from && to.is_none_or(|t| w.start_frame < t))
            .find_map(|w| w.text.map(|[a, _]| a))
    };
    let starts: Vec<Option<usize>> = spoken_sentences
        .iter()
        .enumerate()
        .map(|(k, (_, s))| {
            let next = spoken_sentences.get(k + 1).map(|(_, n)| n.start);
            first_written(s.start, next)
        })
        .collect();
    let sentences = spoken_sentences
        .iter()
        .zip(timing::sentence_ranges(written, &starts))
        .map(|((spoken, s), text)| SentenceRecord {
            start_frame: s.start,
            end_frame: s.end,
            spoken: spoken.to_string(),
            text: text.map(|r| [r.start, r.end]),
        })
        .collect();
    match precision {
        Precision::Word => (sentences, words),
        Precision::Sentence => (sentences, Vec::new()),
        Precision::Paragraph => (Vec::new(), Vec::new()),
    }
}

/// A hidden temporary file in `final_path`'s folder (so the rename is atomic), created with
/// the folder if needed. It is deleted if dropped before being persisted.
fn temp_beside(final_path: &Path) -> Result<NamedTempFile, ArticleError> {
    let dir = final_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = |source| ArticleError::Write {
        path: final_path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let stem = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    hidden_temp(dir, &stem).map_err(err)
}

/// A hidden temporary file `.NAME.XXXXXX.tmp` in `dir`, so that renaming it into `dir` is
/// atomic, created with the mode outputs are published with (the umask still applies). It is
/// locked (`flock`) for as long as it is open, so that [`remove_stale_temps`] can tell it from
/// one that a killed run left behind: the lock goes with the process, however it ends.
pub(crate) fn hidden_temp(dir: &Path, name: &str) -> std::io::Result<NamedTempFile> {
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .rand_bytes(TEMP_RANDOM_CHARS)
        .suffix(TEMP_SUFFIX)
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)?;
    // Nobody else can hold the lock of a file just created; a file system without locks
    // leaves only the age rule of remove_stale_temps.
    let _ = tmp.as_file().try_lock();
    Ok(tmp)
}

const TEMP_SUFFIX: &str = ".tmp";
/// Random characters in a temporary file's name.
const TEMP_RANDOM_CHARS: usize = 6;

/// How long a temporary file must have been left unchanged before it counts as stale.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes the hidden temporary files ([`hidden_temp`]) in `dir` that a killed run left
/// behind: unlocked and unchanged for [`STALE_TEMP_AGE`] (the age guards a file that another
/// run has just created and not yet locked, and file systems without locks). Returns how many
/// files and bytes went; errors only skip files.
pub(crate) fn remove_stale_temps(dir: &Path) -> (usize, u64) {
    let mut removed = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_ours = name
            .to_str()
            .and_then(|n| {
                n.strip_prefix('.')?
                    .strip_suffix(TEMP_SUFFIX)?
                    .rsplit_once('.')
            })
            .is_some_and(|(stem, random)| {
                !stem.is_empty()
                    && random.len() == TEMP_RANDOM_CHARS
                    && random.chars().all(|c| c.is_ascii_alphanumeric())
            });
        // Only our names are looked at further: an output folder holds thousands of files.
        if !is_ours {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= STALE_TEMP_AGE);
        if !meta.is_file() || !old {
            continue;
        }
        let path = entry.path();
        let unlocked = std::fs::File::open(&path).is_ok_and(|f| f.try_lock().is_ok());
        if unlocked && std::fs::remove_file(&path).is_ok() {
            removed.0 += 1;
            removed.1 += meta.len();
        }
    }
    removed
}

/// A temporary output file being written.
///
/// Test aid: with `ALOUD_TEST_DISK_FULL_AFTER=BYTES` in the environment, all output files of
/// the process share that many bytes, after which writes fail with "No space left on device",
/// as on a full disk; tests need no small filesystem to reach that path.
struct OutputFile(NamedTempFile);

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        take_disk_budget(buf.len())?;
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl std::io::Seek for OutputFile {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

fn take_disk_budget(bytes: usize) -> std::io::Result<()> {
    static BUDGET: std::sync::OnceLock<Option<AtomicU64>> = std::sync::OnceLock::new();
    let budget = BUDGET.get_or_init(|| {
        std::env::var("ALOUD_TEST_DISK_FULL_AFTER")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(AtomicU64::new)
    });
    let Some(left) = budget else { return Ok(()) };
    let bytes = bytes as u64;
    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(bytes))
        .map(drop)
        .map_err(|_| std::io::Error::from_raw_os_error(28)) // ENOSPC
}

fn temp_with(final_path: &Path, bytes: &[u8]) -> Result<NamedTempFile, ArticleError> {
    let mut tmp = OutputFile(temp_beside(final_path)?);
    tmp.write_all(bytes)
        .and_then(|_| tmp.flush())
        .map_err(|source| ArticleError::Write {
            path: final_path.to_path_buf(),
            source,
        })?;
    Ok(tmp.0)
}
