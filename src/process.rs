//! The one place that spawns and supervises child processes.
//!
//! Every engine call goes through [`run`]:
//! - never through a shell: the program and its arguments are passed as an argv vector, and
//!   text is only ever given on stdin;
//! - each child leads its own process group, so a timeout or a cancel kills the engine *and*
//!   whatever it started (espeak-ng starts `mbrola` for mbrola voices);
//! - a deadline covers the whole call, stdin included; on expiry the group gets `SIGKILL`;
//! - stderr is drained concurrently (an engine that floods it never blocks) and kept bounded;
//! - after the child exits, its group is killed once more so no grandchild outlives the call.
//!
//! [`cancel_all`] is what the Ctrl-C/SIGTERM handler calls: a process-group leader does not get
//! the terminal's SIGINT, so the handler must kill the groups itself.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How much of a child's stderr (or stdout) is kept: this many bytes from the start and this
/// many from the end.
const KEEP_BYTES: usize = 8 * 1024;

static CANCELLED: AtomicBool = AtomicBool::new(false);
static RUNNING: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// One program run.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The program, looked up on `PATH` when it has no slash.
    pub program: &'a OsStr,
    /// Its arguments. Never article text.
    pub args: Vec<OsString>,
    /// Bytes for its stdin; `None` gives it `/dev/null`.
    pub stdin: Option<&'a [u8]>,
    /// Deadline for the whole call.
    pub timeout: Duration,
    /// Keep (bounded) stdout; otherwise it goes to `/dev/null`.
    pub capture_stdout: bool,
}

/// A child that ran to its end.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout, if captured (bounded).
    pub stdout: Vec<u8>,
    /// Its stderr, lossily decoded and bounded, trimmed.
    pub stderr: String,
}

/// Why a child did not run to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The program is not on `PATH` (or the path does not exist).
    #[error("{program} was not found")]
    NotFound {
        /// The program as given.
        program: String,
    },
    /// The program exists but could not be started.
    #[error("{program} could not be started: {source}")]
    Spawn {
        /// The program as given.
        program: String,
        /// Why.
        source: io::Error,
    },
    /// The deadline passed; the whole process group was killed.
    #[error("it did not finish within {after:?} and was killed")]
    TimedOut {
        /// The deadline.
        after: Duration,
        /// What it printed on stderr before that.
        stderr: String,
    },
    /// The run was cancelled (Ctrl-C or SIGTERM); the process group was killed.
    #[error("interrupted")]
    Cancelled,
}

/// Runs a program to completion under a deadline. See the module docs for the guarantees.
pub fn run(inv: &Invocation<'_>) -> Result<Finished, RunError> {
    if cancelled() {
        return Err(RunError::Cancelled);
    }
    let program = inv.program.to_string_lossy().into_owned();
    let mut cmd = Command::new(inv.program);
    cmd.args(&inv.args)
        .stdin(if inv.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(if inv.capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => RunError::NotFound {
            program: program.clone(),
        },
        _ => RunError::Spawn {
            program: program.clone(),
            source,
        },
    })?;
    let pgid = child.id() as i32;
    {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        running.insert(pgid);
        // cancel_all holds the same lock, so it either saw this group or set the flag first.
        if cancelled() {
            kill_group(pgid);
        }
    }

    let (done_tx, done_rx) = mpsc::channel::<()>();
    let timeout = inv.timeout;
    let watchdog = thread::spawn(move || match done_rx.recv_timeout(timeout) {
        Err(mpsc::RecvTimeoutError::Timeout) => {
            kill_group(pgid);
            true
        }
        _ => false,
    });
    let stderr_reader = child
        .stderr
        .take()
        .map(|s| thread::spawn(move || read_bounded(s)));
    let stdout_reader = child
        .stdout
        .take()
        .map(|s| thread::spawn(move || read_bounded(s)));

    if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), inv.stdin) {
        // A child that exits without reading gives EPIPE; a child that never reads is
        // caught by the watchdog, which kills it and so unblocks this write.
        let _ = pipe.write_all(bytes);
    }
    let waited = child.wait();
    let _ = done_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    // Whatever the engine left running in its group goes too.
    kill_group(pgid);
    RUNNING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&pgid);
    let stderr = stderr_reader
        .and_then(|h| h.join().ok())
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let stdout = stdout_reader
        .and_then(|h| h.join().ok())
        .unwrap_or_default();

    if timed_out {
        return Err(RunError::TimedOut {
            after: timeout,
            stderr,
        });
    }
    if cancelled() {
        return Err(RunError::Cancelled);
    }
    let status = waited.map_err(|source| RunError::Spawn { program, source })?;
    Ok(Finished {
        status,
        stdout,
        stderr,
    })
}

/// A long-running child (a TTS server) that lives for the run: it leads its own process
/// group, is killed with that group by [`cancel_all`], and is killed and reaped when dropped,
/// so no server outlives `aloud`.
pub struct Service {
    child: std::process::Child,
    pgid: i32,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
}

impl Service {
    /// Starts `program args...` with stdin and stdout closed and stderr kept (bounded).
    pub fn spawn(program: &OsStr, args: &[OsString]) -> Result<Service, RunError> {
        if cancelled() {
            return Err(RunError::Cancelled);
        }
        let name = program.to_string_lossy().into_owned();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => RunError::NotFound {
                    program: name.clone(),
                },
                _ => RunError::Spawn {
                    program: name.clone(),
                    source,
                },
            })?;
        let pgid = child.id() as i32;
        {
            let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
            running.insert(pgid);
            if cancelled() {
                kill_group(pgid);
            }
        }
        let stderr = child
            .stderr
            .take()
            .map(|s| thread::spawn(move || read_bounded(s)));
        Ok(Service {
            child,
            pgid,
            stderr,
        })
    }

    /// `Some(status)` once the child has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the service (its whole group) and returns what it printed on stderr.
    pub fn stop(mut self) -> String {
        self.shutdown()
    }

    fn shutdown(&mut self) -> String {
        kill_group(self.pgid);
        let _ = self.child.wait();
        RUNNING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.pgid);
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Marks the run as cancelled and kills every running child's process group. Safe to call
/// from a signal-handling thread, and more than once.
pub fn cancel_all() {
    let running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    CANCELLED.store(true, Ordering::SeqCst);
    for &pgid in running.iter() {
        kill_group(pgid);
    }
}

/// Whether [`cancel_all`] has been called.
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// Describes an exit status for an error message: "exit status 3" or "killed by signal 11".
pub fn describe_status(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by signal {sig} ({s})"),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => status.to_string(),
    }
}

fn kill_group(pgid: i32) {
    // ESRCH (the group is already gone) is the normal case after a clean exit.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
}

/// Drains a pipe to its end, keeping the first and last [`KEEP_BYTES`] bytes.
fn read_bounded(mut r: impl Read) -> Vec<u8> {
    let mut head = Vec::new();
    let mut tail: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
    let mut dropped = 0u64;
    let mut buf = [0u8; 8192];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut chunk = &buf[..n];
        if head.len() < KEEP_BYTES {
            let take = chunk.len().min(KEEP_BYTES - head.len());
            head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        tail.extend(chunk);
        while tail.len() > KEEP_BYTES {
            tail.pop_front();
            dropped += 1;
        }
    }
    if dropped > 0 {
        head.extend_from_slice(format!("\n[... {dropped} bytes omitted ...]\n").as_bytes());
    }
    head.extend(tail);
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str, stdin: Option<&[u8]>, timeout_ms: u64) -> Result<Finished, RunError> {
        // The tests use /bin/sh as a stand-in engine; production code never does.
        run(&Invocation {
            program: OsStr::new("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            stdin,
            timeout: Duration::from_millis(timeout_ms),
            capture_stdout: true,
        })
    }

    #[test]
    fn a_service_and_its_children_die_with_its_handle() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        let script = format!(
            "sleep 30 & echo $! > '{}'; echo started >&2; wait",
            pidfile.display()
        );
        let mut svc = Service::spawn(OsStr::new("/bin/sh"), &["-c".into(), script.into()]).unwrap();
        for _ in 0..100 {
            if pidfile.exists() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        assert!(svc.exited().is_none());
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(svc.stop(), "started");
        assert_gone(pid);
    }

    #[test]
    fn stdin_reaches_the_child_and_stdout_comes_back() {
        let f = sh("cat", Some(b"-v --help $(rm -rf /)"), 5000).unwrap();
        assert!(f.status.success());
        assert_eq!(f.stdout, b"-v --help $(rm -rf /)");
    }

    #[test]
    fn stderr_and_status_are_reported() {
        let f = sh("echo oops >&2; exit 3", None, 5000).unwrap();
        assert_eq!(f.status.code(), Some(3));
        assert_eq!(f.stderr, "oops");
        assert_eq!(describe_status(&f.status), "exit status 3");
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let err = run(&Invocation {
            program: OsStr::new("aloud-no-such-program-xyz"),
            args: vec![],
            stdin: None,
            timeout: Duration::from_secs(5),
            capture_stdout: false,
        })
        .unwrap_err();
        assert!(matches!(err, RunError::NotFound { .. }), "{err:?}");
    }

    #[test]
    fn a_hang_is_killed_with_its_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > '{}'; wait", pidfile.display());
        let started = Instant::now();
        let err = sh(&script, None, 300).unwrap_err();
        assert!(matches!(err, RunError::TimedOut { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_gone(pid);
    }

    #[test]
    fn a_grandchild_left_behind_after_exit_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        // The grandchild keeps no pipe open, so the call can return while it lives on.
        let script = format!(
            "sleep 30 </dev/null >/dev/null 2>&1 & echo $! > '{}'; exit 0",
            pidfile.display()
        );
        let f = sh(&script, None, 5000).unwrap();
        assert!(f.status.success());
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_gone(pid);
    }

    #[test]
    fn a_child_that_never_reads_a_large_stdin_times_out_instead_of_blocking() {
        let big = vec![b'x'; 4 * 1024 * 1024];
        let err = sh("sleep 30", Some(&big), 300).unwrap_err();
        assert!(matches!(err, RunError::TimedOut { .. }), "{err:?}");
    }

    #[test]
    fn a_stderr_flood_is_drained_and_bounded() {
        let f = sh(
            "head -c 3000000 /dev/zero | tr '\\0' e >&2; echo end >&2",
            None,
            20000,
        )
        .unwrap();
        assert!(f.status.success());
        assert!(f.stderr.len() < 3 * KEEP_BYTES);
        assert!(f.stderr.contains("bytes omitted"));
        assert!(f.stderr.ends_with("end"));
    }

    fn assert_gone(pid: i32) {
        // A killed process may take a moment to be reaped by init; it must not stay alive.
        for _ in 0..100 {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie_or_gone = state.is_empty() || state.split(' ').nth(2) == Some("Z");
            if zombie_or_gone {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("process {pid} is still running");
    }
}
