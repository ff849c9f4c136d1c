//! Articles → units → parallel synthesis → ordered, streamed assembly → outputs.
//!
//! One run feeds the units of every article, in order, to one rayon pool of `jobs` workers.
//! The calling thread is the writer: it receives finished units, writes each article's audio
//! as soon as all earlier units of that article are written, and finalises an article (chapter
//! chunks, VTT, player page, manifest, atomic renames) the moment its last unit is written.
//!
//! Invariants:
//! - Memory is bounded by a window of `2 × jobs + 2` units that are being synthesized or are
//!   waiting for an earlier unit; never by the length of an article or the size of a folder.
//! - Outputs appear atomically: everything is written to hidden temporary files in the output
//!   folder and renamed at the end (the manifest last). A failed or interrupted article leaves
//!   no file behind, and other articles go on.
//! - The bytes written depend only on the input and settings, never on `jobs` or timing.

use crate::audio::riff::{CueRegion, WavError, WavWriter};
use crate::audio::{Audio, ms_to_frames};
use crate::backend::{EngineInfo, Request, SynthError, Synthesizer};
use crate::cache::{Lookup, UnitCache, unit_key};
use crate::captions;
use crate::chapters::{self, ChapterSpan};
use crate::html::{self, AudioFile};
use crate::manifest::{
    self, ChapterRecord, EngineRecord, Files, Manifest, ParagraphRecord, SentenceRecord,
    SkippedRecord, UnitRecord, WordRecord,
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

/// One article to convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleJob {
    /// Where to read it.
    pub source: PathBuf,
    /// How to name it in messages and the manifest: its path relative to the input it was
    /// found under (never absolute).
    pub name: String,
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
    /// How articles are read and cut into units.
    pub text: TextOptions,
    /// Extra attempts for a unit whose engine call fails (timeouts included).
    pub retries: u32,
    /// Where synthesized units are kept between runs; `None` disables caching.
    pub cache: Option<UnitCache>,
    /// Convert articles even when their outputs are up to date.
    pub rebuild: bool,
    /// SHA-256 of every setting that shapes the outputs (engine, voice, text options,
    /// `aloud`'s version); with the source's hash it decides whether outputs are up to date.
    pub fingerprint: String,
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
}

/// A finished article.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The job's name.
    pub name: String,
    /// The WAV written.
    pub wav: PathBuf,
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
        /// The job's name.
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
    let window = Window::new(2 * workers + 2);
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
    let writer = Writer {
        jobs,
        engine,
        settings,
        window: &window,
        sinks: HashMap::new(),
        outcomes: BTreeMap::new(),
    };
    let report = std::thread::scope(|ts| {
        ts.spawn(|| {
            pool.scope(|s| {
                for _ in 0..workers {
                    let tx = tx.clone();
                    let (dispatch, window, synthesis) = (&dispatch, &window, &synthesis);
                    s.spawn(move |_| work(dispatch, window, synthesis, tx));
                }
            });
            drop(tx);
        });
        // If the writer stops early (it panicked), workers waiting for a slot must not wait
        // forever.
        let _close = CloseOnDrop(&window);
        writer.run(rx, on_event)
    });
    Ok(RunReport {
        units: counters.snapshot(),
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
}

/// How an article begins.
enum Begun {
    /// Its units follow.
    Work(Arc<Prepared>),
    /// Its outputs are up to date; no units follow.
    Unchanged(Converted),
}

enum UnitResult {
    Audio(Audio),
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
    if !settings.rebuild
        && let Some(done) = up_to_date(job, &input_sha256, &settings.fingerprint)
    {
        return Ok(Begun::Unchanged(done));
    }
    let (article, units) = settings.text.read(&bytes, &job.source)?;
    Ok(Begun::Work(Arc::new(Prepared {
        article,
        units,
        input_sha256,
    })))
}

/// The article's existing outputs, if its manifest says they were made from this very source
/// with these very settings and every file it lists is there.
fn up_to_date(job: &ArticleJob, input_sha256: &str, fingerprint: &str) -> Option<Converted> {
    let json = std::fs::read(job.output(".json")).ok()?;
    let m: Manifest = serde_json::from_slice(&json).ok()?;
    let current = m.format == manifest::FORMAT
        && m.format_version == manifest::FORMAT_VERSION
        && m.input_sha256 == input_sha256
        && m.settings_sha256 == fingerprint;
    let dir = job.out_base.parent().unwrap_or(Path::new("."));
    let files_there = m.files.all().iter().all(|f| dir.join(f).is_file());
    (current && files_there).then(|| Converted {
        name: job.name.clone(),
        wav: job.output(".wav"),
        title: m.title.clone(),
        chapters: m.chapters.len(),
        paragraphs: m.paragraphs.len(),
        frames: m.total_frames,
        sample_rate: m.sample_rate,
    })
}

/// What a worker needs to turn a unit into audio: the engine, the cache and the retry policy.
struct Synthesis<'a> {
    synth: &'a dyn Synthesizer,
    engine: &'a EngineInfo,
    settings: &'a PipelineSettings,
    counters: &'a Counters,
}

impl Synthesis<'_> {
    /// The unit's audio: from the cache, else from the engine (with retries), then cached.
    fn unit(&self, text: &str) -> Result<Audio, SynthError> {
        let key = self
            .settings
            .cache
            .as_ref()
            .map(|_| unit_key(self.engine, text));
        if let (Some(cache), Some(key)) = (&self.settings.cache, &key) {
            match cache.get(key) {
                Lookup::Hit(audio) if audio.sample_rate == self.engine.sample_rate => {
                    self.counters.cached.fetch_add(1, Ordering::Relaxed);
                    return Ok(audio);
                }
                Lookup::Corrupt => {
                    self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
        let audio = self.with_retries(text)?;
        self.counters.synthesized.fetch_add(1, Ordering::Relaxed);
        if let (Some(cache), Some(key)) = (&self.settings.cache, &key)
            && cache.put(key, &audio).is_err()
        {
            self.counters
                .cache_write_errors
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(audio)
    }

    fn with_retries(&self, text: &str) -> Result<Audio, SynthError> {
        let mut attempt = 0;
        loop {
            let result = self.synth.synthesize(&Request { text }).and_then(|a| {
                if a.sample_rate == self.engine.sample_rate {
                    Ok(a)
                } else {
                    Err(SynthError::FormatChanged {
                        engine: self.synth.name().to_string(),
                        got: a.sample_rate,
                        expected: self.engine.sample_rate,
                    })
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
            | SynthError::Io { .. }
    )
}

fn work(
    dispatch: &Mutex<Dispatcher<'_>>,
    window: &Window,
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
                Ok(a) => UnitResult::Audio(a),
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

/// A counting semaphore over units in flight or waiting to be written.
struct Window {
    used: Mutex<usize>,
    freed: Condvar,
    capacity: usize,
    closed: AtomicBool,
}

struct CloseOnDrop<'a>(&'a Window);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.freed.notify_all();
    }
}

impl Window {
    fn new(capacity: usize) -> Self {
        Window {
            used: Mutex::new(0),
            freed: Condvar::new(),
            capacity,
            closed: AtomicBool::new(false),
        }
    }

    /// Takes a slot; false once the run is cancelled or the writer has gone.
    fn acquire(&self) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        while *used >= self.capacity {
            if process::cancelled() || self.closed.load(Ordering::SeqCst) {
                return false;
            }
            used = self
                .freed
                .wait_timeout(used, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *used += 1;
        !process::cancelled()
    }

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
    engine: &'a EngineInfo,
    settings: &'a PipelineSettings,
    window: &'a Window,
    sinks: HashMap<usize, Sink>,
    outcomes: BTreeMap<usize, Outcome>,
}

impl Writer<'_> {
    fn run(mut self, rx: Receiver<Msg>, on_event: &mut dyn FnMut(Event<'_>)) -> RunReport {
        for msg in rx {
            match msg {
                Msg::Begin {
                    article,
                    prepared,
                    abandoned,
                } => {
                    let job = &self.jobs[article];
                    let opened = prepared.and_then(|begun| match begun {
                        Begun::Work(p) => {
                            Sink::open(job, p, Arc::clone(&abandoned), self.engine).map(Some)
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
                            let name = job.name.clone();
                            self.finish(article, Outcome::Failed { name, error }, on_event);
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
                            sample_rate: self.engine.sample_rate,
                        });
                    }
                    if sink.received == sink.prepared.units.len() {
                        let sink = self.sinks.remove(&article).expect("sink exists");
                        let job = &self.jobs[article];
                        if let Some(result) = sink.finalize(job, self.engine, self.settings) {
                            let outcome = match result {
                                Ok(c) => Outcome::Converted(c),
                                Err(error) => Outcome::Failed {
                                    name: job.name.clone(),
                                    error,
                                },
                            };
                            self.finish(article, outcome, on_event);
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
        }
    }

    fn finish(&mut self, article: usize, outcome: Outcome, on_event: &mut dyn FnMut(Event<'_>)) {
        on_event(Event::Finished(&outcome));
        self.outcomes.insert(article, outcome);
    }
}

/// What accepting a unit did.
struct Accepted {
    /// Window slots freed.
    released: usize,
    /// Frames of each paragraph completed by it.
    paragraphs: Vec<u64>,
}

type TempWav = WavWriter<BufWriter<NamedTempFile>>;

/// One article being written.
struct Sink {
    prepared: Arc<Prepared>,
    abandoned: Arc<AtomicBool>,
    /// `Ok` while writing; the first error otherwise (the temp file is gone by then).
    state: Result<TempWav, ArticleError>,
    /// Whether a unit was cancelled, so the article cannot finish.
    interrupted: bool,
    pending: BTreeMap<usize, Audio>,
    next: usize,
    received: usize,
    /// Where each unit's audio starts and ends in the article's timeline.
    unit_spans: Vec<(u64, u64)>,
    /// Each unit's word and sentence spans on the article's timeline.
    timings: Vec<UnitSpans>,
}

impl Sink {
    fn open(
        job: &ArticleJob,
        prepared: Arc<Prepared>,
        abandoned: Arc<AtomicBool>,
        engine: &EngineInfo,
    ) -> Result<Sink, ArticleError> {
        let wav_path = job.output(".wav");
        let tmp = temp_beside(&wav_path)?;
        let software = format!("aloud {}", env!("CARGO_PKG_VERSION"));
        let info = [
            (*b"INAM", prepared.article.title.as_str()),
            (*b"ISFT", software.as_str()),
            (*b"ICMT", job.name.as_str()),
        ];
        let wav = WavWriter::new(
            BufWriter::with_capacity(256 * 1024, tmp),
            engine.sample_rate,
            &info,
        )?;
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
            UnitResult::Audio(audio) => {
                done.released = 0;
                self.pending.insert(unit, audio);
                while let Some(audio) = self.pending.remove(&self.next) {
                    done.released += 1;
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
            wav.write_silence(ms_to_frames(settings.gap_ms, audio.sample_rate))?;
        }
        let start = wav.frames();
        wav.write_samples(&audio.samples)?;
        self.unit_spans[index] = (start, wav.frames());
        self.timings[index] = timing::unit_spans(audio).shifted(start);
        Ok(())
    }

    /// Writes the chapter chunks and sidecars and renames everything into place. `None` when
    /// the article was interrupted.
    fn finalize(
        self,
        job: &ArticleJob,
        engine: &EngineInfo,
        settings: &PipelineSettings,
    ) -> Option<Result<Converted, ArticleError>> {
        let wav = match self.state {
            Ok(_) if self.interrupted => return None,
            Ok(wav) => wav,
            Err(e) => return Some(Err(e)),
        };
        Some(write_outputs(
            job,
            &self.prepared,
            wav,
            (&self.unit_spans, &self.timings),
            engine,
            settings,
        ))
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

fn write_outputs(
    job: &ArticleJob,
    prepared: &Prepared,
    wav: TempWav,
    (unit_spans, timings): (&[(u64, u64)], &[UnitSpans]),
    engine: &EngineInfo,
    settings: &PipelineSettings,
) -> Result<Converted, ArticleError> {
    let (article, units) = (&prepared.article, &prepared.units[..]);
    let rate = engine.sample_rate;
    let total = wav.frames();
    let para_spans = paragraph_spans(article.paragraphs.len(), units, unit_spans);
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

    let wav_path = job.output(".wav");
    let vtt_path = job.output(".chapters.vtt");
    let html_path = job.output(".html");
    let json_path = job.output(".json");
    let captions_path = job.output(".captions.vtt");
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source: std::io::Error| ArticleError::Write { path, source }
    };

    let wav_tmp = wav
        .finish(&regions)?
        .into_inner()
        .map_err(|e| ArticleError::Write {
            path: wav_path.clone(),
            source: e.into_error(),
        })?;
    let wav_bytes = wav_tmp
        .as_file()
        .metadata()
        .map_err(write_err(&wav_path))?
        .len();
    let vtt_tmp = temp_with(&vtt_path, chapters::webvtt(&spans, rate).as_bytes())?;
    let manifest = build_manifest(
        job,
        prepared,
        (unit_spans, timings),
        &spans,
        &para_spans,
        total,
        engine,
        settings,
    );
    let audio = [AudioFile {
        name: manifest.files.wav.clone(),
        mime: html::WAV_MIME.into(),
        bytes: wav_bytes,
        duration_ms: crate::audio::frames_to_ms(total, rate),
    }];
    let html_tmp = temp_with(&html_path, html::article_page(&manifest, &audio).as_bytes())?;
    let captions_tmp = temp_with(&captions_path, captions::webvtt(&manifest).as_bytes())?;
    let mut json_tmp = temp_beside(&json_path)?;
    manifest
        .write_json(BufWriter::with_capacity(256 * 1024, json_tmp.as_file_mut()))
        .map_err(write_err(&json_path))?;

    // The manifest goes last: its presence says the other files are complete.
    let mut placed: Vec<&Path> = Vec::new();
    for (tmp, path) in [
        (wav_tmp, &wav_path),
        (vtt_tmp, &vtt_path),
        (captions_tmp, &captions_path),
        (html_tmp, &html_path),
        (json_tmp, &json_path),
    ] {
        if let Err(e) = tmp.persist(path) {
            for p in placed {
                let _ = std::fs::remove_file(p);
            }
            return Err(write_err(path)(e.error));
        }
        placed.push(path);
    }
    Ok(Converted {
        name: job.name.clone(),
        wav: wav_path,
        title: article.title.clone(),
        chapters: article.chapters.len(),
        paragraphs: article.paragraphs.len(),
        frames: total,
        sample_rate: rate,
    })
}

#[allow(clippy::too_many_arguments)]
fn build_manifest(
    job: &ArticleJob,
    prepared: &Prepared,
    (unit_spans, timings): (&[(u64, u64)], &[UnitSpans]),
    spans: &[ChapterSpan],
    para_spans: &[(u64, u64)],
    total: u64,
    engine: &EngineInfo,
    settings: &PipelineSettings,
) -> Manifest {
    let (article, units) = (&prepared.article, &prepared.units[..]);
    let rate = engine.sample_rate;
    let file_name = |suffix: &str| {
        job.output(suffix)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let chapter_of = |p: usize| {
        article
            .chapters
            .iter()
            .rposition(|c| c.first_paragraph <= p)
            .unwrap_or(0)
    };
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
            let parent = article.chapters[..i]
                .iter()
                .rposition(|p| p.level < c.level);
            ChapterRecord {
                index: i,
                title: s.title.clone(),
                start_frame: s.start,
                end_frame: s.end,
                start_seconds: manifest::seconds(s.start, rate),
                level: c.level,
                parent,
                paragraphs: [c.first_paragraph, next - 1],
            }
        })
        .collect();
    // The article's timings are as fine as its coarsest unit's.
    let precision = timings
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
            for (k, (u, &(start, end))) in units
                .iter()
                .zip(unit_spans)
                .enumerate()
                .filter(|(_, (u, _))| u.paragraph == i)
            {
                if !unit_records.is_empty() {
                    hash.update(b"\n");
                }
                hash.update(u.text.as_bytes());
                unit_records.push(UnitRecord {
                    index: k,
                    spoken: u.text.clone(),
                    start_frame: start,
                    end_frame: end,
                });
            }
            let (start, end) = para_spans[i];
            let (sentences, words) = paragraph_timings(&p.text, units, timings, i, precision);
            ParagraphRecord {
                index: i,
                chapter: chapter_of(i),
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
        generator: format!("aloud {}", env!("CARGO_PKG_VERSION")),
        source: job.name.clone(),
        input_sha256: prepared.input_sha256.clone(),
        settings_sha256: settings.fingerprint.clone(),
        title: article.title.clone(),
        author: article.author.clone(),
        date: article.date.clone(),
        engine: EngineRecord {
            name: engine.name.clone(),
            version: engine.version.clone(),
            settings: engine.settings.iter().cloned().collect(),
        },
        sample_rate: rate,
        channels: 1,
        gap_ms: settings.gap_ms,
        total_frames: total,
        timing: precision,
        duration_seconds: manifest::seconds(total, rate),
        files: Files {
            wav: file_name(".wav"),
            chapters_vtt: file_name(".chapters.vtt"),
            page: Some(file_name(".html")),
            captions_vtt: Some(file_name(".captions.vtt")),
        },
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

/// Paragraph `index`'s sentences and words, as fine as `precision` allows, mapped to its text
/// as written.
fn paragraph_timings(
    written: &str,
    units: &[Unit],
    timings: &[UnitSpans],
    index: usize,
    precision: Precision,
) -> (Vec<SentenceRecord>, Vec<WordRecord>) {
    let mut spoken_words: Vec<(&str, &timing::Span)> = Vec::new();
    let mut spoken_sentences: Vec<(&str, &timing::Span)> = Vec::new();
    for (u, t) in units
        .iter()
        .zip(timings)
        .filter(|(u, _)| u.paragraph == index)
    {
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
    // A sentence's written text: from its first written word (with any opening quote before
    // it) to the next sentence's, without the white space between.
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
    let mut sentences = Vec::with_capacity(spoken_sentences.len());
    let mut floor = 0;
    for (k, (spoken, s)) in spoken_sentences.iter().enumerate() {
        let text = starts[k].map(|a| {
            let mut a = a.max(floor);
            while let Some(c) = written[floor..a]
                .chars()
                .next_back()
                .filter(|c| !c.is_whitespace())
            {
                a -= c.len_utf8();
            }
            let b = starts[k + 1..]
                .iter()
                .flatten()
                .next()
                .copied()
                .unwrap_or(written.len())
                .max(a);
            let b = a + written[a..b].trim_end().len();
            floor = b;
            [a, b]
        });
        sentences.push(SentenceRecord {
            start_frame: s.start,
            end_frame: s.end,
            spoken: spoken.to_string(),
            text,
        });
    }
    match precision {
        Precision::Word => (sentences, words),
        Precision::Sentence => (sentences, Vec::new()),
        Precision::Paragraph => (Vec::new(), Vec::new()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    // Outputs are published as they are; the umask still applies to this mode.
    tempfile::Builder::new()
        .prefix(&format!(".{stem}."))
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(err)
}

fn temp_with(final_path: &Path, bytes: &[u8]) -> Result<NamedTempFile, ArticleError> {
    let mut tmp = temp_beside(final_path)?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.flush())
        .map_err(|source| ArticleError::Write {
            path: final_path.to_path_buf(),
            source,
        })?;
    Ok(tmp)
}
