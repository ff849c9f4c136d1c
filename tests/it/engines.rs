//! The CLI with espeak-ng (the library engine and the program), and with fixture engines
//! standing in for the espeak-ng program on PATH.

use crate::support::{SAMPLE, TestEnv, fixture_engine, json_of, process_gone, read_pid, require};
use predicates::prelude::*;
use std::time::{Duration, Instant};

/// A PATH holding only a fake `espeak-ng` (a fixture script) plus what the script needs.
fn path_with_fake_espeak(env: &TestEnv, fixture: &str) -> String {
    let bin = env.path().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    // A wrapper rather than a link, so the fixture finds its helper files beside itself.
    let wrapper = bin.join("espeak-ng");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' \"$@\"\n",
            fixture_engine(fixture).display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    format!("{}:/usr/bin:/bin", bin.display())
}

#[test]
fn espeak_output_is_byte_identical_with_1_and_4_workers() {
    if !require("espeak-ng") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/us-iraq-dialogue.txt", SAMPLE);
    env.aloud()
        .args(["convert", "in", "-o", "j1", "-j", "1"])
        .assert()
        .success();
    env.aloud()
        .args(["convert", "in", "-o", "j4", "-j", "4"])
        .assert()
        .success();
    for f in [
        "us-iraq-dialogue.wav",
        "us-iraq-dialogue.json",
        "us-iraq-dialogue.chapters.vtt",
    ] {
        assert!(
            env.read(&format!("j1/{f}")) == env.read(&format!("j4/{f}")),
            "{f} differs"
        );
    }
}

#[test]
fn espeak_speaks_a_paragraph_that_starts_with_a_dash() {
    if !require("espeak-ng") {
        return;
    }
    let env = TestEnv::new();
    let words = "this paragraph must be spoken from its first word to its last";
    env.write("a.txt", format!("-v xx --stdout {words}\n{words}\n"));
    env.aloud().args(["convert", "a.txt"]).assert().success();
    let m = env.manifest("output/a.json");
    let d0 = m["paragraphs"][0]["duration_frames"].as_u64().unwrap();
    let d1 = m["paragraphs"][1]["duration_frames"].as_u64().unwrap();
    assert!(
        d0 > d1,
        "the dashed paragraph ({d0} frames) should be longer than the plain one ({d1})"
    );
}

#[test]
fn missing_espeak_is_reported_before_any_work() {
    let env = TestEnv::new();
    env.write("a.txt", "Text.");
    let empty = env.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    env.aloud()
        .args(["convert", "a.txt", "--backend", "espeak-ng-process"])
        .env("PATH", &empty)
        .assert()
        .code(1)
        .stderr(
            "aloud: error: espeak-ng was not found on PATH: install it (apt-get install espeak-ng) or use --backend mock\n",
        );
    assert!(!env.path().join("output").exists());
    // Neither the library nor the program: one warning, then the same error.
    env.aloud()
        .args(["convert", "a.txt"])
        .env("PATH", &empty)
        .env("ALOUD_LIBESPEAK_NG", "/nonexistent/libespeak-ng.so.1")
        .assert()
        .code(1)
        .stderr(
            predicate::str::starts_with("aloud: warning: libespeak-ng is not available (cannot load /nonexistent/libespeak-ng.so.1")
                .and(predicate::str::ends_with(
                    "aloud: error: espeak-ng was not found on PATH: install it (apt-get install espeak-ng) or use --backend mock\n",
                ))
                .and(predicate::function(|s: &str| s.lines().count() == 2)),
        );
}

#[test]
fn without_the_library_espeak_ng_falls_back_to_the_program_with_one_notice() {
    if !require("espeak-ng") {
        return;
    }
    let env = TestEnv::new();
    env.write("a.txt", "One paragraph.\n\nAnother paragraph.\n\nA third.");
    let out = env
        .aloud()
        .args(["convert", "a.txt", "-q", "-j", "2"])
        .env("ALOUD_LIBESPEAK_NG", "/nonexistent/libespeak-ng.so.1")
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("speaking with the espeak-ng program instead"),
        "{stderr}"
    );
    let m = env.manifest("output/a.json");
    assert_eq!(m["engine"]["name"], "espeak-ng");
    assert_eq!(m["timing"], "paragraph");
}

#[test]
fn the_library_engine_is_the_default_and_gives_the_programs_wav() {
    if !require("espeak-ng") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/us-iraq-dialogue.txt", SAMPLE);
    env.aloud()
        .args(["convert", "in", "-o", "lib", "-q"])
        .assert()
        .success();
    env.aloud()
        .args([
            "convert",
            "in",
            "-o",
            "prog",
            "-q",
            "--backend",
            "espeak-ng-process",
        ])
        .assert()
        .success();
    let lib = env.manifest("lib/us-iraq-dialogue.json");
    assert_eq!(lib["engine"]["name"], "libespeak-ng");
    assert_eq!(lib["timing"], "word");
    assert!(
        env.read("lib/us-iraq-dialogue.wav") == env.read("prog/us-iraq-dialogue.wav"),
        "the library and the program gave different WAV files"
    );
}

#[test]
fn a_worker_that_crashes_once_is_replaced_and_its_paragraph_retried() {
    if !require("espeak-ng") {
        return;
    }
    let env = TestEnv::new();
    env.write("a.txt", "One paragraph.\n\nIt goes BOOM here.\n\nA third.");
    let once = env.path().join("crashed-once");
    let summary = json_of(
        env.aloud()
            .args(["convert", "a.txt", "-q", "--json", "--no-cache"])
            .env(
                "ALOUD_TEST_WORKER_FAULT",
                format!("crash:BOOM:{}", once.display()),
            ),
    );
    assert!(once.exists(), "the fault did not fire");
    assert_eq!(summary["units"]["retried"], 1, "{summary}");
    assert_eq!(summary["units"]["synthesized"], 3, "{summary}");
}

#[test]
fn a_hung_worker_is_killed_and_the_article_fails_cleanly() {
    if !require("espeak-ng") {
        return;
    }
    let env = TestEnv::new();
    env.write("a.txt", "One paragraph.\n\nIt goes BOOM here.");
    let started = Instant::now();
    let run = env
        .aloud_std()
        .args(["convert", "a.txt", "--timeout", "1", "--retries", "1", "-q"])
        .env("ALOUD_TEST_WORKER_FAULT", "hang:BOOM")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs, its workers and their hanging copies are seen: the check below can fail.
    let mut most = 0;
    while most < 3 && started.elapsed() < Duration::from_secs(10) {
        most = most.max(env.processes().len());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        most >= 3,
        "saw {most} processes of the run, expected aloud, a worker and a copy"
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("a.txt: paragraph 2: libespeak-ng did not finish within 1 s and was killed"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(env.files("output").is_empty(), "{:?}", env.files("output"));
    // No worker, nor a copy of one, outlives the run, wherever it was reparented.
    let left: Vec<u32> = env
        .processes()
        .into_iter()
        .filter(|&pid| !process_gone(pid))
        .collect();
    assert_eq!(left, Vec::<u32>::new());
}

#[test]
fn an_unknown_voice_is_reported_before_any_work() {
    if !require("espeak-ng") {
        return;
    }
    let env = TestEnv::new();
    env.write("a.txt", "Text.");
    env.aloud()
        .args(["convert", "a.txt", "--voice", "xx-nonexistent"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains(
                "espeak-ng is not usable with voice \"xx-nonexistent\" (`aloud voices` lists",
            )
            .and(predicate::str::contains("voice does not exist")),
        );
    assert!(!env.path().join("output").exists());
}

#[test]
fn a_hung_engine_is_killed_with_its_children_and_the_article_fails_cleanly() {
    let env = TestEnv::new();
    env.write("a.txt", "One paragraph.\n\nAnother.");
    let pidfile = env.path().join("child.pid");
    let started = Instant::now();
    env.aloud()
        .args(["convert", "a.txt", "--timeout", "1", "-j", "1", "--backend", "espeak-ng-process"])
        .env("PATH", path_with_fake_espeak(&env, "hang.sh"))
        .env("FIXTURE_PIDFILE", &pidfile)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "aloud: error: a.txt: paragraph 1: espeak-ng did not finish within 1 s and was killed (raise --timeout if the engine is just slow): thinking very hard",
        ));
    assert!(started.elapsed() < Duration::from_secs(20));
    let pid = read_pid(&pidfile);
    assert!(
        process_gone(pid),
        "the engine's child {pid} outlived the run"
    );
    assert!(env.files("output").is_empty(), "{:?}", env.files("output"));
}

#[test]
fn an_engine_error_names_the_paragraph_and_shows_its_stderr() {
    let env = TestEnv::new();
    env.write("a.txt", "One paragraph.");
    env.aloud()
        .args(["convert", "a.txt", "--backend", "espeak-ng-process"])
        .env("PATH", path_with_fake_espeak(&env, "fail.sh"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "aloud: error: a.txt: paragraph 1: espeak-ng failed (exit status 3): engine exploded: no phoneme table for this text",
        ));
    assert!(env.files("output").is_empty());
}

#[test]
fn an_engine_that_writes_nothing_is_caught() {
    let env = TestEnv::new();
    env.write("a.txt", "One paragraph.");
    env.aloud()
        .args(["convert", "a.txt", "--backend", "espeak-ng-process"])
        .env("PATH", path_with_fake_espeak(&env, "silent.sh"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "a.txt: paragraph 1: espeak-ng exited successfully but it wrote no audio file",
        ));
}
