//! The libespeak-ng backend: espeak-ng's library, kept alive in a pool of worker processes.
//!
//! Starting the `espeak-ng` program costs about as much as speaking a paragraph (it scans its
//! ~425 voice files), and the program keeps to itself the word and sentence events the library
//! reports. This backend loads the library once per worker and reports those events as timing
//! [`Mark`]s. The library keeps global state, so each worker is a separate process: `aloud`
//! itself in a hidden mode ([`worker`]), started through `process::Worker`, fed one unit at a
//! time over pipes ([`protocol`]). All `unsafe` code is in [`ffi`].
//!
//! The pool grows to as many workers as there are concurrent calls (the pipeline makes
//! `--jobs` of them) and no further. A worker that crashes, hangs past `--timeout`, or breaks
//! the protocol is killed with its process group and dropped; the failure is reported like
//! any engine failure (the pipeline retries the unit, `--retries`), and the next call starts
//! a new worker. Dropping the backend kills and reaps every worker; so does `release`, which
//! the pipeline calls once nothing is left to speak.
//!
//! Audio: each unit is spoken by a fresh copy of an initialised worker with the program's own
//! flags, so it is sample for sample what
//! `espeak-ng -v VOICE -s RATE -p PITCH -a VOLUME -b 1 --stdin -w` writes for the same text
//! (the conformance tests check it).

pub mod ffi;
pub mod protocol;
pub mod worker;

use super::espeak::EspeakSettings;
use super::{EngineInfo, Request, SynthError, Synthesizer};
use crate::audio::read::ReadError;
use crate::audio::{Audio, Mark, MarkKind};
use crate::process::{RunError, Worker, WorkerError};
use ffi::{Event, EventKind};
use protocol::{Hello, Reply};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::Mutex;

/// The backend's name in messages and manifests.
pub const NAME: &str = "libespeak-ng";
/// The library opened when no other is named: Debian's `libespeak-ng1`.
pub const DEFAULT_LIBRARY: &str = "libespeak-ng.so.1";
/// Environment variable naming another library file to open.
pub const LIBRARY_ENV: &str = "ALOUD_LIBESPEAK_NG";
/// The hidden subcommand that runs a worker: `aloud libespeak-worker LIBRARY`.
pub const WORKER_COMMAND: &str = "libespeak-worker";

/// Settings for [`LibEspeak`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibEspeakSettings {
    /// Voice, rate, pitch and deadline; also what the `espeak-ng` program is given when the
    /// library cannot be loaded.
    pub espeak: EspeakSettings,
    /// The `aloud` executable to start workers from.
    pub worker: PathBuf,
    /// The library to open (a name for the dynamic loader, or a path).
    pub library: OsString,
}

/// Why [`LibEspeak::start`] did not give a backend.
#[derive(Debug)]
pub enum StartError {
    /// The library is not installed here; the `espeak-ng` program may be.
    Unavailable(String),
    /// Something else failed.
    Failed(SynthError),
}

/// libespeak-ng in a pool of worker processes.
pub struct LibEspeak {
    settings: LibEspeakSettings,
    version: String,
    sample_rate: u32,
    idle: Mutex<Vec<Worker>>,
}

impl LibEspeak {
    /// Starts the first worker, which loads the library. [`StartError::Unavailable`] when the
    /// library is missing.
    pub fn start(settings: LibEspeakSettings) -> Result<LibEspeak, StartError> {
        let (worker, hello) = spawn(&settings).map_err(StartError::Failed)?;
        match hello {
            Hello::Ready {
                version,
                sample_rate,
            } => Ok(LibEspeak {
                settings,
                version,
                sample_rate,
                idle: Mutex::new(vec![worker]),
            }),
            Hello::Unavailable(why) => Err(StartError::Unavailable(why)),
            Hello::Failed(why) => Err(StartError::Failed(SynthError::Failed {
                engine: NAME.into(),
                status: "could not start".into(),
                stderr: why,
            })),
        }
    }

    /// Workers now idle in the pool (for tests).
    pub fn idle_workers(&self) -> Vec<u32> {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(Worker::pid)
            .collect()
    }

    /// An idle worker, or a new one. An idle worker may have died since it was given back:
    /// a worker dies with the thread that started it (`PR_SET_PDEATHSIG` follows the thread,
    /// not the process), so a pool thread that ended took its workers with it. Those are
    /// reaped and skipped here.
    fn take_worker(&self) -> Result<Worker, SynthError> {
        loop {
            let popped = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut w) = popped else { break };
            if w.exited().is_none() {
                return Ok(w);
            }
        }
        match spawn(&self.settings)? {
            (w, Hello::Ready { .. }) => Ok(w),
            (_, Hello::Unavailable(why) | Hello::Failed(why)) => Err(SynthError::Failed {
                engine: NAME.into(),
                status: "a new worker could not start".into(),
                stderr: why,
            }),
        }
    }

    fn give_back(&self, worker: Worker) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(worker);
    }
}

/// Starts a worker and reads its greeting.
fn spawn(settings: &LibEspeakSettings) -> Result<(Worker, Hello), SynthError> {
    let args: [OsString; 2] = [WORKER_COMMAND.into(), settings.library.clone()];
    let mut worker = Worker::start(settings.worker.as_os_str(), &args).map_err(from_worker)?;
    let body = worker
        .receive(settings.espeak.timeout)
        .map_err(from_worker)?;
    let hello = Hello::decode(&body).map_err(|e| SynthError::Io {
        engine: NAME.into(),
        message: format!("its worker greeted with something unreadable: {e}"),
    })?;
    Ok((worker, hello))
}

fn from_worker(e: WorkerError) -> SynthError {
    let engine = NAME.to_string();
    match e {
        WorkerError::Start(RunError::NotFound { program }) => SynthError::NotFound {
            engine,
            program,
            hint: "aloud could not find its own executable to start a worker".into(),
        },
        WorkerError::Start(RunError::Cancelled) | WorkerError::Cancelled => SynthError::Cancelled,
        WorkerError::TimedOut { after, stderr } => SynthError::TimedOut {
            engine,
            after,
            stderr,
        },
        WorkerError::Died { status, stderr } => SynthError::Failed {
            engine,
            status: format!("its worker {status}"),
            stderr,
        },
        other => SynthError::Io {
            engine,
            message: format!("its worker: {other}"),
        },
    }
}

impl Synthesizer for LibEspeak {
    fn name(&self) -> &str {
        NAME
    }

    fn check(&self) -> Result<EngineInfo, SynthError> {
        // One short word proves the voice exists.
        self.synthesize(&Request { text: "test" })?;
        Ok(EngineInfo {
            name: NAME.into(),
            version: self.version.clone(),
            sample_rate: self.sample_rate,
            settings: self.settings.espeak.manifest_settings(),
            language: self.settings.espeak.language(),
        })
    }

    fn synthesize(&self, request: &Request<'_>) -> Result<Audio, SynthError> {
        let s = &self.settings.espeak;
        let body = protocol::Request {
            voice: s.voice.clone(),
            rate: s.rate,
            pitch: s.pitch,
            volume: s.volume,
            text: request.text.to_string(),
        }
        .encode();
        let mut worker = self.take_worker()?;
        // On any failure the worker is dropped, which kills it; the next call starts another.
        let deadline = std::time::Instant::now() + s.timeout;
        worker
            .send(&body, deadline, s.timeout)
            .map_err(from_worker)?;
        let unreadable = |e: String| SynthError::Io {
            engine: NAME.into(),
            message: format!("its worker sent an unreadable reply: {e}"),
        };
        // About 1,300 samples per character at 175 words per minute: room for most units.
        let mut samples: Vec<i16> = Vec::with_capacity(request.text.len() * 1500);
        let mut head = Vec::new();
        let (total, events) = loop {
            let rest = worker
                .receive_head(&mut head, protocol::SAMPLES_HEAD, deadline, s.timeout)
                .map_err(from_worker)?;
            // Samples, nearly all of a reply, go straight from the pipe into `samples`.
            if let Some(n) = Reply::samples_head(&head, rest).map_err(unreadable)? {
                crate::audio::read_le_samples(&mut samples, n, |bytes| {
                    worker.receive_rest(bytes, deadline, s.timeout)
                })
                .map_err(from_worker)?;
                continue;
            }
            let at = head.len();
            head.resize(at + rest, 0);
            worker
                .receive_rest(&mut head[at..], deadline, s.timeout)
                .map_err(from_worker)?;
            match Reply::decode(&head).map_err(unreadable)? {
                Reply::Samples(more) => samples.extend(more),
                Reply::Done { samples, events } => break (samples, events),
                Reply::Error(message) => {
                    self.give_back(worker);
                    return Err(SynthError::Failed {
                        engine: NAME.into(),
                        status: "the engine refused".into(),
                        stderr: message,
                    });
                }
            }
        };
        if total != samples.len() as u64 {
            return Err(unreadable(format!(
                "it announced {total} samples and sent {}",
                samples.len()
            )));
        }
        self.give_back(worker);
        if samples.is_empty() {
            return Err(SynthError::BadAudio {
                engine: NAME.into(),
                problem: ReadError::Empty,
                stderr: String::new(),
            });
        }
        let marks = marks_from_events(request.text, samples.len() as u64, &events);
        Ok(Audio {
            sample_rate: self.sample_rate,
            samples,
            marks,
        })
    }

    /// Ends the idle workers (each is killed with its group and reaped).
    fn release(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        drop(idle);
    }
}

/// Turns the engine's events into [`Mark`]s on `text` (the unit's text, as given).
///
/// - Positions are 1-based counts of characters (Unicode scalar values); they become byte
///   ranges of `text`. A word's range is its `length` characters, or, where the engine reports
///   no length (it does so for a word right after an opening quote), the run of characters up
///   to the next white space, without trailing punctuation. A sentence runs to the next
///   sentence's start, or to the end of the text, without surrounding white space.
/// - A mark's frame is the engine's own sample position of the event (`espeak_EVENT.sample`),
///   which always lies within the callback buffer that carried it; it is clamped into that
///   buffer and into the audio in case an engine ever disagrees.
/// - Events outside the text are dropped. End events are not marks (word ends come from the
///   audio, see `crate::timing`).
pub fn marks_from_events(text: &str, frames: u64, events: &[Event]) -> Vec<Mark> {
    // Byte offset of every character, plus the end.
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let chars = offsets.len() - 1;
    let frame_of = |e: &Event| {
        let (lo, hi) = (e.buffer.0.min(e.buffer.1), e.buffer.1.max(e.buffer.0));
        e.sample.clamp(lo, hi).min(frames)
    };
    let mut marks: Vec<Mark> = Vec::new();
    let sentence_starts: Vec<usize> = events
        .iter()
        .filter(|e| e.kind == EventKind::Sentence)
        .filter_map(|e| char_start(e.text_position, chars))
        .collect();
    for e in events {
        let Some(first) = char_start(e.text_position, chars) else {
            continue;
        };
        let start = offsets[first];
        let range = match e.kind {
            EventKind::End => continue,
            EventKind::Word => {
                let end = if e.length > 0 {
                    offsets[(first + e.length as usize).min(chars)]
                } else {
                    let rest = &text[start..];
                    let run = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    start
                        + rest[..run]
                            .trim_end_matches(|c: char| !c.is_alphanumeric())
                            .len()
                };
                if end <= start {
                    continue;
                }
                start..end
            }
            EventKind::Sentence => {
                let end = sentence_starts
                    .iter()
                    .map(|&c| offsets[c])
                    .find(|&b| b > start)
                    .unwrap_or(text.len());
                let s = &text[start..end];
                let lead = s.len() - s.trim_start().len();
                let trimmed = s.trim();
                if trimmed.is_empty() {
                    continue;
                }
                start + lead..start + lead + trimmed.len()
            }
        };
        let kind = match e.kind {
            EventKind::Word => MarkKind::Word,
            _ => MarkKind::Sentence,
        };
        let frame = frame_of(e).max(marks.last().map_or(0, |m| m.frame));
        marks.push(Mark {
            kind,
            frame,
            text: range,
        });
    }
    marks
}

/// The 0-based character index of a 1-based engine position, if it is inside the text.
fn char_start(position: u32, chars: usize) -> Option<usize> {
    let p = position as usize;
    (1..=chars).contains(&p).then(|| p - 1)
}

/// The library file to open: `$ALOUD_LIBESPEAK_NG`, else [`DEFAULT_LIBRARY`].
pub fn library_from_env() -> OsString {
    std::env::var_os(LIBRARY_ENV)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| OsStr::new(DEFAULT_LIBRARY).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, pos: u32, len: u32, sample: u64) -> Event {
        Event {
            kind,
            text_position: pos,
            length: len,
            sample,
            buffer: (0, 1_000_000),
        }
    }

    fn texts<'a>(text: &'a str, marks: &[Mark]) -> Vec<(MarkKind, u64, &'a str)> {
        marks
            .iter()
            .map(|m| (m.kind, m.frame, &text[m.text.clone()]))
            .collect()
    }

    #[test]
    fn events_become_byte_ranges_of_the_text() {
        // What espeak-ng 1.51 reports for this text (positions in characters).
        let text = "Café naïve — \"quoted\" 日本語 end.";
        let events = [
            ev(EventKind::Sentence, 1, 0, 0),
            ev(EventKind::Word, 1, 4, 0),
            ev(EventKind::Word, 6, 5, 8409),
            ev(EventKind::End, 13, 0, 23632),
            ev(EventKind::Word, 15, 0, 26056),
            ev(EventKind::Word, 23, 3, 36601),
            ev(EventKind::Word, 27, 3, 78852),
            ev(EventKind::End, 30, 0, 93666),
        ];
        let marks = marks_from_events(text, 93666, &events);
        use MarkKind::*;
        assert_eq!(
            texts(text, &marks),
            [
                (Sentence, 0, "Café naïve — \"quoted\" 日本語 end."),
                (Word, 0, "Café"),
                (Word, 8409, "naïve"),
                (Word, 26056, "quoted"),
                (Word, 36601, "日本語"),
                (Word, 78852, "end"),
            ]
        );
    }

    #[test]
    fn sentences_run_to_the_next_one_and_positions_outside_the_text_are_dropped() {
        let text = "One two.  Three four.";
        let events = [
            ev(EventKind::Sentence, 1, 0, 0),
            ev(EventKind::Word, 1, 3, 0),
            ev(EventKind::Sentence, 11, 0, 500),
            ev(EventKind::Word, 11, 5, 500),
            ev(EventKind::Word, 0, 3, 600),
            ev(EventKind::Word, 99, 3, 700),
        ];
        let marks = marks_from_events(text, 1000, &events);
        use MarkKind::*;
        assert_eq!(
            texts(text, &marks),
            [
                (Sentence, 0, "One two."),
                (Word, 0, "One"),
                (Sentence, 500, "Three four."),
                (Word, 500, "Three"),
            ]
        );
    }

    #[test]
    fn frames_stay_inside_their_buffer_the_audio_and_in_order() {
        let text = "a b c";
        let mut e = ev(EventKind::Word, 3, 1, 5000);
        e.buffer = (100, 200);
        let late = ev(EventKind::Word, 5, 1, 90);
        let marks = marks_from_events(text, 150, &[ev(EventKind::Word, 1, 1, 0), e, late]);
        let frames: Vec<u64> = marks.iter().map(|m| m.frame).collect();
        assert_eq!(frames, [0, 150, 150]);
    }
}
