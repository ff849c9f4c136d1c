//! Speech synthesis backends: one small object-safe trait, one file per engine.
//!
//! Every backend turns one unit of text into [`Audio`]. The pipeline above only ever sees
//! `&dyn Synthesizer`, so a backend is chosen at run time and the mock backend can stand in for
//! any engine in tests. Every backend reports failures as the one [`SynthError`] enum, which
//! names the engine; the conformance suite in `tests/it/conformance.rs` holds each backend to
//! the same contract.

pub mod command;
pub mod espeak;
pub mod http;
pub mod libespeak;
pub mod mock;

use crate::audio::Audio;
use crate::audio::read::{ReadError, read_wav_file};
use crate::process::{self, RunError, stderr_suffix};
use std::path::Path;
use std::time::Duration;

/// One unit of text to speak.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The text, exactly as it should be spoken. Backends must never interpret it as options,
    /// markup or shell syntax.
    pub text: &'a str,
}

/// What a backend reports about itself once it has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    /// The backend's name, e.g. `espeak-ng`.
    pub name: String,
    /// The engine's own version string, e.g. `1.51`.
    pub version: String,
    /// The rate every unit comes back at.
    pub sample_rate: u32,
    /// Settings that shape the sound, for the manifest (name, value), in a fixed order.
    pub settings: Vec<(String, String)>,
    /// The language the voice speaks, as a BCP 47 tag, when the engine's voice says it.
    pub language: Option<String>,
}

/// A speech synthesizer. Implementations must be usable from many threads at once.
pub trait Synthesizer: Send + Sync {
    /// Short name, used in every message, e.g. `espeak-ng`.
    fn name(&self) -> &str;

    /// Cheap start-up check, run once before any work: is the engine there, does it accept
    /// the voice, what does it produce?
    fn check(&self) -> Result<EngineInfo, SynthError>;

    /// Speaks one unit of text.
    fn synthesize(&self, request: &Request<'_>) -> Result<Audio, SynthError>;

    /// Lets go of what the backend keeps between calls (worker processes): the pipeline
    /// calls it once nothing is left to speak, so they do not sit idle while the last
    /// article's files are written. A later call starts what it needs again.
    fn release(&self) {}
}

/// Everything that can go wrong in a backend. Every variant names the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// The engine's program is not installed.
    #[error("{program} was not found on PATH: {hint}")]
    NotFound {
        /// The engine.
        engine: String,
        /// The program looked for.
        program: String,
        /// What to do about it.
        hint: String,
    },
    /// The engine ran and reported failure.
    #[error("{engine} failed ({status}){}", stderr_suffix(.stderr))]
    Failed {
        /// The engine.
        engine: String,
        /// Exit status in words.
        status: String,
        /// What the engine printed on stderr.
        stderr: String,
    },
    /// The engine did not finish in time and was killed.
    #[error("{engine} did not finish within {} s and was killed (raise --timeout if the engine is just slow){}", .after.as_secs_f64(), stderr_suffix(.stderr))]
    TimedOut {
        /// The engine.
        engine: String,
        /// The deadline.
        after: Duration,
        /// What the engine printed on stderr before that.
        stderr: String,
    },
    /// The engine claimed success but its audio is missing, empty or unreadable.
    #[error("{engine} exited successfully but {problem}{}", stderr_suffix(.stderr))]
    BadAudio {
        /// The engine.
        engine: String,
        /// What is wrong with the output.
        problem: ReadError,
        /// What the engine printed on stderr.
        stderr: String,
    },
    /// The engine could not be started or its files could not be handled.
    #[error("{engine}: {message}")]
    Io {
        /// The engine.
        engine: String,
        /// What failed.
        message: String,
    },
    /// The audio failed the checks every unit must pass (see `audio::check`).
    #[error("{engine} returned audio that fails the checks: {problem}")]
    Rejected {
        /// The engine.
        engine: String,
        /// What is wrong.
        problem: String,
    },
    /// Every attempt failed; this is the last failure.
    #[error("{last} (gave up after {attempts} attempts)")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        last: Box<SynthError>,
    },
    /// The run was interrupted.
    #[error("interrupted")]
    Cancelled,
}

impl SynthError {
    /// Maps a process-supervision error for `engine`; `hint` says how to install its program.
    pub(crate) fn from_run(engine: &str, hint: &str, err: RunError) -> SynthError {
        match err {
            RunError::NotFound { program } => SynthError::NotFound {
                engine: engine.to_string(),
                program,
                hint: hint.to_string(),
            },
            RunError::TimedOut { after, stderr } => SynthError::TimedOut {
                engine: engine.to_string(),
                after,
                stderr,
            },
            RunError::Cancelled => SynthError::Cancelled,
            other => SynthError::Io {
                engine: engine.to_string(),
                message: other.to_string(),
            },
        }
    }

    /// An engine that exited non-zero.
    pub(crate) fn failed(engine: &str, finished: &process::Finished) -> SynthError {
        SynthError::Failed {
            engine: engine.to_string(),
            status: process::describe_status(&finished.status),
            stderr: finished.stderr.clone(),
        }
    }

    /// Maps why an engine's audio is unusable, with what the engine printed on stderr.
    pub(crate) fn bad_audio(engine: &str, stderr: String) -> impl FnOnce(ReadError) -> SynthError {
        move |problem| SynthError::BadAudio {
            engine: engine.to_string(),
            problem,
            stderr,
        }
    }

    fn io(engine: &str, message: String) -> SynthError {
        SynthError::Io {
            engine: engine.to_string(),
            message,
        }
    }
}

/// Creates a backend's private scratch folder (`PREFIX…` in the system's temporary folder),
/// removed when dropped.
pub(crate) fn scratch(engine: &str, prefix: &str) -> Result<tempfile::TempDir, SynthError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| SynthError::io(engine, format!("could not create a temporary folder: {e}")))
}

/// Creates a private `unit-*SUFFIX` file in `dir` for one unit (`.wav` for the engine's
/// output, say), removed when dropped.
pub(crate) fn unit_file(
    engine: &str,
    dir: &Path,
    suffix: &str,
) -> Result<tempfile::NamedTempFile, SynthError> {
    tempfile::Builder::new()
        .prefix("unit-")
        .suffix(suffix)
        .tempfile_in(dir)
        .map_err(|e| SynthError::io(engine, format!("could not create a temporary file: {e}")))
}

/// The audio an engine wrote to `out`, once it has `finished`: a non-zero exit is a failure,
/// and exit status 0 proves nothing, so the file must exist, parse and hold a frame.
pub(crate) fn finish_wav(
    engine: &str,
    finished: process::Finished,
    out: &Path,
) -> Result<Audio, SynthError> {
    if !finished.status.success() {
        return Err(SynthError::failed(engine, &finished));
    }
    read_wav_file(out).map_err(SynthError::bad_audio(engine, finished.stderr))
}

/// Where a voice model's path comes from (for `{model}` in a command or server template).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModelSource {
    /// No model.
    #[default]
    None,
    /// This path.
    Path(String),
    /// The first line this command prints (e.g. a Python package that knows where its model is).
    Command(command::CommandTemplate),
}

impl ModelSource {
    /// The model path (empty for [`ModelSource::None`]), running the command if there is one.
    pub(crate) fn resolve(&self, engine: &str, timeout: Duration) -> Result<String, SynthError> {
        match self {
            ModelSource::None => Ok(String::new()),
            ModelSource::Path(p) => Ok(p.clone()),
            ModelSource::Command(cmd) => {
                let finished = run_helper(
                    cmd,
                    engine,
                    "install the voice model, or set `model` in the profile",
                    timeout,
                )?;
                let path = String::from_utf8_lossy(&finished.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                if !finished.status.success() || path.is_empty() {
                    return Err(SynthError::Failed {
                        engine: engine.to_string(),
                        status: format!(
                            "finding the voice model with `{}` failed ({})",
                            cmd.source,
                            process::describe_status(&finished.status)
                        ),
                        stderr: finished.stderr,
                    });
                }
                Ok(path)
            }
        }
    }
}

/// Runs a helper command of an engine's (no placeholders, nothing on stdin) and keeps its
/// stdout; `fix` says what to do when it cannot run.
fn run_helper(
    cmd: &command::CommandTemplate,
    engine: &str,
    fix: &str,
    timeout: Duration,
) -> Result<process::Finished, SynthError> {
    process::run(&process::Invocation {
        program: cmd.program().as_ref(),
        args: cmd.args(&|_| std::ffi::OsString::new()),
        stdin: None,
        timeout,
        capture_stdout: true,
    })
    .map_err(|e| SynthError::from_run(engine, fix, e))
}

/// Runs an engine's version command and picks its version line: the first that mentions
/// "version", else the first non-empty one; "unknown" without a command.
pub(crate) fn engine_version(
    cmd: Option<&command::CommandTemplate>,
    engine: &str,
    timeout: Duration,
) -> Result<String, SynthError> {
    let Some(cmd) = cmd else {
        return Ok("unknown".into());
    };
    let finished = run_helper(
        cmd,
        engine,
        &format!("install {engine}, or fix `version_command`"),
        timeout,
    )?;
    let out = String::from_utf8_lossy(&finished.stdout).into_owned() + "\n" + &finished.stderr;
    let lines: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    Ok(lines
        .iter()
        .find(|l| l.to_lowercase().contains("version"))
        .or(lines.first())
        .map_or("unknown".into(), |l| l.to_string()))
}

/// Creates the backend a configuration asks for; call [`Synthesizer::check`] before use.
/// Synthesizes nothing, but may start things: libespeak-ng's first worker (when it cannot load
/// the library, this prints one warning and gives the `espeak-ng` program backend instead), a
/// command's or a managed server's model command, and a managed HTTP server.
pub fn build(config: &crate::config::BackendConfig) -> Result<Box<dyn Synthesizer>, SynthError> {
    use crate::config::BackendConfig;
    Ok(match config {
        BackendConfig::Espeak(s) => Box::new(espeak::EspeakNg::new(s.clone())?),
        BackendConfig::LibEspeak(s) => match libespeak::LibEspeak::start(s.clone()) {
            Ok(engine) => Box::new(engine),
            Err(libespeak::StartError::Unavailable(why)) => {
                crate::report::warning(format_args!(
                    "libespeak-ng is not available ({why}); speaking with the espeak-ng program \
                     instead, one process per paragraph: slower, and no word timings. Install \
                     libespeak-ng1 for the library engine, or pass --backend espeak-ng-process \
                     to choose the program and silence this warning"
                ));
                Box::new(espeak::EspeakNg::new(s.espeak.clone())?)
            }
            Err(libespeak::StartError::Failed(e)) => return Err(e),
        },
        BackendConfig::Mock(s) => Box::new(mock::Mock::new(s.clone())),
        BackendConfig::Command(s) => Box::new(command::CommandBackend::new(s.clone())?),
        BackendConfig::Http(s) => Box::new(http::Http::new(s.clone())?),
    })
}
