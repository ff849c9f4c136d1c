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
//! Long-lived children (synthesis workers) go through [`Worker`], with the same guarantees: an
//! argv vector, their own process group, registration for [`cancel_all`], bounded stderr, a
//! deadline on every request (past it the group is killed), and kill-and-reap on drop, so no
//! worker outlives the run. They talk in frames ([`write_frame`], [`read_frame`]): a 4-byte
//! little-endian length, then that many bytes.
//!
//! [`cancel_all`] is what the Ctrl-C/SIGTERM handler calls: a process-group leader does not get
//! the terminal's SIGINT, so the handler must kill the groups itself.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

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
    let program = inv.program.to_string_lossy().into_owned();
    let (mut child, pgid) = spawn_in_group(
        inv.program,
        &inv.args,
        if inv.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        },
        if inv.capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        },
    )?;

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
    release_group(pgid);
    let stderr = join_text(stderr_reader);
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

/// Starts `program args...` as the leader of a new process group, with stderr piped, and
/// registers the group for [`cancel_all`]. The caller must end the group with
/// [`release_group`].
fn spawn_in_group(
    program: &OsStr,
    args: &[OsString],
    stdin: Stdio,
    stdout: Stdio,
) -> Result<(Child, i32), RunError> {
    if cancelled() {
        return Err(RunError::Cancelled);
    }
    let child = Command::new(program)
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| {
            let program = program.to_string_lossy().into_owned();
            match source.kind() {
                io::ErrorKind::NotFound => RunError::NotFound { program },
                _ => RunError::Spawn { program, source },
            }
        })?;
    let pgid = child.id() as i32;
    let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    running.insert(pgid);
    // cancel_all holds the same lock, so it either saw this group or set the flag first.
    if cancelled() {
        kill_group(pgid);
    }
    Ok((child, pgid))
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
        let (mut child, pgid) = spawn_in_group(program, args, Stdio::null(), Stdio::null())?;
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
        release_group(self.pgid);
        let _ = self.child.wait();
        join_text(self.stderr.take())
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

/// The largest frame a worker may send or be sent: 1 GiB (a unit of 100,000 characters is
/// about 240 MB of audio).
pub const MAX_FRAME: usize = 1 << 30;

/// Writes one frame: the body's length (4 bytes, little-endian), then the body.
pub fn write_frame(w: &mut impl Write, body: &[u8]) -> io::Result<()> {
    if body.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "frame too large",
        ));
    }
    w.write_all(&(body.len() as u32).to_le_bytes())?;
    w.write_all(body)?;
    w.flush()
}

/// Reads one frame; `None` at a clean end of input (before a frame starts).
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Why a request to a [`Worker`] got no answer. The worker is unusable afterwards: drop it
/// (which kills its group) and start another.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The worker could not be started (its program is not there, or would not start), or
    /// the run was cancelled before it started.
    #[error(transparent)]
    Start(#[from] RunError),
    /// No answer before the deadline; the worker's whole process group was killed.
    #[error("it did not answer within {after:?} and was killed")]
    TimedOut {
        /// The deadline.
        after: Duration,
        /// What it printed on stderr during the request.
        stderr: String,
    },
    /// The worker ended (crashed, or exited) instead of answering.
    #[error("it ended ({status}) without answering")]
    Died {
        /// How it ended, in words.
        status: String,
        /// What it printed on stderr during the request.
        stderr: String,
    },
    /// It answered something that is not a frame.
    #[error("it broke the protocol: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
        /// What it printed on stderr during the request.
        stderr: String,
    },
    /// The run was cancelled (Ctrl-C or SIGTERM); the worker's group was killed.
    #[error("interrupted")]
    Cancelled,
}

/// A long-lived child process answering framed requests on its stdin and stdout.
pub struct Worker {
    child: Child,
    pgid: i32,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    stderr: Arc<Mutex<StderrTail>>,
    stderr_reader: Option<thread::JoinHandle<()>>,
    /// Where stderr stood when the current request was sent.
    mark: u64,
}

/// The last [`KEEP_BYTES`] bytes a worker wrote on stderr, and how many it wrote in all.
#[derive(Default)]
struct StderrTail {
    total: u64,
    tail: std::collections::VecDeque<u8>,
}

impl Worker {
    /// Starts `program` with `args` in its own process group, its stdin and stdout as the
    /// request and reply pipes, stderr kept (bounded).
    pub fn start(program: &OsStr, args: &[OsString]) -> Result<Worker, WorkerError> {
        let (mut child, pgid) = spawn_in_group(program, args, Stdio::piped(), Stdio::piped())?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        // Our ends never block: every wait is a poll() with the request's deadline.
        for fd in [stdin.as_fd(), stdout.as_fd()] {
            let _ = set_nonblocking(fd);
        }
        // A reply is usually a few hundred kB; a larger pipe means fewer wake-ups.
        let _ = nix::fcntl::fcntl(stdout.as_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
        let stderr = Arc::new(Mutex::new(StderrTail::default()));
        let stderr_reader = child.stderr.take().map(|pipe| {
            let sink = Arc::clone(&stderr);
            thread::spawn(move || drain_into(pipe, &sink))
        });
        Ok(Worker {
            child,
            pgid,
            stdin: Some(stdin),
            stdout,
            stderr,
            stderr_reader,
            mark: 0,
        })
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the worker has exited (reaped then; without waiting).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends one frame and waits for one back, all within `timeout`.
    pub fn request(&mut self, body: &[u8], timeout: Duration) -> Result<Vec<u8>, WorkerError> {
        let deadline = Instant::now() + timeout;
        self.send(body, deadline, timeout)?;
        self.receive_until(deadline, timeout)
    }

    /// Waits up to `timeout` for one frame (a greeting, say).
    pub fn receive(&mut self, timeout: Duration) -> Result<Vec<u8>, WorkerError> {
        self.receive_until(Instant::now() + timeout, timeout)
    }

    /// Sends one frame by `deadline` (`timeout` is what error messages quote). What the
    /// worker writes on stderr from now on belongs to this request's errors.
    pub fn send(
        &mut self,
        body: &[u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), WorkerError> {
        self.mark = self.stderr_mark();
        let mut frame = Vec::with_capacity(4 + body.len());
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(body);
        self.send_bytes(&frame, deadline, timeout)
    }

    fn send_bytes(
        &mut self,
        mut bytes: &[u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), WorkerError> {
        let mark = self.mark;
        while !bytes.is_empty() {
            let Some(pipe) = self.stdin.as_mut() else {
                return Err(self.ended(mark));
            };
            match pipe.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait_for(nix::poll::PollFlags::POLLOUT, deadline, timeout, mark)?;
                }
                // EPIPE: it is gone.
                Err(_) => return Err(self.ended(mark)),
            }
        }
        Ok(())
    }

    /// Receives one frame by `deadline` (`timeout` is what error messages quote).
    pub fn receive_until(
        &mut self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Vec<u8>, WorkerError> {
        let mut body = Vec::new();
        self.receive_head(&mut body, MAX_FRAME, deadline, timeout)?;
        Ok(body)
    }

    /// Receives the start of one frame: at most the first `max` bytes of its body, into `head`
    /// (replacing what it held, reusing its memory). Returns how many bytes of the body are
    /// left; read them with [`Worker::receive_rest`] before the next frame. A caller can so
    /// read a large body straight into its own memory, instead of through a buffer.
    pub fn receive_head(
        &mut self,
        head: &mut Vec<u8>,
        max: usize,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<usize, WorkerError> {
        let mark = self.mark;
        let mut header = [0u8; 4];
        self.read_exactly(&mut header, deadline, timeout, mark)?;
        let len = u32::from_le_bytes(header) as usize;
        if len > MAX_FRAME {
            let message = format!("a frame of {len} bytes is over the limit");
            return Err(self.broken(message, mark));
        }
        let now = len.min(max);
        head.resize(now, 0);
        self.read_exactly(head, deadline, timeout, mark)?;
        Ok(len - now)
    }

    /// Receives the next `buf.len()` bytes of the frame [`Worker::receive_head`] started.
    pub fn receive_rest(
        &mut self,
        buf: &mut [u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), WorkerError> {
        self.read_exactly(buf, deadline, timeout, self.mark)
    }

    fn read_exactly(
        &mut self,
        buf: &mut [u8],
        deadline: Instant,
        timeout: Duration,
        mark: u64,
    ) -> Result<(), WorkerError> {
        let mut got = 0;
        while got < buf.len() {
            match self.stdout.read(&mut buf[got..]) {
                Ok(0) => return Err(self.ended(mark)),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait_for(nix::poll::PollFlags::POLLIN, deadline, timeout, mark)?;
                }
                Err(e) => return Err(self.broken(format!("cannot read its reply: {e}"), mark)),
            }
        }
        Ok(())
    }

    /// Waits until the pipe is ready for `events` (or has hung up), or the deadline passes.
    fn wait_for(
        &mut self,
        events: nix::poll::PollFlags,
        deadline: Instant,
        timeout: Duration,
        mark: u64,
    ) -> Result<(), WorkerError> {
        use nix::poll::{PollFd, PollTimeout, poll};
        loop {
            if cancelled() {
                self.kill_and_reap();
                return Err(WorkerError::Cancelled);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill_and_reap();
                return Err(WorkerError::TimedOut {
                    after: timeout,
                    stderr: self.stderr_since(mark),
                });
            }
            // Wake up at least every 100 ms to notice a cancel.
            let wait = PollTimeout::try_from(left.min(Duration::from_millis(100)))
                .unwrap_or(PollTimeout::NONE);
            let ready = if events.contains(nix::poll::PollFlags::POLLOUT) {
                let Some(pipe) = self.stdin.as_ref() else {
                    return Err(self.ended(mark));
                };
                poll(&mut [PollFd::new(pipe.as_fd(), events)], wait)
            } else {
                poll(&mut [PollFd::new(self.stdout.as_fd(), events)], wait)
            };
            match ready {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => return Ok(()),
                Err(e) => return Err(self.broken(format!("poll failed: {e}"), mark)),
            }
        }
    }

    /// The worker closed its end: reap it and say how it ended.
    fn ended(&mut self, mark: u64) -> WorkerError {
        if cancelled() {
            self.kill_and_reap();
            return WorkerError::Cancelled;
        }
        // It may still be exiting; give it a moment before the kill.
        let started = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() < Duration::from_millis(500) => {
                    thread::sleep(Duration::from_millis(5));
                }
                _ => break None,
            }
        };
        self.kill_and_reap();
        WorkerError::Died {
            status: status.map_or_else(|| "closed its output".into(), |s| describe_status(&s)),
            stderr: self.stderr_since(mark),
        }
    }

    fn broken(&mut self, message: String, mark: u64) -> WorkerError {
        self.kill_and_reap();
        WorkerError::Protocol {
            message,
            stderr: self.stderr_since(mark),
        }
    }

    fn stderr_mark(&self) -> u64 {
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    /// What the worker wrote on stderr since `mark` (at most [`KEEP_BYTES`]), trimmed.
    fn stderr_since(&mut self, mark: u64) -> String {
        // Once the worker is dead its stderr reaches its end; wait for the reader to get it all.
        if self.stdin.is_none()
            && let Some(reader) = self.stderr_reader.take()
        {
            let _ = reader.join();
        }
        let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let new = (tail.total - mark).min(tail.tail.len() as u64) as usize;
        let bytes: Vec<u8> = tail
            .tail
            .iter()
            .skip(tail.tail.len() - new)
            .copied()
            .collect();
        String::from_utf8_lossy(&bytes).trim().to_string()
    }

    /// Kills the worker's group and reaps it. Idempotent.
    fn kill_and_reap(&mut self) {
        self.stdin = None;
        release_group(self.pgid);
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill_and_reap();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
    }
}

fn set_nonblocking(fd: std::os::fd::BorrowedFd<'_>) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(|_| ())
}

/// Reads `r` to its end, or to its first error, handing each piece read to `f`.
fn read_pieces(mut r: impl Read, mut f: impl FnMut(&[u8])) {
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => f(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn drain_into(pipe: impl Read, sink: &Mutex<StderrTail>) {
    read_pieces(pipe, |piece| {
        let mut tail = sink.lock().unwrap_or_else(|p| p.into_inner());
        tail.total += piece.len() as u64;
        tail.tail.extend(piece);
        let excess = tail.tail.len().saturating_sub(KEEP_BYTES);
        tail.tail.drain(..excess);
    });
}

fn kill_group(pgid: i32) {
    // ESRCH (the group is already gone) is the normal case after a clean exit.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
}

/// Kills a group started by [`spawn_in_group`] and takes it off [`cancel_all`]'s list. Its
/// leader, now killed, still needs reaping (`wait`) by the caller if it has not been.
fn release_group(pgid: i32) {
    kill_group(pgid);
    RUNNING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&pgid);
}

/// Waits for a thread that drained a pipe and gives what it read as text, lossily decoded and
/// trimmed (empty when there was no pipe or the thread panicked).
fn join_text(reader: Option<thread::JoinHandle<Vec<u8>>>) -> String {
    reader
        .and_then(|h| h.join().ok())
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default()
}

/// `": STDERR"`, or nothing when `stderr` is empty: how error messages append what a child
/// printed.
pub(crate) fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

/// Drains a pipe to its end, keeping the first and last [`KEEP_BYTES`] bytes.
fn read_bounded(r: impl Read) -> Vec<u8> {
    let mut head = Vec::new();
    let mut tail: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
    let mut dropped = 0u64;
    read_pieces(r, |mut chunk| {
        if head.len() < KEEP_BYTES {
            let take = chunk.len().min(KEEP_BYTES - head.len());
            head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        tail.extend(chunk);
        let excess = tail.len().saturating_sub(KEEP_BYTES);
        tail.drain(..excess);
        dropped += excess as u64;
    });
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

    fn sh_worker(script: &str) -> Worker {
        // The tests use /bin/sh as a stand-in worker; production code never does.
        Worker::start(OsStr::new("/bin/sh"), &["-c".into(), script.into()]).unwrap()
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        write_frame(&mut f, body).unwrap();
        f
    }

    #[test]
    fn frames_round_trip_and_a_clean_end_is_none() {
        let mut bytes = frame(b"hello");
        bytes.extend(frame(b""));
        let mut r = &bytes[..];
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"hello");
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"");
        assert!(read_frame(&mut r).unwrap().is_none());
        let torn = &frame(b"hello")[..6];
        assert!(read_frame(&mut &torn[..]).is_err());
    }

    #[test]
    fn a_worker_answers_request_after_request_even_large_ones() {
        // `cat` sends every frame straight back (it echoes while we still write, so a frame
        // must fit in the reply pipe; real workers read a whole request first).
        let mut w = sh_worker("exec cat");
        for body in [
            b"-v --help $(rm -rf /)".to_vec(),
            vec![7u8; 600 << 10],
            vec![],
        ] {
            let reply = w.request(&body, Duration::from_secs(10)).unwrap();
            assert_eq!(reply, body);
        }
    }

    #[test]
    fn a_worker_that_does_not_answer_is_killed_with_its_group_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let mut w = sh_worker(&format!(
            "echo thinking >&2; sleep 30 & echo $! > '{}'; wait",
            pidfile.display()
        ));
        let started = Instant::now();
        let err = w.request(b"x", Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        match err {
            WorkerError::TimedOut { after, stderr } => {
                assert_eq!(after, Duration::from_millis(300));
                assert_eq!(stderr, "thinking");
            }
            other => panic!("{other:?}"),
        }
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_gone(pid);
        assert_gone(w.pid() as i32);
    }

    #[test]
    fn a_worker_that_crashes_is_reported_with_its_signal_and_stderr() {
        let mut w = sh_worker("head -c 5 >/dev/null; echo 'dying now' >&2; kill -SEGV $$");
        match w.request(b"x", Duration::from_secs(10)).unwrap_err() {
            WorkerError::Died { status, stderr } => {
                assert!(status.contains("signal 11"), "{status}");
                assert_eq!(stderr, "dying now");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_worker_that_sends_garbage_breaks_the_protocol() {
        let mut w = sh_worker("printf '\\377\\377\\377\\377'; sleep 30");
        let err = w.request(b"x", Duration::from_secs(10)).unwrap_err();
        assert!(matches!(err, WorkerError::Protocol { .. }), "{err:?}");
        assert_gone(w.pid() as i32);
    }

    #[test]
    fn dropping_a_worker_kills_and_reaps_it() {
        let w = sh_worker("sleep 30");
        let pid = w.pid() as i32;
        drop(w);
        assert_gone(pid);
        assert!(!RUNNING.lock().unwrap().contains(&pid));
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
