//! The CLI with espeak-ng, and with fixture engines standing in for espeak-ng on PATH.

use crate::support::{SAMPLE, TestEnv, fixture_engine, process_gone, require};
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
        .args(["convert", "a.txt"])
        .env("PATH", &empty)
        .assert()
        .code(1)
        .stderr(
            "aloud: error: espeak-ng was not found on PATH: install it (apt-get install espeak-ng) or use --backend mock\n",
        );
    assert!(!env.path().join("output").exists());
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
            predicate::str::contains("espeak-ng is not usable")
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
        .args(["convert", "a.txt", "--timeout", "1", "-j", "1"])
        .env("PATH", path_with_fake_espeak(&env, "hang.sh"))
        .env("FIXTURE_PIDFILE", &pidfile)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "aloud: error: a.txt: paragraph 1: espeak-ng did not finish within 1 s and was killed (raise --timeout if the engine is just slow): thinking very hard",
        ));
    assert!(started.elapsed() < Duration::from_secs(20));
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
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
        .args(["convert", "a.txt"])
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
        .args(["convert", "a.txt"])
        .env("PATH", path_with_fake_espeak(&env, "silent.sh"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "a.txt: paragraph 1: espeak-ng exited successfully but it wrote no audio file",
        ));
}
