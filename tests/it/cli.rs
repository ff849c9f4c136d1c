//! The CLI end to end with the mock backend: exact, fast, no engine needed.

use crate::support::{SAMPLE, TestEnv};
use aloud::audio::ms_to_frames;
use aloud::backend::mock::{Mock, MockSettings};
use predicates::prelude::*;

const GAP_FRAMES: u64 = 8820; // 400 ms at 22050 Hz

#[test]
fn the_sample_article_becomes_eleven_exact_chapters() {
    let env = TestEnv::new();
    env.write("input/us-iraq-dialogue.txt", SAMPLE);
    env.mock_convert(&["input/us-iraq-dialogue.txt"])
        .assert()
        .success()
        .stderr(predicate::str::contains("11 chapters"));
    assert_eq!(
        env.files("output"),
        [
            "index.html",
            "us-iraq-dialogue.chapters.vtt",
            "us-iraq-dialogue.html",
            "us-iraq-dialogue.json",
            "us-iraq-dialogue.wav"
        ]
    );

    let m = env.manifest("output/us-iraq-dialogue.json");
    let paragraphs = m["paragraphs"].as_array().unwrap();
    let expected: Vec<&str> = SAMPLE.lines().skip(1).collect(); // line 1 is the player fallback
    assert_eq!(paragraphs.len(), 11);
    assert_eq!(
        paragraphs
            .iter()
            .map(|p| p["text"].as_str().unwrap())
            .collect::<Vec<_>>(),
        expected
    );

    // The mock makes every frame predictable: paragraph audio plus 400 ms gaps between.
    let mock = Mock::new(MockSettings::default());
    let mut frame = 0;
    for (i, p) in paragraphs.iter().enumerate() {
        if i > 0 {
            frame += GAP_FRAMES;
        }
        assert_eq!(p["start_frame"].as_u64().unwrap(), frame, "paragraph {i}");
        frame += mock.frames_for(expected[i]);
        assert_eq!(p["end_frame"].as_u64().unwrap(), frame, "paragraph {i}");
    }
    assert_eq!(m["total_frames"].as_u64().unwrap(), frame);
    let chapters = m["chapters"].as_array().unwrap();
    assert_eq!(chapters.len(), 11);
    assert_eq!(chapters[10]["end_frame"].as_u64().unwrap(), frame);
    assert_eq!(
        chapters[0]["title"],
        "With a view to future relations between the United States\u{2026}"
    );

    // The WAV holds exactly that many frames, and one cue per chapter at those frames.
    let wav = env.read("output/us-iraq-dialogue.wav");
    let layout = aloud::audio::inspect::inspect(std::io::Cursor::new(&wav)).unwrap();
    assert_eq!(layout.frames, frame);
    let starts: Vec<u64> = layout
        .cues
        .iter()
        .map(|c| u64::from(c.sample_offset))
        .collect();
    let manifest_starts: Vec<u64> = chapters
        .iter()
        .map(|c| c["start_frame"].as_u64().unwrap())
        .collect();
    assert_eq!(starts, manifest_starts);
    assert!(
        layout
            .info
            .contains(&("ICMT".into(), "us-iraq-dialogue.txt".into()))
    );
    assert!(layout.info.contains(&(
        "ISFT".into(),
        format!("aloud {}", env!("CARGO_PKG_VERSION"))
    )));
}

#[test]
fn snapshot_of_the_sample_outputs() {
    let env = TestEnv::new();
    env.write("in/us-iraq-dialogue.txt", SAMPLE);
    env.mock_convert(&["in", "-o", "out"]).assert().success();
    let vtt = String::from_utf8(env.read("out/us-iraq-dialogue.chapters.vtt")).unwrap();
    insta::assert_snapshot!("sample_chapters_vtt", vtt);
    let json = String::from_utf8(env.read("out/us-iraq-dialogue.json")).unwrap();
    insta::assert_snapshot!("sample_manifest_json", json);
    let page = String::from_utf8(env.read("out/us-iraq-dialogue.html")).unwrap();
    insta::assert_snapshot!("sample_page_html", page);
    let index = String::from_utf8(env.read("out/index.html")).unwrap();
    insta::assert_snapshot!("sample_index_html", index);
}

#[test]
fn help_texts_are_reviewed() {
    for (name, text) in aloud::cli::help_texts() {
        insta::assert_snapshot!(name.replace(' ', "_"), text);
    }
}

#[test]
fn outputs_are_byte_identical_whatever_the_number_of_workers() {
    let env = TestEnv::new();
    env.write("in/a.txt", SAMPLE);
    env.write("in/b.txt", "One.\n\nTwo is longer.\n\nThree.\n");
    env.mock_convert(&["in", "-o", "j1", "-j", "1"])
        .assert()
        .success();
    env.mock_convert(&["in", "-o", "j4", "-j", "4", "--mock-latency-ms", "3"])
        .assert()
        .success();
    let files = env.files("j1");
    assert_eq!(files.len(), 9);
    assert_eq!(files, env.files("j4"));
    for f in files {
        assert!(
            env.read(&format!("j1/{f}")) == env.read(&format!("j4/{f}")),
            "{f} differs"
        );
    }
}

#[test]
fn a_folder_is_mirrored_into_the_output_folder() {
    let env = TestEnv::new();
    env.write("in/a/b.txt", "Bee.");
    env.write("in/c.txt", "Sea.");
    env.write("in/.hidden/d.txt", "Hidden.");
    env.write("in/notes.md.bak", "Not an article.");
    env.mock_convert(&["in", "-o", "out"]).assert().success();
    assert_eq!(
        env.files("out"),
        [
            "a/b.chapters.vtt",
            "a/b.html",
            "a/b.json",
            "a/b.wav",
            "c.chapters.vtt",
            "c.html",
            "c.json",
            "c.wav",
            "index.html"
        ]
    );
    assert_eq!(env.manifest("out/a/b.json")["source"], "a/b.txt");
}

#[test]
fn the_default_output_folder_is_output_in_the_working_folder() {
    let env = TestEnv::new();
    env.write("x.txt", "Hello there.");
    env.mock_convert(&["x.txt"]).assert().success();
    assert_eq!(
        env.files("output"),
        ["index.html", "x.chapters.vtt", "x.html", "x.json", "x.wav"]
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let env = TestEnv::new();
    env.mock_convert(&["nope.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "aloud: error: nope.txt: No such file or directory",
        ));
    assert!(env.files("output").is_empty());
}

#[test]
fn a_folder_without_articles_is_an_error() {
    let env = TestEnv::new();
    env.write("in/readme.wav", "x");
    env.mock_convert(&["in"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no articles found in in (aloud reads files ending in .txt)",
        ));
}

#[test]
fn empty_and_whitespace_only_files_fail_with_nothing_written() {
    let env = TestEnv::new();
    env.write("in/empty.txt", "");
    env.write("in/blank.txt", " \n\t\r\n\u{a0}\n");
    env.write("in/furniture.txt", "Your browser doesn't support HTML5\n");
    env.write("in/good.txt", "Real text.");
    let assert = env.mock_convert(&["in", "-o", "out"]).assert().code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    for name in ["empty.txt", "blank.txt", "furniture.txt"] {
        assert!(
            stderr.contains(&format!(
                "aloud: error: {name}: there is nothing to speak in it"
            )),
            "{stderr}"
        );
    }
    assert!(stderr.contains("1 of 4 articles converted"), "{stderr}");
    assert_eq!(
        env.files("out"),
        [
            "good.chapters.vtt",
            "good.html",
            "good.json",
            "good.wav",
            "index.html"
        ]
    );
}

#[test]
fn invalid_utf8_names_the_byte_and_line() {
    let env = TestEnv::new();
    env.write("bad.txt", b"fine\nstill fine\nbroken \xC3\x28 here\n");
    env.mock_convert(&["bad.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "bad.txt: the file is not valid UTF-8 (first bad byte at offset 23, line 3)",
        ));
    assert!(env.files("output").is_empty());
}

#[test]
fn text_that_looks_like_options_or_shell_is_spoken_as_written() {
    let env = TestEnv::new();
    let lines = [
        "--help",
        "-v xx -w /etc/passwd",
        "$(touch pwned) `touch pwned2`; rm -rf / | cat && echo \"quoted\" 'single' > out",
        "<speak>Hello <break time=\"10000s\"/></speak>",
    ];
    env.write("odd.txt", lines.join("\n"));
    env.mock_convert(&["odd.txt"]).assert().success();
    let m = env.manifest("output/odd.json");
    let texts: Vec<&str> = m["paragraphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, lines);
    assert!(!env.path().join("pwned").exists() && !env.path().join("pwned2").exists());
}

#[test]
fn a_failing_paragraph_is_named_and_leaves_no_files_while_others_convert() {
    let env = TestEnv::new();
    env.write("in/a-good.txt", "Fine.\n\nAlso fine.");
    env.write("in/b-bad.txt", "One.\n\nTwo.\n\nThree goes BOOM.\n\nFour.");
    env.write("in/c-good.txt", "Fine too.");
    env.mock_convert(&["in", "-o", "out", "--mock-fail-on", "BOOM", "-j", "3"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "aloud: error: b-bad.txt: paragraph 3: mock failed (simulated failure): mock: the text contains the marker word 'BOOM'",
        ));
    let files = env.files("out");
    assert_eq!(
        files,
        [
            "a-good.chapters.vtt",
            "a-good.html",
            "a-good.json",
            "a-good.wav",
            "c-good.chapters.vtt",
            "c-good.html",
            "c-good.json",
            "c-good.wav",
            "index.html",
        ]
    );
}

#[test]
fn a_failed_run_leaves_the_previous_outputs_untouched() {
    let env = TestEnv::new();
    env.write("a.txt", "First version.\n\nSecond paragraph.");
    env.mock_convert(&["a.txt"]).assert().success();
    let before = env.read("output/a.wav");
    let page_before = env.read("output/a.html");
    env.write("a.txt", "First version.\n\nNow it goes BOOM.");
    env.mock_convert(&["a.txt", "--mock-fail-on", "BOOM"])
        .assert()
        .code(1);
    assert_eq!(env.read("output/a.wav"), before);
    assert_eq!(env.read("output/a.html"), page_before);
    assert_eq!(
        env.files("output"),
        ["a.chapters.vtt", "a.html", "a.json", "a.wav", "index.html"]
    );
}

#[test]
fn gap_and_rate_flags_shape_the_timeline() {
    let env = TestEnv::new();
    env.write("a.txt", "ab\ncd");
    env.mock_convert(&["a.txt", "--gap-ms", "1000", "--mock-ms-per-char", "10"])
        .assert()
        .success();
    let m = env.manifest("output/a.json");
    let per_para = ms_to_frames(20, 22050);
    assert_eq!(
        m["paragraphs"][1]["start_frame"].as_u64().unwrap(),
        per_para + 22050
    );
    assert_eq!(m["gap_ms"], 1000);
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let env = TestEnv::new();
    env.aloud().args(["convert"]).assert().code(2);
    env.aloud()
        .args(["convert", "--jobs", "0", "a.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--jobs: 0 is out of range"));
    env.aloud().args(["frobnicate"]).assert().code(2);
    env.aloud()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("convert"));
    env.aloud()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn an_output_folder_that_is_a_file_fails_cleanly() {
    let env = TestEnv::new();
    env.write("a.txt", "Text.");
    env.write("out", "I am a file");
    env.mock_convert(&["a.txt", "-o", "out"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("a.txt: could not write out/a.wav"));
    assert_eq!(env.read("out"), b"I am a file");
}

#[test]
fn ctrl_c_stops_the_run_quickly_keeps_finished_articles_and_leaves_no_partial_files() {
    let env = TestEnv::new();
    env.write("in/a.txt", "Quick.");
    let slow: Vec<String> = (0..40).map(|i| format!("Slow paragraph {i}.")).collect();
    env.write("in/b.txt", slow.join("\n\n"));
    let bin = assert_cmd::cargo::cargo_bin("aloud");
    let child = std::process::Command::new(bin)
        .current_dir(env.path())
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
            "200",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // a.txt finishes in about 200 ms; b.txt needs about 4 s.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let sent = std::time::Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("interrupted: 1 of 2 articles finished and kept"),
        "{stderr}"
    );
    assert_eq!(
        env.files("out"),
        ["a.chapters.vtt", "a.html", "a.json", "a.wav", "index.html"]
    );
}
