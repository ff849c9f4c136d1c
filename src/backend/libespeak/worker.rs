//! The synthesis worker: `aloud` started by aloud itself in a hidden mode, one per `--jobs`.
//!
//! It loads libespeak-ng once, says [`Hello`], then answers [`Request`]s read from stdin with
//! [`Reply`]s on stdout until stdin ends. Each unit is spoken in a fresh forked copy of the
//! initialised worker (see `ffi::in_fresh_copy`): the copy writes the reply and exits, so no
//! unit inherits the library state another unit left behind, and a crash takes only the copy.
//! The worker then reports the crash on stderr and exits, and aloud starts another.
//!
//! - The protocol runs on a private duplicate of stdout; file descriptor 1 itself then points
//!   at stderr, so nothing the library prints can corrupt a reply.
//! - The worker dies with its parent (`PR_SET_PDEATHSIG`), and so does each copy with the
//!   worker, so no worker outlives an aloud killed with SIGKILL either. The signal comes when
//!   the *thread* that started the worker ends; the pool skips workers that died so.
//! - It must stay single-threaded (forking needs it): no Ctrl-C handler thread is installed in
//!   this mode (`main.rs`), and its parent kills its process group instead.
//!
//! Test aid: `ALOUD_TEST_WORKER_FAULT=MODE:WORD[:ONCE_FILE]` makes the copy speaking a unit
//! that contains WORD crash (`crash`, SIGABRT), hang (`hang`), exit without a reply (`exit`) or
//! send an unreadable reply (`garbage`); with ONCE_FILE, only the first time (the file is
//! created then). The fault tests of the conformance suite use it.

use super::ffi::{CopyEnded, Engine, LoadError};
use super::protocol::{self, Hello, Reply, Request};
use crate::process::{read_frame, write_frame};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufReader, Write};

/// Environment variable of the test aid described in the module docs.
pub const FAULT_ENV: &str = "ALOUD_TEST_WORKER_FAULT";

/// Runs the worker until its input ends. Returns the process exit code.
pub fn run(library: &OsStr) -> i32 {
    use nix::sys::signal::Signal;
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if nix::unistd::getppid() == nix::unistd::Pid::from_raw(1) {
        return 1; // the parent is already gone
    }
    let (input, mut output) = match protocol_pipes() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("aloud worker: cannot set up its pipes: {e}");
            return 1;
        }
    };
    let mut input = BufReader::new(input);
    let mut engine = match Engine::load(library) {
        Ok(engine) => engine,
        Err(e) => {
            let hello = match e {
                LoadError::Missing(why) => Hello::Unavailable(why),
                other => Hello::Failed(other.to_string()),
            };
            let _ = write_frame(&mut output, &hello.encode());
            return 0;
        }
    };
    let hello = Hello::Ready {
        version: engine.version().to_string(),
        sample_rate: engine.sample_rate(),
    };
    if write_frame(&mut output, &hello.encode()).is_err() {
        return 1;
    }
    let fault = Fault::from_env();
    let mut settings: Option<(String, u32, u32, u32)> = None;
    loop {
        let body = match read_frame(&mut input) {
            Ok(Some(body)) => body,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("aloud worker: cannot read a request: {e}");
                return 1;
            }
        };
        let request = match Request::decode(&body) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("aloud worker: unreadable request: {e}");
                return 1;
            }
        };
        if let Err(message) = configure(&mut engine, &mut settings, &request) {
            settings = None;
            if write_frame(&mut output, &Reply::Error(message).encode()).is_err() {
                return 1;
            }
            continue;
        }
        let spoken = engine.in_fresh_copy(|engine| {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            if let Some(code) = fault
                .as_ref()
                .and_then(|f| f.strike(&request.text, &mut output))
            {
                return code;
            }
            // Each engine buffer goes out as it comes, from the engine's own memory: the
            // unit's audio is never held whole, nor copied on the way to the pipe.
            let (mut failed, mut total) = (false, 0u64);
            let spoken = engine.synthesize(&request.text, &mut |samples| {
                total += samples.len() as u64;
                failed = failed || protocol::write_samples(&mut output, samples).is_err();
            });
            let reply = match spoken {
                Ok(events) => Reply::Done {
                    samples: total,
                    events,
                },
                Err(message) => Reply::Error(message),
            };
            match write_frame(&mut output, &reply.encode()) {
                Ok(()) if !failed => 0,
                _ => 1,
            }
        });
        match spoken {
            Ok(CopyEnded::Exited(0)) => {}
            Ok(CopyEnded::Exited(code)) => {
                eprintln!("aloud worker: the process speaking this unit exited with status {code}");
                return 70;
            }
            Ok(CopyEnded::Signaled(sig)) => {
                let name = nix::sys::signal::Signal::try_from(sig)
                    .map_or_else(|_| String::new(), |s| format!(" ({s})"));
                eprintln!(
                    "aloud worker: the process speaking this unit was killed by signal {sig}{name}"
                );
                return 70;
            }
            Err(e) => {
                eprintln!("aloud worker: {e}");
                return 1;
            }
        }
    }
}

/// Voice, rate, volume and pitch in the order espeak-ng's program sets them; only what changed.
fn configure(
    engine: &mut Engine,
    current: &mut Option<(String, u32, u32, u32)>,
    r: &Request,
) -> Result<(), String> {
    let wanted = (r.voice.clone(), r.rate, r.pitch, r.volume);
    if current.as_ref() == Some(&wanted) {
        return Ok(());
    }
    if current.as_ref().is_none_or(|c| c.0 != r.voice) {
        engine.set_voice(&r.voice)?;
    }
    engine.set_rate(r.rate)?;
    engine.set_volume(r.volume)?;
    engine.set_pitch(r.pitch)?;
    *current = Some(wanted);
    Ok(())
}

/// The protocol's ends: stdin, and a duplicate of stdout; stdout itself then goes to stderr.
fn protocol_pipes() -> nix::Result<(File, File)> {
    let stdin = std::io::stdin();
    let input = File::from(nix::unistd::dup(&stdin)?);
    let output = File::from(nix::unistd::dup(std::io::stdout())?);
    nix::unistd::dup2_stdout(std::io::stderr())?;
    Ok((input, output))
}

/// The test aid.
struct Fault {
    mode: String,
    word: String,
    once: Option<std::path::PathBuf>,
}

impl Fault {
    fn from_env() -> Option<Fault> {
        let spec = std::env::var(FAULT_ENV).ok()?;
        let mut parts = spec.splitn(3, ':');
        Some(Fault {
            mode: parts.next()?.to_string(),
            word: parts.next()?.to_string(),
            once: parts.next().map(Into::into),
        })
    }

    /// Misbehaves if `text` calls for it; `Some(exit code)` then.
    fn strike(&self, text: &str, output: &mut File) -> Option<i32> {
        if !text.contains(&self.word) {
            return None;
        }
        if let Some(once) = &self.once
            && std::fs::File::create_new(once).is_err()
        {
            return None;
        }
        eprintln!("aloud worker: test fault {} on {:?}", self.mode, self.word);
        match self.mode.as_str() {
            // SIGABRT, as a failed assertion in C would: Rust's own SIGSEGV handler would
            // swallow a raised SIGSEGV.
            "crash" => std::process::abort(),
            "hang" => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            "garbage" => {
                let _ = write_frame(output, b"not a reply");
                let _ = output.flush();
                Some(0)
            }
            _ => Some(3),
        }
    }
}
