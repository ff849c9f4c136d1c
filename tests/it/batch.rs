//! Folder runs: the cache, up-to-date outputs, retries, shards and interruption.

use crate::support::{SAMPLE, TestEnv, json_of, stdout_json, stop_within};
use nix::sys::signal::Signal;
use predicates::prelude::*;
use std::process::Stdio;
use std::time::Duration;

/// A small corpus of articles of mixed lengths in `in/`.
fn corpus(env: &TestEnv, n: usize) {
    for i in 0..n {
        let paragraphs: Vec<String> = (0..(i % 5 + 1))
            .map(|p| format!("Article {i}, paragraph {p}. Some words follow."))
            .collect();
        env.write(
            &format!("in/{}/a{i:02}.txt", i % 3),
            paragraphs.join("\n\n"),
        );
    }
}

/// Runs `aloud convert --backend mock ARGS --json` and returns the summary.
fn run(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    stdout_json(env.mock_convert(args).arg("--json").assert().get_output())
}

fn units(summary: &serde_json::Value) -> (u64, u64) {
    (
        summary["units"]["synthesized"].as_u64().unwrap(),
        summary["units"]["cached"].as_u64().unwrap(),
    )
}

#[test]
fn a_rerun_synthesizes_nothing_and_an_edit_synthesizes_exactly_that_paragraph() {
    let env = TestEnv::new();
    corpus(&env, 12);
    let cold = run(&env, &["in", "-o", "out"]);
    assert_eq!(cold["articles"]["converted"], 12);
    let total_units = units(&cold).0;
    assert_eq!(units(&cold), (total_units, 0));
    assert_eq!(
        total_units,
        (0..12).map(|i| i % 5 + 1).sum::<usize>() as u64
    );
    let before = env.read("out/1/a04.wav");

    // Nothing changed: every article is up to date, nothing is synthesized or rewritten.
    let warm = run(&env, &["in", "-o", "out"]);
    assert_eq!(warm["articles"]["unchanged"], 12);
    assert_eq!(units(&warm), (0, 0));

    // --force rebuilds every article, entirely from the cache, to the same bytes.
    let forced = run(&env, &["in", "-o", "out", "--force"]);
    assert_eq!(forced["articles"]["converted"], 12);
    assert_eq!(units(&forced), (0, total_units));
    assert_eq!(env.read("out/1/a04.wav"), before);

    // One paragraph edited: that article is converted again with exactly one synthesis.
    env.write(
        "in/1/a04.txt",
        "Article 4, paragraph 0. Some words follow.\n\nArticle 4, paragraph 1. EDITED words.\n\nArticle 4, paragraph 2. Some words follow.\n\nArticle 4, paragraph 3. Some words follow.\n\nArticle 4, paragraph 4. Some words follow.",
    );
    let edited = run(&env, &["in", "-o", "out"]);
    assert_eq!(edited["articles"]["converted"], 1);
    assert_eq!(edited["articles"]["unchanged"], 11);
    assert_eq!(units(&edited), (1, 4));

    // A change of settings makes every article out of date, and every unit new.
    let slower = run(&env, &["in", "-o", "out", "--mock-ms-per-char", "61"]);
    assert_eq!(slower["articles"]["converted"], 12);
    assert_eq!(units(&slower), (total_units, 0));
}

#[test]
fn a_corrupt_cache_entry_is_detected_and_synthesized_again() {
    let env = TestEnv::new();
    env.write("a.txt", "One.\n\nTwo.");
    run(&env, &["a.txt"]);
    let before = env.read("output/a.wav");
    // Damage every cache entry.
    let mut damaged = 0;
    for shard in std::fs::read_dir(env.cache_dir().join("units")).unwrap() {
        for entry in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let p = entry.unwrap().path();
            let mut b = std::fs::read(&p).unwrap();
            let n = b.len();
            b[n - 1] ^= 0x55;
            std::fs::write(&p, b).unwrap();
            damaged += 1;
        }
    }
    assert_eq!(damaged, 2);
    let again = run(&env, &["a.txt", "--force"]);
    assert_eq!(again["units"]["corrupt_cache_entries"], 2);
    assert_eq!(units(&again), (2, 0));
    assert_eq!(env.read("output/a.wav"), before);
}

#[test]
fn no_cache_leaves_no_cache_and_cache_commands_manage_it() {
    let env = TestEnv::new();
    env.write("a.txt", "One.\n\nTwo.\n\nThree.");
    run(&env, &["a.txt", "--no-cache"]);
    assert!(!env.cache_dir().exists());
    run(&env, &["a.txt", "--force"]);
    let stats = json_of(env.aloud().args(["cache", "stats", "--json"]));
    assert_eq!(stats["entries"], 3);
    env.aloud()
        .args(["cache", "clear"])
        .assert()
        .success()
        .stdout(predicate::str::contains("cleared 3 units"));
    env.aloud()
        .args(["cache", "stats"])
        .assert()
        .success()
        .stdout(predicate::str::contains("holds 0 units"));
    // A separate folder with --cache-dir.
    run(&env, &["a.txt", "--force", "--cache-dir", "elsewhere"]);
    assert_eq!(env.files("elsewhere").len(), 3);
}

#[test]
fn a_cache_that_cannot_be_written_is_said_once_and_the_run_goes_on() {
    let env = TestEnv::new();
    env.write("a.txt", "One.\n\nTwo.");
    // --cache-dir names a file: one warning before anything is synthesized, no cache.
    env.write("not-a-folder", "x");
    let assert = env
        .mock_convert(&["a.txt", "--cache-dir", "not-a-folder"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: cannot use the cache folder not-a-folder (it is not a folder); this run caches nothing",
        ));
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
    assert!(env.path().join("output/a.wav").exists());
    assert_eq!(env.read("not-a-folder"), b"x");
    env.aloud()
        .args(["cache", "stats", "--cache-dir", "not-a-folder"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the cache folder not-a-folder is not a folder",
        ));

    // A file where the entries' folder goes is found before anything is synthesized too.
    env.write("blocked/units", "a file where the entries' folder goes");
    env.mock_convert(&["a.txt", "--force", "--cache-dir", "blocked"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: cannot use the cache folder blocked (blocked/units is not a folder)",
        ));

    // Entries that cannot be written (a file where every shard folder goes): the count and
    // the reason, after the run.
    for shard in 0..=255 {
        env.write(&format!("sharded/units/{shard:02x}"), "not a folder");
    }
    env.mock_convert(&["a.txt", "--force", "--cache-dir", "sharded"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: 2 synthesized units could not be written to the cache in sharded (File exists (os error 17)); the next run synthesizes them again",
        ));
}

#[test]
fn files_an_earlier_conversion_wrote_and_this_one_does_not_are_removed() {
    let env = TestEnv::new();
    env.write("a.txt", "One.\n\nTwo.");
    env.write("output/a.notes.txt", "the user's own file");
    env.write("output/b.wav", "another article's audio");
    run(&env, &["a.txt", "--chapters", "vtt,cue,json,podcast"]);
    assert!(env.path().join("output/a.cue").exists());
    // A manifest edited to list other files does not make them this article's to remove.
    let mut manifest = env.manifest("output/a.json");
    manifest["files"]["ffmetadata"] = "a.notes.txt".into();
    manifest["files"]["mp3"] = "b.wav".into();
    env.write("output/a.json", manifest.to_string());
    let fewer = run(&env, &["a.txt", "--chapters", "vtt"]);
    assert_eq!(fewer["articles"]["converted"], 1);
    assert_eq!(
        env.files("output"),
        [
            "a.captions.vtt",
            "a.chapters.vtt",
            "a.html",
            "a.json",
            "a.notes.txt",
            "a.wav",
            "b.wav",
            "index.html"
        ]
    );
}

#[test]
fn flaky_engine_calls_are_retried_and_give_the_same_output() {
    let env = TestEnv::new();
    corpus(&env, 6);
    run(&env, &["in", "-o", "clean", "--no-cache"]);
    let flaky = run(
        &env,
        &[
            "in",
            "-o",
            "flaky",
            "--no-cache",
            "--mock-fail-every",
            "3",
            "-j",
            "3",
        ],
    );
    assert_eq!(flaky["articles"]["converted"], 6);
    assert!(flaky["units"]["retried"].as_u64().unwrap() >= 5);
    for f in env.files("clean") {
        assert!(
            env.read(&format!("clean/{f}")) == env.read(&format!("flaky/{f}")),
            "{f}"
        );
    }
    // Without retries the same flakiness fails articles, which leave no files.
    let env2 = TestEnv::new();
    corpus(&env2, 6);
    let out = env2
        .mock_convert(&[
            "in",
            "-o",
            "out",
            "--retries",
            "0",
            "--mock-fail-every",
            "2",
            "-j",
            "1",
        ])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).unwrap();
    assert!(
        stderr.contains("mock failed (simulated failure): mock: call 2 failed"),
        "{stderr}"
    );
    // Given up after retries: the message says so.
    let env3 = TestEnv::new();
    env3.write("a.txt", "This BOOM fails every time.");
    env3.mock_convert(&["a.txt", "--mock-fail-on", "BOOM"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("(gave up after 3 attempts)"));
}

#[test]
fn shards_split_a_corpus_without_overlap_and_add_up_to_one_run_byte_for_byte() {
    let env = TestEnv::new();
    corpus(&env, 15);
    env.write("in/sample.txt", SAMPLE);
    let whole = run(&env, &["in", "-o", "whole"]);
    assert_eq!(whole["articles"]["total"], 16);
    let mut seen = 0;
    for k in 0..3 {
        let shard = format!("{k}/3");
        let s = run(
            &env,
            &[
                "in",
                "-o",
                "sharded",
                "--shard",
                &shard,
                "--cache-dir",
                &format!("cache{k}"),
            ],
        );
        let n = s["articles"]["total"].as_u64().unwrap();
        assert!(n > 0, "shard {k} is empty");
        assert_eq!(
            s["articles"]["converted"].as_u64().unwrap(),
            n,
            "shard {k} overlapped another"
        );
        seen += n;
    }
    assert_eq!(seen, 16, "every article is in exactly one shard");
    env.assert_same_tree("whole", "sharded");
    env.mock_convert(&["in", "--shard", "3/3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "K must be at least 0 and less than N",
        ));

    // A shard that gets none of the articles says so, warns of nothing and writes nothing.
    env.write("one/a.txt", "Alone.");
    let mut empty = 0;
    for k in 0..3 {
        let out = format!("one-{k}");
        let assert = env
            .mock_convert(&["one", "-o", &out, "--shard", &format!("{k}/3")])
            .assert()
            .success();
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(!stderr.contains("warning"), "{stderr}");
        if !env.path().join(&out).join("a.wav").exists() {
            empty += 1;
            assert!(!env.path().join(&out).exists(), "{stderr}");
            assert!(
                stderr.contains(&format!("shard {k}/3 has none of the 1 article found")),
                "{stderr}"
            );
        }
    }
    assert_eq!(empty, 2);
}

#[test]
fn quiet_prints_nothing_and_the_summary_line_counts_everything() {
    let env = TestEnv::new();
    env.write("a.txt", "One.");
    env.mock_convert(&["a.txt", "-q"])
        .assert()
        .success()
        .stderr("")
        .stdout("");
    env.mock_convert(&["a.txt"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "index output/index.html lists 1 article\n0 converted, 1 up to date of 1 article; 0:00 of audio; 0 units synthesized, 0 from cache;",
        ));
}

/// Two articles in `in/`, a quick one and a slow one; `sig` is sent to a slow run after it
/// has finished the quick one. The run stops quickly, and b's temporary files are gone; a's
/// outputs and the index of what is there remain.
fn interrupted_run(sig: Signal) -> TestEnv {
    let env = TestEnv::new();
    env.write("in/a.txt", "Quick.");
    let slow: Vec<String> = (0..40).map(|i| format!("Slow paragraph {i}.")).collect();
    env.write("in/b.txt", slow.join("\n\n"));
    let child = env
        .aloud_std()
        .args([
            "convert",
            "--backend",
            "mock",
            "in",
            "-o",
            "out",
            "-j",
            "2",
            "--mock-latency-ms",
            "150",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let out = stop_within(child, sig, Duration::from_secs(2), "the run");
    assert_eq!(out.status.code(), Some(130));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("interrupted: 1 of 2 articles finished and kept"),
        "{stderr}"
    );
    assert_eq!(
        env.files("out"),
        [
            "a.captions.vtt",
            "a.chapters.vtt",
            "a.html",
            "a.json",
            "a.wav",
            "index.html"
        ]
    );
    env
}

#[test]
fn ctrl_c_stops_the_run_quickly_keeps_finished_articles_and_leaves_no_partial_files() {
    interrupted_run(Signal::SIGINT);
}

#[test]
fn ctrl_c_while_the_engine_is_tried_is_an_interruption() {
    let env = TestEnv::new();
    env.write("a.txt", "Hello.");
    // The engine check runs this command on a word; it takes far longer than the signal.
    let child = env
        .aloud_std()
        .args(["convert", "a.txt", "-o", "out", "--command"])
        .arg("sh -c 'sleep 30' {out}")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let out = stop_within(child, Signal::SIGINT, Duration::from_secs(3), "the check");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted before anything was synthesized"),
        "{stderr}"
    );
    assert!(!env.path().join("out").exists());
}

#[test]
fn sigterm_stops_the_run_and_the_next_run_resumes_from_the_cache() {
    let env = interrupted_run(Signal::SIGTERM);
    // Some of b's paragraphs were synthesized and cached before the signal: the rerun
    // synthesizes only the rest.
    let resumed = run(&env, &["in", "-o", "out"]);
    let (synthesized, cached) = units(&resumed);
    assert_eq!(resumed["articles"]["converted"], 1);
    assert_eq!(resumed["articles"]["unchanged"], 1);
    assert!(cached >= 4, "only {cached} units came from the cache");
    assert_eq!(synthesized + cached, 40);
}

/// The pipeline lets the engine go (its workers, for the library engine) once nothing is left
/// to speak, and never speaks after that.
#[test]
fn the_engine_is_released_once_after_the_last_unit() {
    use aloud::audio::check::Expectation;
    use aloud::backend::mock::{Mock, MockSettings};
    use aloud::backend::{EngineInfo, Request, SynthError, Synthesizer};
    use aloud::pipeline::PipelineSettings;
    use std::sync::Mutex;

    struct Recording(Mock, Mutex<Vec<&'static str>>);
    impl Synthesizer for Recording {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn check(&self) -> Result<EngineInfo, SynthError> {
            self.0.check()
        }
        fn synthesize(&self, r: &Request<'_>) -> Result<aloud::audio::Audio, SynthError> {
            self.1.lock().unwrap().push("speak");
            self.0.synthesize(r)
        }
        fn release(&self) {
            self.1.lock().unwrap().push("release");
        }
    }

    let env = TestEnv::new();
    corpus(&env, 4);
    let synth = Recording(Mock::new(MockSettings::default()), Mutex::new(Vec::new()));
    let engine = synth.check().unwrap();
    let out = env.path().join("out");
    let jobs = aloud::batch::discover(&[env.path().join("in")], &out, None)
        .unwrap()
        .jobs;
    std::fs::create_dir_all(&out).unwrap();
    let settings = PipelineSettings {
        jobs: 2,
        gap_ms: 100,
        chapter_gap_ms: 300,
        sample_rate: engine.sample_rate,
        text: Default::default(),
        retries: 0,
        expectation: Expectation::mock(60),
        cache: None,
        rebuild: true,
        fingerprint: "test".into(),
        publishing: Default::default(),
        ffmpeg: None,
    };
    let run = aloud::pipeline::convert(&jobs, &synth, &engine, &settings, &mut |_| {}).unwrap();
    assert_eq!(run.units.synthesized, 10, "{:?}", run.units);
    let log = synth.1.into_inner().unwrap();
    assert_eq!(log.len(), 11, "{log:?}");
    assert_eq!(log.last(), Some(&"release"), "{log:?}");
    assert_eq!(
        log.iter().filter(|e| **e == "release").count(),
        1,
        "{log:?}"
    );
}
