//! The engine-fault suite: engines that fail now and then, hang, crash, write bad audio, flood
//! stderr or leave children behind. Each run must end with the faulty article either retried
//! into correct output or reported failed with the cause; no partial files; no process left
//! behind (checked in the process table); the other articles complete.
//!
//! Also: Ctrl-C and SIGTERM at random moments of a real batch, ten times over.

use crate::support::{TestEnv, fixture_engine, require, stdout_json, stop_within};
use std::path::Path;
use std::time::{Duration, Instant};

/// Processes still alive whose environment carries `marker`.
fn survivors(marker: &str) -> Vec<String> {
    let needle = format!("ALOUD_FAULT_MARKER={marker}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| {
            let environ = std::fs::read(e.path().join("environ")).ok()?;
            let has = environ.split(|&b| b == 0).any(|kv| kv == needle.as_bytes());
            has.then(|| {
                std::fs::read_to_string(e.path().join("cmdline"))
                    .unwrap_or_default()
                    .replace('\0', " ")
            })
        })
        .collect()
}

struct Run {
    code: i32,
    stderr: String,
}

/// Converts three articles (b's second paragraph contains FAULT) with `faulty.py MODE`.
fn run_faulty(env: &TestEnv, mode: &str, out: &str, extra: &[&str]) -> Run {
    env.write(
        "in/a.txt",
        "The first article is fine.\n\nIt has two paragraphs.",
    );
    env.write(
        "in/b.txt",
        "The second article starts well.\n\nThen this FAULT paragraph.\n\nAnd ends.",
    );
    env.write("in/c.txt", "The third article is fine too.");
    let state = env.path().join(format!("state-{out}"));
    std::fs::create_dir_all(&state).unwrap();
    let marker = format!("{}-{mode}-{out}", std::process::id());
    let command = format!("'{}' {mode} {{out}}", fixture_engine("faulty.py").display());
    let started = Instant::now();
    let output = env
        .aloud()
        .args([
            "convert",
            "in",
            "-o",
            out,
            "--no-cache",
            "--command",
            &command,
            "--timeout",
            "2",
        ])
        .args(extra)
        .env("FAULTY_STATE", &state)
        .env("ALOUD_FAULT_MARKER", &marker)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(100));
    // Nothing the run started may still be running.
    let mut left = survivors(&marker);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        left = survivors(&marker);
    }
    assert!(left.is_empty(), "{mode}: processes left behind: {left:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    Run {
        code: output.status.code().unwrap_or(-1),
        stderr,
    }
}

/// a and c converted and verified; b either converted (`b_ok`) or absent without a trace.
fn check_outputs(env: &TestEnv, out: &str, b_ok: bool) {
    let files = env.files(out);
    for stem in ["a", "c"] {
        assert!(files.contains(&format!("{stem}.wav")), "{out}: {files:?}");
    }
    assert_eq!(
        files.iter().any(|f| f.starts_with("b.")),
        b_ok,
        "{out}: {files:?}"
    );
    assert!(
        !files.iter().any(|f| f.starts_with('.')),
        "{out}: temporary files left: {files:?}"
    );
    env.aloud().args(["verify", out]).assert().success();
}

fn same_as_clean_run(env: &TestEnv, out: &str) {
    if !env.path().join("clean").exists() {
        let clean = run_faulty(env, "none", "clean", &[]);
        assert_eq!(clean.code, 0, "{}", clean.stderr);
    }
    for f in ["a.wav", "b.wav", "c.wav"] {
        assert!(
            env.read(&format!("clean/{f}")) == env.read(&format!("{out}/{f}")),
            "{out}/{f} differs from a clean run"
        );
    }
}

fn failed_with(run: &Run, message: &str) {
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("aloud: error: in/b.txt: paragraph 2: faulty.py"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(message),
        "expected {message:?} in:\n{}",
        run.stderr
    );
}

#[test]
fn an_engine_that_fails_every_third_call_is_retried_into_correct_output() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    let run = run_faulty(&env, "every-3rd", "out", &["--retries", "3", "-j", "2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    check_outputs(&env, "out", true);
    same_as_clean_run(&env, "out");
}

#[test]
fn an_engine_that_fails_a_fifth_of_its_calls_at_random_is_retried_into_correct_output() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    let run = run_faulty(&env, "random-20", "out", &["--retries", "6", "-j", "3"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    check_outputs(&env, "out", true);
    same_as_clean_run(&env, "out");
}

#[test]
fn an_engine_that_hangs_is_killed_with_its_child_and_reported() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    let run = run_faulty(&env, "hang", "out", &["--retries", "1"]);
    failed_with(&run, "did not finish within 2 s and was killed");
    assert!(
        run.stderr.contains("gave up after 2 attempts"),
        "{}",
        run.stderr
    );
    check_outputs(&env, "out", false);
}

#[test]
fn an_engine_that_crashes_is_reported_with_its_signal() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    failed_with(
        &run_faulty(&env, "segv", "out", &["--retries", "1"]),
        "killed by signal 11",
    );
    check_outputs(&env, "out", false);
}

#[test]
fn truncated_garbage_and_empty_audio_are_reported() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    failed_with(
        &run_faulty(&env, "truncated", "t", &["--retries", "0"]),
        "exited successfully but it wrote an unreadable WAV file",
    );
    check_outputs(&env, "t", false);
    failed_with(
        &run_faulty(&env, "garbage", "g", &["--retries", "0"]),
        "exited successfully but it wrote an unreadable WAV file",
    );
    check_outputs(&env, "g", false);
    failed_with(
        &run_faulty(&env, "zero", "z", &["--retries", "0"]),
        "exited successfully but it wrote a WAV file with no audio in it",
    );
    check_outputs(&env, "z", false);
}

#[test]
fn a_flood_on_stderr_is_drained_and_the_message_stays_short() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    let run = run_faulty(&env, "flood", "out", &["--retries", "0"]);
    failed_with(&run, "the real error is at the end");
    assert!(
        run.stderr.contains("bytes omitted"),
        "{}",
        &run.stderr[..500]
    );
    assert!(
        run.stderr.len() < 64 * 1024,
        "{} bytes of stderr",
        run.stderr.len()
    );
    check_outputs(&env, "out", false);
}

#[test]
fn audio_at_another_sample_rate_is_resampled_into_place() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    let run = run_faulty(&env, "rate-switch", "out", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    check_outputs(&env, "out", true);
    let m = env.manifest("out/b.json");
    assert_eq!(m["sample_rate"], 16000);
    // The 44.1 kHz paragraph keeps its length: 40 ms per character at any rate.
    let p = &m["paragraphs"][1];
    let chars = p["units"][0]["spoken"].as_str().unwrap().chars().count() as u64;
    assert_eq!(
        p["duration_frames"].as_u64().unwrap(),
        chars * 16000 * 40 / 1000
    );
}

#[test]
fn a_child_left_running_by_the_engine_is_killed() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    let run = run_faulty(&env, "orphan", "out", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    check_outputs(&env, "out", true);
}

/// A tiny deterministic generator, so the "random" moments are the same on every run.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn ten_interruptions_at_random_moments_lose_nothing_and_a_rerun_finishes_the_job() {
    let env = TestEnv::new();
    for i in 0..6 {
        let paragraphs: Vec<String> = (0..(3 + i * 2))
            .map(|p| format!("Article {i}, paragraph {p} of the batch."))
            .collect();
        env.write(&format!("in/a{i}.txt"), paragraphs.join("\n\n"));
    }
    let total_units: u64 = (0..6).map(|i| 3 + i * 2).sum();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for trial in 0..10 {
        let out = format!("out{trial}");
        let child = env
            .aloud_std()
            .env("XDG_CACHE_HOME", env.path().join(format!(".cache-{trial}")))
            .args([
                "convert",
                "--backend",
                "mock",
                "in",
                "-o",
                &out,
                "-j",
                "2",
                "--mock-latency-ms",
                "60",
                "-q",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let wait = 100 + next(&mut seed) % 1200;
        std::thread::sleep(Duration::from_millis(wait));
        let sig = if trial % 2 == 0 {
            nix::sys::signal::Signal::SIGINT
        } else {
            nix::sys::signal::Signal::SIGTERM
        };
        let result = stop_within(
            child,
            sig,
            Duration::from_secs(2),
            &format!("trial {trial}"),
        );
        let code = result.status.code();
        assert!(
            matches!(code, Some(130) | Some(0)),
            "trial {trial} ({wait} ms): {code:?}"
        );

        // Every output present is complete and valid; no temporary file is left.
        let files = env.files(&out);
        assert!(
            !files
                .iter()
                .any(|f| f.split('/').next_back().unwrap().starts_with('.')),
            "trial {trial}: {files:?}"
        );
        if files.iter().any(|f| f.ends_with(".json")) {
            env.aloud().args(["verify", &out]).assert().success();
        }
        // A rerun with the same cache finishes the job, synthesizing only what was missing,
        // and finds no corrupt cache entry.
        let rerun = env
            .aloud()
            .args([
                "convert",
                "--backend",
                "mock",
                "in",
                "-o",
                &out,
                "--json",
                "-q",
            ])
            .env("XDG_CACHE_HOME", env.path().join(format!(".cache-{trial}")))
            .output()
            .unwrap();
        assert!(
            rerun.status.success(),
            "trial {trial}: {}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        let s = stdout_json(&rerun);
        assert_eq!(s["units"]["corrupt_cache_entries"], 0, "trial {trial}");
        assert_eq!(
            s["articles"]["converted"].as_u64().unwrap()
                + s["articles"]["unchanged"].as_u64().unwrap(),
            6
        );
        let units_done_before: u64 = (0..6)
            .filter(|i| files.contains(&format!("a{i}.json")))
            .map(|i| 3 + i * 2)
            .sum();
        let (synthesized, cached) = (
            s["units"]["synthesized"].as_u64().unwrap(),
            s["units"]["cached"].as_u64().unwrap(),
        );
        assert_eq!(
            synthesized + cached + units_done_before,
            total_units,
            "trial {trial}: {s}"
        );
        env.aloud().args(["verify", &out]).assert().success();
        assert!(Path::new(&env.path().join(&out)).join("a5.wav").exists());
    }
}

#[test]
fn temporary_files_a_killed_run_left_are_removed_and_live_ones_kept() {
    let env = TestEnv::new();
    env.write("a.txt", "A first paragraph.\n\nA second one.\n");
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    let temp = |name: &str, age: Option<std::time::SystemTime>| {
        let path = env.write(&format!("output/{name}"), vec![0u8; 5000]);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        if let Some(t) = age {
            file.set_modified(t).unwrap();
        }
        file
    };
    // Left by a killed run: old and unlocked.
    drop(temp(".a.wav.Ab12Cd.tmp", Some(old)));
    drop(temp(".other.json.x9y8z7.tmp", Some(old)));
    // Being written by another run: locked (the lock is held while `_live` is open).
    let _live = temp(".b.wav.Qw34Er.tmp", Some(old));
    _live.try_lock().unwrap();
    // Just created by another run that has not locked it yet.
    drop(temp(".c.wav.Zx56Cv.tmp", None));
    // Not aloud's: a user's own hidden file.
    drop(temp(".notes.tmp", Some(old)));
    let out = env.mock_convert(&["a.txt"]).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "aloud: removed 2 temporary files (10 kB) that an interrupted run left in output"
        ),
        "{stderr}"
    );
    let hidden: Vec<String> = env
        .files("output")
        .into_iter()
        .filter(|f| f.starts_with('.'))
        .collect();
    assert_eq!(
        hidden,
        [".b.wav.Qw34Er.tmp", ".c.wav.Zx56Cv.tmp", ".notes.tmp"]
    );
}
