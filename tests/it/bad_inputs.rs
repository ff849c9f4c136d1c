//! The bad-input suite: one test per input, each with its expected outcome. Either the article
//! is converted correctly (and `aloud verify` agrees), or there is a clear error naming the
//! file and a non-zero exit; never a panic, a hang or a partial file.
//!
//! Small inputs are committed in `tests/fixtures/bad/`; large or unusual ones (a 5 MB
//! paragraph, 100,000 paragraphs, 10,000 nested elements, odd file names, loops) are made by
//! the test itself.

use crate::support::TestEnv;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bad")
        .join(name)
}

/// Runs `aloud convert --backend mock ARGS` on `file` (copied into a fresh folder under
/// `name`) and returns (exit code, stderr, env). Every run must end within a minute.
fn run(env: &TestEnv, name: &str, contents: &[u8], args: &[&str]) -> (i32, String) {
    env.write(&format!("in/{name}"), contents);
    let started = Instant::now();
    let out = env
        .mock_convert(&["in", "-o", "out", "--no-cache"])
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(110),
        "{name} took {:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{name} panicked:\n{stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

/// The article was converted, and verify agrees. Returns its manifest.
fn converted(env: &TestEnv, stem: &str, code: i32, stderr: &str) -> serde_json::Value {
    assert_eq!(code, 0, "{stem}: {stderr}");
    env.aloud().args(["verify", "out"]).assert().success();
    env.manifest(&format!("out/{stem}.json"))
}

/// The article failed with `message`, exit 1, and left no file.
fn refused(env: &TestEnv, name: &str, code: i32, stderr: &str, message: &str) {
    assert_eq!(code, 1, "{name}: {stderr}");
    assert!(
        stderr.contains(&format!("aloud: error: in/{name}: {message}")),
        "{name}: {stderr}"
    );
    let left: Vec<String> = env
        .files("out")
        .into_iter()
        .filter(|f| f != "index.html")
        .collect();
    assert!(left.is_empty(), "{name} left files: {left:?}");
}

fn texts(m: &serde_json::Value) -> Vec<String> {
    m["paragraphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap().to_string())
        .collect()
}

macro_rules! refused_fixture {
    ($test:ident, $file:literal, $message:literal) => {
        #[test]
        fn $test() {
            let env = TestEnv::new();
            let (code, stderr) = run(&env, $file, &std::fs::read(fixture($file)).unwrap(), &[]);
            refused(&env, $file, code, &stderr, $message);
        }
    };
}

macro_rules! converted_fixture {
    ($test:ident, $file:literal, $stem:literal, $expected:expr) => {
        #[test]
        fn $test() {
            let env = TestEnv::new();
            let (code, stderr) = run(&env, $file, &std::fs::read(fixture($file)).unwrap(), &[]);
            let m = converted(&env, $stem, code, &stderr);
            let expected: Vec<&str> = $expected;
            assert_eq!(texts(&m), expected);
        }
    };
}

refused_fixture!(
    an_empty_file,
    "empty.txt",
    "there is nothing to speak in it"
);
refused_fixture!(
    a_file_of_only_whitespace,
    "whitespace.txt",
    "there is nothing to speak in it"
);
refused_fixture!(
    a_file_of_only_furniture_lines,
    "only-furniture.txt",
    "there is nothing to speak in it"
);
refused_fixture!(
    a_png_renamed_txt,
    "picture.txt",
    "the file is not valid UTF-8 (first bad byte at offset 0, line 1)"
);
refused_fixture!(
    invalid_utf8_in_the_middle,
    "invalid-utf8-middle.txt",
    "the file is not valid UTF-8 (first bad byte at offset 49, line 2)"
);
converted_fixture!(
    a_utf8_byte_order_mark,
    "utf8-bom.txt",
    "utf8-bom",
    vec!["First paragraph after a byte-order mark.", "Second."]
);
converted_fixture!(
    utf16_little_endian_with_a_bom,
    "utf16le.txt",
    "utf16le",
    vec!["Little-endian UTF-16.", "Second paragraph."]
);
converted_fixture!(
    utf16_big_endian_with_a_bom,
    "utf16be.txt",
    "utf16be",
    vec!["Big-endian UTF-16.", "Second paragraph."]
);
converted_fixture!(
    crlf_line_ends,
    "crlf.txt",
    "crlf",
    vec!["First line of the first paragraph.", "Second paragraph."]
);
converted_fixture!(
    lone_cr_line_ends,
    "lone-cr.txt",
    "lone-cr",
    vec!["First paragraph.", "Second paragraph.", "Third paragraph."]
);
converted_fixture!(
    nul_bytes,
    "nul-bytes.txt",
    "nul-bytes",
    vec!["Text with NUL bytes inside.", "Second ."]
);
refused_fixture!(
    utf16_without_a_byte_order_mark,
    "utf16le-no-bom.txt",
    "the file is not text: 60 of its 120 bytes are NUL"
);
converted_fixture!(
    scene_breaks_and_lone_symbols,
    "scene-breaks.txt",
    "scene-breaks",
    vec!["The first part of the story.", "The second part."]
);
converted_fixture!(
    a_line_starting_with_a_dash,
    "dash-line.txt",
    "dash-line",
    vec!["-v xx --stdout this line starts with a dash", "--help"]
);
converted_fixture!(
    help_as_the_whole_text,
    "help-as-text.txt",
    "help-as-text",
    vec!["--help"]
);
converted_fixture!(
    ssml_looking_text_is_spoken_literally,
    "ssml.txt",
    "ssml",
    vec![
        "<speak>Hello <break time=\"10000s\"/> world</speak>",
        "<prosody rate=\"x-slow\">slow</prosody>"
    ]
);
converted_fixture!(
    right_to_left_text_and_emoji,
    "rtl-emoji.txt",
    "rtl-emoji",
    vec![
        "مرحبا بالعالم، هذه فقرة عربية.",
        "שלום עולם, זו פסקה בעברית.",
        "Emoji 🎧📚 and flags 🇮🇶 inside a sentence."
    ]
);
converted_fixture!(
    html_with_unclosed_tags,
    "unclosed.html",
    "unclosed",
    vec![
        "First paragraph bold and italic",
        "Second paragraph",
        "Third",
        "item one",
        "item two"
    ]
);

#[test]
fn shell_metacharacters_are_text_and_run_nothing() {
    let env = TestEnv::new();
    let (code, stderr) = run(
        &env,
        "shell.txt",
        &std::fs::read(fixture("shell.txt")).unwrap(),
        &[],
    );
    let m = converted(&env, "shell", code, &stderr);
    assert_eq!(
        texts(&m),
        ["$(touch pwned) `touch pwned2`; rm -rf / | cat && echo 'quoted' \"double\" > out"]
    );
    assert!(!env.path().join("pwned").exists() && !env.path().join("pwned2").exists());
}

#[test]
fn markdown_with_pathological_nesting() {
    let env = TestEnv::new();
    let (code, stderr) = run(
        &env,
        "pathological.md",
        &std::fs::read(fixture("pathological.md")).unwrap(),
        &[],
    );
    let m = converted(&env, "pathological", code, &stderr);
    let t = texts(&m);
    assert_eq!(t.first().map(String::as_str), Some("deep quote"));
    assert_eq!(
        t.last().map(String::as_str),
        Some("A last normal paragraph.")
    );
}

#[test]
fn a_five_megabyte_paragraph_without_punctuation() {
    let env = TestEnv::new();
    let words = ["alpha", "beta", "gamma", "delta", "epsilon"];
    let mut text = String::with_capacity(5_000_100);
    let mut i = 0usize;
    while text.len() < 5_000_000 {
        text.push_str(words[i % 5]);
        text.push(' ');
        i += 1;
    }
    let (code, stderr) = run(
        &env,
        "huge.txt",
        text.as_bytes(),
        &["--mock-ms-per-char", "1", "--max-chars", "2000"],
    );
    let m = converted(&env, "huge", code, &stderr);
    let units = m["paragraphs"][0]["units"].as_array().unwrap();
    assert!(units.len() >= 2500, "{}", units.len());
    // Cut between words only: every unit starts and ends with a whole word.
    for u in units {
        let s = u["spoken"].as_str().unwrap();
        assert!(s.chars().count() <= 2000);
        assert!(
            s.split(' ').all(|w| words.contains(&w)),
            "a word was cut in {:?}",
            &s[..40]
        );
    }
}

#[test]
fn a_hundred_thousand_one_word_paragraphs() {
    let env = TestEnv::new();
    let text: String = (0..100_000).map(|i| format!("word{i}\n")).collect();
    let (code, stderr) = run(
        &env,
        "many.txt",
        text.as_bytes(),
        &["--mock-ms-per-char", "1", "--gap-ms", "0"],
    );
    let m = converted(&env, "many", code, &stderr);
    assert_eq!(m["paragraphs"].as_array().unwrap().len(), 100_000);
    assert_eq!(m["chapters"].as_array().unwrap().len(), 100_000);
}

#[test]
fn html_nested_ten_thousand_levels_deep() {
    let env = TestEnv::new();
    let html = format!(
        "<html><body>{}<p>Deep down.</p>{}</body></html>",
        "<div>".repeat(10_000),
        "</div>".repeat(10_000)
    );
    let (code, stderr) = run(&env, "deep.html", html.as_bytes(), &[]);
    assert_eq!(
        texts(&converted(&env, "deep", code, &stderr)),
        ["Deep down."]
    );
}

#[test]
fn html_with_huge_attributes() {
    let env = TestEnv::new();
    let html = format!(
        "<html><body><p data-x=\"{}\" title='{}'>Visible text.</p></body></html>",
        "x".repeat(2_000_000),
        "y".repeat(500_000)
    );
    let (code, stderr) = run(&env, "attrs.html", html.as_bytes(), &[]);
    assert_eq!(
        texts(&converted(&env, "attrs", code, &stderr)),
        ["Visible text."]
    );
}

#[test]
fn a_file_name_with_spaces_quotes_a_newline_and_non_utf8_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    let name = std::ffi::OsStr::from_bytes(b"odd \"name\" 'x'\nline2 \xff.txt");
    std::fs::create_dir_all(env.path().join("in")).unwrap();
    std::fs::write(
        env.path().join("in").join(name),
        "Text in an oddly named file.",
    )
    .unwrap();
    env.mock_convert(&["in", "-o", "out", "--no-cache"])
        .assert()
        .success();
    env.aloud().args(["verify", "out"]).assert().success();
    // Output names are UTF-8 without control characters, so the manifest and page can name them.
    let expected = "odd \"name\" 'x'_line2 \u{fffd}";
    let m = env.manifest(&format!("out/{expected}.json"));
    assert_eq!(m["files"]["wav"], format!("{expected}.wav"));
    assert_eq!(m["source"], "odd \"name\" 'x'\nline2 \u{fffd}.txt");
}

#[test]
fn an_unreadable_file() {
    let env = TestEnv::new();
    env.write("in/good.txt", "Readable.");
    let bad = env.write("in/locked.txt", "Secret.");
    std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let root = std::fs::read(&bad).is_ok();
    if root {
        // Permission bits do not stop root (CI runs as root). A file whose read fails for root
        // too: the reading process's own /proc/self/mem, which gives EIO at offset 0.
        std::fs::remove_file(&bad).unwrap();
        std::os::unix::fs::symlink("/proc/self/mem", &bad).unwrap();
    }
    let out = env
        .mock_convert(&["in", "-o", "out", "--no-cache"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let reason = if root {
        "Input/output error"
    } else {
        "Permission denied"
    };
    assert!(
        stderr.contains(&format!(
            "aloud: error: in/locked.txt: could not read it: {reason}"
        )),
        "{stderr}"
    );
    assert!(
        env.path().join("out/good.wav").exists(),
        "the other article was not converted"
    );
    assert!(!env.path().join("out/locked.wav").exists());
}

#[test]
fn a_symlink_loop_in_a_batch_folder() {
    let env = TestEnv::new();
    env.write("in/a/one.txt", "One.");
    std::os::unix::fs::symlink(env.path().join("in"), env.path().join("in/a/loop")).unwrap();
    std::os::unix::fs::symlink(
        env.path().join("in/a/missing"),
        env.path().join("in/dangling.txt"),
    )
    .unwrap();
    let (code, stderr) = run(&env, "b.txt", b"Two.", &[]);
    assert_eq!(code, 0, "{stderr}");
    let files: Vec<String> = env
        .files("out")
        .into_iter()
        .filter(|f| f.ends_with(".wav"))
        .collect();
    assert_eq!(files, ["a/one.wav", "b.wav"]);
}

#[test]
fn an_output_folder_that_is_a_file() {
    let env = TestEnv::new();
    env.write("in/a.txt", "Text.");
    env.write("out", "I am a file.");
    let out = env.mock_convert(&["in", "-o", "out"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "aloud: error: the output folder out exists and is not a folder; choose another with -o DIR\n"
    );
    assert_eq!(env.read("out"), b"I am a file.");
}

#[test]
fn an_output_folder_on_a_full_disk() {
    let env = TestEnv::new();
    env.write("in/a-small.txt", "Small.");
    env.write("in/b-large.txt", crate::support::SAMPLE);
    env.write("in/c-after.txt", "After the disk filled.");
    // The test aid makes every output write fail with ENOSPC once 120 kB have been written.
    let out = env
        .mock_convert(&["in", "-o", "out", "--no-cache", "-j", "1"])
        .env("ALOUD_TEST_DISK_FULL_AFTER", "120000")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("b-large.txt: could not write the WAV file: No space left on device"),
        "{stderr}"
    );
    let files = env.files("out");
    assert!(files.contains(&"a-small.wav".to_string()), "{files:?}");
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("b-large") || f.starts_with('.')),
        "partial files: {files:?}"
    );
    // Nothing half-written is left anywhere, and what was written is whole.
    env.aloud()
        .args(["verify", "out/a-small.json"])
        .assert()
        .success();
}
