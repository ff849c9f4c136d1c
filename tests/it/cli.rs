//! The CLI end to end with the mock backend: exact, fast, no engine needed.

use crate::support::{SAMPLE, TestEnv, json_of, stdout_json};
use aloud::audio::ms_to_frames;
use aloud::backend::mock::{Mock, MockSettings};
use predicates::prelude::*;

const GAP_FRAMES: u64 = 8820; // 400 ms at 22050 Hz

#[test]
fn the_sample_article_becomes_eleven_exact_chapters() {
    let env = TestEnv::new();
    env.write("input/us-iraq-dialogue.txt", SAMPLE);
    env.mock_convert(&["input/us-iraq-dialogue.txt", "-v"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "converted input/us-iraq-dialogue.txt -> output/us-iraq-dialogue.wav (11 chapters, 2:33)",
        ));
    assert_eq!(
        env.files("output"),
        [
            "index.html",
            "us-iraq-dialogue.captions.vtt",
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

    // The mock makes every frame predictable: each unit's audio follows its spoken text
    // (the lexicon applied: the transcript keeps "UNAMI", the engine gets "you nah mee"),
    // with 400 ms gaps between paragraphs.
    let mock = Mock::new(MockSettings::default());
    let mut frame = 0;
    for (i, p) in paragraphs.iter().enumerate() {
        if i > 0 {
            frame += GAP_FRAMES;
        }
        assert_eq!(p["start_frame"].as_u64().unwrap(), frame, "paragraph {i}");
        let units = p["units"].as_array().unwrap();
        assert_eq!(units.len(), 1, "short paragraphs are one unit");
        frame += mock.frames_for(units[0]["spoken"].as_str().unwrap());
        assert_eq!(p["end_frame"].as_u64().unwrap(), frame, "paragraph {i}");
    }
    let unami = &paragraphs[7];
    assert!(unami["text"].as_str().unwrap().contains("or UNAMI, for"));
    assert!(
        unami["units"][0]["spoken"]
            .as_str()
            .unwrap()
            .contains("or you nah mee, for")
    );
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

/// Outputs made by an earlier build are found up to date unless their fingerprint changes, so
/// a change to what aloud writes for the same source and settings must raise
/// `OUTPUTS_REVISION`. This pins the revision to the sample's snapshots: when they change,
/// raise the revision and record the new digest here.
#[test]
fn the_outputs_revision_goes_with_the_sample_outputs() {
    use sha2::{Digest, Sha256};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    let mut hash = Sha256::new();
    for name in ["chapters_vtt", "manifest_json", "page_html", "index_html"] {
        let snap =
            std::fs::read_to_string(dir.join(format!("it__cli__sample_{name}.snap"))).unwrap();
        // The settings hash contains the revision itself.
        for line in snap.lines().filter(|l| !l.contains("\"settings_sha256\"")) {
            hash.update(line.as_bytes());
            hash.update(b"\n");
        }
    }
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        (aloud::batch::OUTPUTS_REVISION, digest.as_str()),
        (
            2,
            "b46d5df172719f5a49731022f3a21e19e6d48bf389bdb98a01a5fd518f70222c"
        ),
        "the sample's outputs changed: raise OUTPUTS_REVISION in src/batch.rs and record the new digest here"
    );
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
    assert_eq!(env.files("j1").len(), 11);
    env.assert_same_tree("j1", "j4");
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
            "a/b.captions.vtt",
            "a/b.chapters.vtt",
            "a/b.html",
            "a/b.json",
            "a/b.wav",
            "c.captions.vtt",
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
        [
            "index.html",
            "x.captions.vtt",
            "x.chapters.vtt",
            "x.html",
            "x.json",
            "x.wav"
        ]
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let env = TestEnv::new();
    env.mock_convert(&["nope.txt"]).assert().code(1).stderr(
        "aloud: error: cannot read the input nope.txt: No such file or directory (os error 2)\n",
    );
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
            "no articles found in in (aloud reads files ending in .txt, .md, .markdown, .html, .htm)",
        ));
}

#[test]
fn a_failing_file_is_named_by_its_path_when_two_inputs_share_a_name() {
    let env = TestEnv::new();
    env.write("a/x.md", "");
    env.write("b/x.md", "Fine text.");
    let assert = env
        .mock_convert(&["a/x.md", "b/x.md", "-o", "out", "--json"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("aloud: error: a/x.md: there is nothing to speak in it"),
        "{stderr}"
    );
    let summary = stdout_json(assert.get_output());
    assert_eq!(summary["failures"][0]["source"], "a/x.md");
}

#[test]
fn an_article_on_standard_input_is_converted_as_stdin() {
    let env = TestEnv::new();
    let page = "<!doctype html><html><head><title>Piped</title></head><body><h1>Piped</h1>\
                <p>Hello from a pipe, with a second clause.</p></body></html>";
    let summary = stdout_json(
        env.mock_convert(&["-", "-o", "out", "--json"])
            .write_stdin(page)
            .assert()
            .success()
            .get_output(),
    );
    assert_eq!(summary["articles"]["converted"], 1);
    let manifest = env.manifest("out/stdin.json");
    assert_eq!(manifest["source"], "stdin");
    assert_eq!(manifest["title"], "Piped");
    assert_eq!(
        manifest["paragraphs"][0]["text"],
        "Hello from a pipe, with a second clause."
    );
    // The same text again is up to date; other text is converted.
    let again = stdout_json(
        env.mock_convert(&["-", "-o", "out", "--json"])
            .write_stdin(page)
            .assert()
            .success()
            .get_output(),
    );
    assert_eq!(again["articles"]["unchanged"], 1);
    // Markdown needs --format; an empty input is named as standard input.
    env.aloud()
        .args(["segments", "--format", "markdown", "-"])
        .write_stdin("# Notes\n\n* first item\n")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("title: Notes")
                .and(predicate::str::contains("[list-item] first item")),
        );
    env.mock_convert(&["-", "-o", "empty"])
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "aloud: error: standard input: there is nothing to speak in it",
        ));
}

#[test]
fn html_reader_page_reads_the_sections_that_the_article_reader_drops() {
    let env = TestEnv::new();
    let sections: String = (1..=3)
        .map(|i| format!("<div><h2>Part {i}</h2><p>Part {i} has one short paragraph of about twenty words, which is all it says here.</p></div>"))
        .collect();
    env.write(
        "handout.html",
        format!(
            "<html><head><title>Handout</title></head><body><nav>Home</nav>{sections}</body></html>"
        ),
    );
    let chapters = |out: &str| {
        env.manifest(&format!("{out}/handout.json"))["chapters"]
            .as_array()
            .unwrap()
            .len()
    };
    env.mock_convert(&["handout.html", "-o", "article"])
        .assert()
        .success();
    assert!(chapters("article") < 3);
    env.mock_convert(&["handout.html", "-o", "page", "--html-reader", "page"])
        .assert()
        .success();
    assert_eq!(chapters("page"), 3);
    // From aloud.toml too; a flag still wins.
    env.write("aloud.toml", "html_reader = \"page\"\n");
    env.mock_convert(&["handout.html", "-o", "toml"])
        .assert()
        .success();
    assert_eq!(chapters("toml"), 3);
    env.mock_convert(&["handout.html", "-o", "flag", "--html-reader", "article"])
        .assert()
        .success();
    assert!(chapters("flag") < 3);
}

#[test]
fn a_page_converted_into_its_own_folder_is_not_overwritten_by_its_player_page() {
    let env = TestEnv::new();
    let page = "<html><head><title>Mine</title></head><body><h1>Mine</h1><p>My own text.</p></body></html>";
    env.write("site/p.html", page);
    env.mock_convert(&["site/p.html", "-o", "site"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "site/p.html would be overwritten by its own player page site/p.html; written as site/p.html.* instead",
        ));
    assert_eq!(env.read("site/p.html"), page.as_bytes());
    assert!(env.path().join("site/p.html.html").exists());
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
                "aloud: error: in/{name}: there is nothing to speak in it"
            )),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains("1 converted, 3 failed of 4 articles"),
        "{stderr}"
    );
    assert_eq!(
        env.files("out"),
        [
            "good.captions.vtt",
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
            "aloud: error: in/b-bad.txt: paragraph 3: mock failed (simulated failure): mock: the text contains the marker word 'BOOM'",
        ));
    let files = env.files("out");
    assert_eq!(
        files,
        [
            "a-good.captions.vtt",
            "a-good.chapters.vtt",
            "a-good.html",
            "a-good.json",
            "a-good.wav",
            "c-good.captions.vtt",
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
        [
            "a.captions.vtt",
            "a.chapters.vtt",
            "a.html",
            "a.json",
            "a.wav",
            "index.html"
        ]
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
        .stderr(
            "aloud: error: the output folder out exists and is not a folder; choose another with -o DIR\n",
        );
    assert_eq!(env.read("out"), b"I am a file");
}

#[test]
fn html_and_markdown_articles_become_titled_nested_chapters() {
    let env = TestEnv::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    env.write(
        "in/page.html",
        std::fs::read(root.join("input/city-library-audio-archive.html")).unwrap(),
    );
    env.write(
        "in/nested.md",
        std::fs::read(root.join("tests/fixtures/text/nested.md")).unwrap(),
    );
    env.mock_convert(&["in", "-o", "out"]).assert().success();

    let m = env.manifest("out/page.json");
    assert_eq!(
        m["title"],
        "City library opens its oral-history archive to listeners"
    );
    assert_eq!(m["author"], "Maya Okafor");
    assert_eq!(m["date"], "2026-10-14T09:30:00-05:00");
    let titles: Vec<&str> = m["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "City library opens its oral-history archive to listeners",
            "Years of careful work",
            "What listeners will find"
        ]
    );

    let m = env.manifest("out/nested.json");
    let chapters = m["chapters"].as_array().unwrap();
    let shape: Vec<(String, u64, Option<u64>, u64, u64)> = chapters
        .iter()
        .map(|c| {
            (
                c["title"].as_str().unwrap().to_string(),
                c["level"].as_u64().unwrap(),
                c["parent"].as_u64(),
                c["paragraphs"][0].as_u64().unwrap(),
                c["paragraphs"][1].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("Field notes".to_string(), 1, None, 0, 0),
            ("Spring".to_string(), 1, None, 1, 10),
            ("March".to_string(), 2, Some(1), 3, 7),
            ("April".to_string(), 2, Some(1), 8, 10),
            ("Summer".to_string(), 1, None, 11, 13),
        ]
    );
    assert_eq!(m["skipped"][0]["kind"], "code");
    assert_eq!(m["skipped"][0]["text"], "print(\"not spoken\")");
    // The WAV carries the flat list: one cue per chapter, nested or not.
    let wav = env.read("out/nested.wav");
    let layout = aloud::audio::inspect::inspect(std::io::Cursor::new(&wav)).unwrap();
    assert_eq!(layout.cues.len(), 5);
    let info: Vec<(&str, &str)> = layout
        .info
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| *k != "ISFT")
        .collect();
    assert_eq!(
        info,
        [
            ("INAM", "Field notes"),
            ("IART", "A. Writer, B. Editor"),
            ("ICMT", "nested.md"),
            ("ICRD", "2025-03-04"),
        ]
    );
    // Every unit maps back to its paragraph and chapter.
    for p in m["paragraphs"].as_array().unwrap() {
        let chapter = &chapters[p["chapter"].as_u64().unwrap() as usize];
        let idx = p["index"].as_u64().unwrap();
        assert!(
            chapter["paragraphs"][0].as_u64().unwrap() <= idx
                && idx <= chapter["paragraphs"][1].as_u64().unwrap()
        );
        assert!(!p["units"].as_array().unwrap().is_empty());
    }
}

#[test]
fn long_paragraphs_are_spoken_in_several_units_under_one_chapter() {
    let env = TestEnv::new();
    let long = "This sentence is part of a very long paragraph indeed. ".repeat(30);
    env.write("a.txt", format!("Short one.\n\n{long}"));
    env.mock_convert(&["a.txt", "--max-chars", "200"])
        .assert()
        .success();
    let m = env.manifest("output/a.json");
    assert_eq!(m["chapters"].as_array().unwrap().len(), 2);
    let units = m["paragraphs"][1]["units"].as_array().unwrap();
    assert!(units.len() >= 8, "{}", units.len());
    let mut at = m["paragraphs"][1]["start_frame"].as_u64().unwrap();
    for u in units {
        assert!(u["spoken"].as_str().unwrap().chars().count() <= 200);
        // Units of one paragraph follow each other with no gap.
        assert_eq!(u["start_frame"].as_u64().unwrap(), at);
        at = u["end_frame"].as_u64().unwrap();
    }
    assert_eq!(at, m["paragraphs"][1]["end_frame"].as_u64().unwrap());
}

#[test]
fn lexicon_and_furniture_files_extend_the_defaults() {
    let env = TestEnv::new();
    env.write(
        "a.txt",
        "Kubernetes runs the NASA jobs.\n\nBrought to you by Acme\n\nEnd.",
    );
    env.write(
        "lex.toml",
        "[words]\nkubernetes = \"koo ber net eez\"\n[case_sensitive]\nNASA = \"nassa\"\n",
    );
    env.write(
        "furniture.txt",
        "# house rules\n^brought to you by .{1,40}$\n",
    );
    env.mock_convert(&[
        "a.txt",
        "--lexicon",
        "lex.toml",
        "--furniture",
        "furniture.txt",
    ])
    .assert()
    .success();
    let m = env.manifest("output/a.json");
    let paragraphs = m["paragraphs"].as_array().unwrap();
    assert_eq!(paragraphs.len(), 2);
    assert_eq!(paragraphs[0]["text"], "Kubernetes runs the NASA jobs.");
    assert_eq!(
        paragraphs[0]["units"][0]["spoken"],
        "koo ber net eez runs the nassa jobs."
    );

    env.write("bad.toml", "[words]\nx = 3\n");
    env.mock_convert(&["a.txt", "--lexicon", "bad.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml").and(predicate::str::contains("line 2")));
}

#[test]
fn format_can_be_forced() {
    let env = TestEnv::new();
    env.write(
        "page.txt",
        "<html><body><p>Hello <b>there</b>.</p><script>x()</script></body></html>",
    );
    env.mock_convert(&["page.txt", "--format", "html"])
        .assert()
        .success();
    assert_eq!(
        env.manifest("output/page.json")["paragraphs"][0]["text"],
        "Hello there."
    );
}

#[test]
fn segments_shows_what_would_be_spoken_without_an_engine() {
    let env = TestEnv::new();
    env.write(
        "in/a.md",
        "# T\n\nOne.\n\n## S\n\nTwo UNAMI.\n\n```\ncode\n```\n",
    );
    // No engine on PATH: segments never needs one.
    let out = env
        .aloud()
        .args(["segments", "in/a.md"])
        .env("PATH", "/nonexistent")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "in/a.md\n  title: T\n  2 chapters, 3 paragraphs, 3 units\n  chapter 1: T\n      p1.1 [text] One.\n  chapter 2: S\n      p2.1 [heading] S\n      p3.1 [text] Two you nah mee.\n      (not spoken: code block, 1 lines)\n"
    );
    let v = json_of(env.aloud().args(["segments", "--json", "in"]));
    assert_eq!(v["articles"][0]["title"], "T");
    assert_eq!(
        v["articles"][0]["paragraphs"][2]["units"][0],
        "Two you nah mee."
    );
    assert_eq!(v["articles"][0]["skipped"][0]["kind"], "code");
    assert!(!env.path().join("output").exists());
}
