//! Publishing: MP3, Opus and M4B through ffmpeg, the chapter sidecars, loudness. Every file is
//! read back by a program other than aloud: ffprobe for the encoded files and FFmetadata,
//! cuetools' `cueprint`/`cuebreakpoints` for the CUE sheet, ffmpeg's `ebur128` filter for the
//! loudness. A stand-in ffmpeg (`tests/fixtures/ffmpeg/ffmpeg`) fails, hangs or waits on cue.

use crate::support::{
    SAMPLE, TestEnv, json_of, output_of, process_gone, read_pid, require, sample_run, stdout_json,
    stop_within, which,
};
use nix::sys::signal::Signal;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const ALL_FORMATS: &str = "wav,mp3,opus,m4b";
const ALL_CHAPTERS: &str = "vtt,json,ffmetadata,podcast,cue";

/// A Markdown article with an author, a date and nested chapters.
const AUTHORED: &str = "+++\ntitle = 'Notes = on #1; a \"test\" \\ back'\nauthor = \"Ann Author\"\ndate = \"2024-05-01\"\n+++\n\n\
    # Notes\n\nAn opening paragraph that is long enough to be heard for a while.\n\n\
    ## First part\n\nThe first part says something.\n\n### A detail\n\nA detail of the first part.\n\n\
    ## Second part\n\nThe second part says something else, at some length, to be heard.\n";

fn ffprobe(path: &Path) -> Value {
    let json = output_of(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_chapters",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
            path.to_str().unwrap(),
        ],
    );
    serde_json::from_str(&json).unwrap()
}

fn secs(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        other => other
            .as_f64()
            .unwrap_or_else(|| panic!("not a number: {other}")),
    }
}

/// The file's chapters agree with the manifest's: the same titles, starts within 50 ms.
fn check_chapters(file: &Path, m: &Value) {
    let probed = ffprobe(file);
    let got = probed["chapters"].as_array().unwrap();
    let want = m["chapters"].as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{}", file.display());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["tags"]["title"], w["title"], "{}", file.display());
        let (a, b) = (secs(&g["start_time"]), secs(&w["start_seconds"]));
        assert!(
            (a - b).abs() <= 0.05,
            "{}: chapter {} starts at {a}, the manifest says {b}",
            file.display(),
            w["title"]
        );
    }
    // The duration too.
    let duration = secs(&probed["format"]["duration"]);
    let expected = secs(&m["duration_seconds"]);
    assert!(
        (duration - expected).abs() <= 0.1,
        "{}: {duration} s, the manifest says {expected} s",
        file.display()
    );
}

/// Tags as ffprobe shows them: the container's, or the audio stream's (Ogg keeps them there).
fn tags(file: &Path) -> Value {
    let probed = ffprobe(file);
    let mut tags = probed["format"]["tags"].clone();
    if tags.is_null() || tags.get("title").is_none() {
        tags = probed["streams"][0]["tags"].clone();
    }
    tags
}

/// Every file in `dir` that is a temporary one (hidden).
fn hidden_files(env: &TestEnv, dir: &str) -> Vec<String> {
    env.files(dir)
        .into_iter()
        .filter(|f| f.split('/').any(|part| part.starts_with('.')))
        .collect()
}

#[test]
fn every_format_carries_the_chapters_and_the_tags() {
    if !require("ffmpeg") || !require("ffprobe") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/us-iraq-dialogue.txt", SAMPLE);
    env.write("in/notes.md", AUTHORED);
    env.mock_convert(&[
        "in",
        "-o",
        "out",
        "--formats",
        ALL_FORMATS,
        "--chapters",
        ALL_CHAPTERS,
    ])
    .assert()
    .success();
    assert!(hidden_files(&env, "out").is_empty());
    for name in ["us-iraq-dialogue", "notes"] {
        let m = env.manifest(&format!("out/{name}.json"));
        let files = &m["files"];
        for format in ["wav", "mp3", "opus", "m4b"] {
            assert_eq!(files[format], format!("{name}.{format}"));
            let file = env.path().join("out").join(format!("{name}.{format}"));
            check_chapters(&file, &m);
            if format == "wav" {
                continue;
            }
            let t = tags(&file);
            let title = t["title"].as_str().or(t["TITLE"].as_str());
            assert_eq!(title, m["title"].as_str(), "{format}: {t}");
            if name == "notes" {
                let artist = t["artist"].as_str().or(t["ARTIST"].as_str());
                assert_eq!(artist, Some("Ann Author"), "{format}: {t}");
            }
        }
        assert_eq!(
            m["encoder"].as_str().unwrap().split(' ').next(),
            Some("ffmpeg")
        );
        for (key, suffix) in [
            ("chapters_vtt", "chapters.vtt"),
            ("chapters_json", "chapters.json"),
            ("ffmetadata", "ffmetadata"),
            ("podcast_chapters", "podcast-chapters.json"),
            ("cue", "cue"),
        ] {
            assert_eq!(files[key], format!("{name}.{suffix}"));
            assert!(
                env.path()
                    .join("out")
                    .join(format!("{name}.{suffix}"))
                    .is_file()
            );
        }
    }

    // The page offers every audio file, smallest first, with exact types, and the chapter
    // files for download.
    let page = String::from_utf8(env.read("out/notes.html")).unwrap();
    let sources: Vec<&str> = page.lines().filter(|l| l.starts_with("<source ")).collect();
    assert_eq!(sources.len(), 4, "{sources:?}");
    let size = |f: &str| {
        std::fs::metadata(env.path().join("out").join(f))
            .unwrap()
            .len()
    };
    let order: Vec<&str> = sources
        .iter()
        .map(|l| l.split('"').nth(1).unwrap())
        .collect();
    let mut by_size = order.clone();
    by_size.sort_by_key(|f| size(f));
    assert_eq!(order, by_size);
    assert!(page.contains("<source src=\"notes.opus\" type=\"audio/ogg; codecs=opus\">"));
    assert!(page.contains("<source src=\"notes.mp3\" type=\"audio/mpeg\">"));
    assert!(page.contains("type=\"audio/mp4; codecs=&quot;mp4a.40.2&quot;\""));
    for f in [
        "notes.podcast-chapters.json",
        "notes.cue",
        "notes.ffmetadata",
    ] {
        assert!(page.contains(&format!("href=\"{f}\" download")), "{f}");
    }
    // The index links every audio file.
    let index = String::from_utf8(env.read("out/index.html")).unwrap();
    for f in ["notes.mp3", "notes.opus", "notes.m4b", "notes.wav"] {
        assert!(index.contains(&format!("href=\"{f}\"")), "{f}");
    }
}

/// With `--sample-rate` the article is resampled from the engine's rate: the encoded files'
/// chapters are still where the WAV's are.
#[test]
fn encoded_chapters_follow_the_article_rate_not_the_engines() {
    if !require("ffmpeg") || !require("ffprobe") {
        return;
    }
    let env = TestEnv::new();
    let m = sample_run(
        &env,
        &[
            "--backend",
            "mock",
            "--formats",
            ALL_FORMATS,
            "--sample-rate",
            "16000",
        ],
    );
    assert_eq!(m["sample_rate"], 16000);
    assert_ne!(m["engine"]["sample_rate"], 16000);
    for format in ["wav", "mp3", "opus", "m4b"] {
        check_chapters(
            &env.path().join(format!("out/us-iraq-dialogue.{format}")),
            &m,
        );
    }
}

#[test]
fn the_chapter_sidecars_read_back_in_other_programs() {
    if !require("ffprobe") || !require("cueprint") || !require("cuebreakpoints") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/notes.md", AUTHORED);
    env.mock_convert(&["in", "-o", "out", "--chapters", ALL_CHAPTERS])
        .assert()
        .success();
    let m = env.manifest("out/notes.json");
    let chapters = m["chapters"].as_array().unwrap();
    let rate = m["sample_rate"].as_u64().unwrap();
    let out = env.path().join("out");

    // FFmetadata, read by ffmpeg: sample-exact chapters and the tags, escapes undone.
    let meta = ffprobe_ffmetadata(&out.join("notes.ffmetadata"));
    let got = meta["chapters"].as_array().unwrap();
    assert_eq!(got.len(), chapters.len());
    for (g, c) in got.iter().zip(chapters) {
        assert_eq!(g["time_base"], format!("1/{rate}"));
        assert_eq!(g["start"], c["start_frame"]);
        assert_eq!(g["end"], c["end_frame"]);
        assert_eq!(g["tags"]["title"], c["title"]);
    }
    let t = &meta["format"]["tags"];
    assert_eq!(t["title"], m["title"]);
    assert_eq!(m["title"], "Notes = on #1; a \"test\" \\ back");
    assert_eq!(t["artist"], "Ann Author");
    assert_eq!(t["date"], "2024-05-01");

    // The CUE sheet, read by cuetools (libcue): titles, performer, and starts to 1/75 s.
    let cue = out.join("notes.cue");
    let printed = output_of(
        "cueprint",
        &["-d", "%T|%P\n", "-t", "%n|%t\n", cue.to_str().unwrap()],
    );
    let mut lines = printed.lines();
    assert_eq!(
        lines.next(),
        Some("Notes = on #1; a 'test' \\ back|Ann Author")
    );
    for (i, c) in chapters.iter().enumerate() {
        assert_eq!(
            lines.next(),
            // CUE strings cannot hold a double quote: it becomes a single one.
            Some(
                format!(
                    "{}|{}",
                    i + 1,
                    c["title"].as_str().unwrap().replace('"', "'")
                )
                .as_str()
            )
        );
    }
    // cuebreakpoints prints every start but the first, as M:SS.FF.
    let breaks = output_of("cuebreakpoints", &[cue.to_str().unwrap()]);
    let breaks: Vec<f64> = breaks
        .lines()
        .map(|l| {
            let (m, rest) = l.split_once(':').unwrap();
            let (s, f) = rest.split_once('.').unwrap();
            m.parse::<f64>().unwrap() * 60.0
                + s.parse::<f64>().unwrap()
                + f.parse::<f64>().unwrap() / 75.0
        })
        .collect();
    assert_eq!(breaks.len(), chapters.len() - 1);
    for (b, c) in breaks.iter().zip(&chapters[1..]) {
        assert!(
            (b - secs(&c["start_seconds"])).abs() <= 1.0 / 75.0,
            "{b} vs {c}"
        );
    }

    // Podcasting 2.0 chapters: the required fields, ascending, naming the audio file.
    let podcast: Value =
        serde_json::from_slice(&env.read("out/notes.podcast-chapters.json")).unwrap();
    assert_eq!(podcast["version"], "1.2.0");
    assert_eq!(podcast["title"], m["title"]);
    assert_eq!(podcast["author"], "Ann Author");
    assert!(out.join(podcast["fileName"].as_str().unwrap()).is_file());
    let pc = podcast["chapters"].as_array().unwrap();
    assert_eq!(pc.len(), chapters.len());
    let mut last = -1.0;
    for (p, c) in pc.iter().zip(chapters) {
        let start = p["startTime"].as_f64().unwrap();
        assert!(start > last, "ascending");
        last = start;
        assert_eq!(p["title"], c["title"]);
        assert!((start - secs(&c["start_seconds"])).abs() < 0.0015);
        assert!(p["endTime"].as_f64().unwrap() > start);
    }

    // aloud's JSON chapters: levels and parents as in the manifest.
    let own: Value = serde_json::from_slice(&env.read("out/notes.chapters.json")).unwrap();
    for (o, c) in own["chapters"].as_array().unwrap().iter().zip(chapters) {
        assert_eq!(o["level"], c["level"]);
        assert_eq!(o["parent"], c["parent"]);
        assert_eq!(o["start_frame"], c["start_frame"]);
    }
}

fn ffprobe_ffmetadata(path: &Path) -> Value {
    let json = output_of(
        "ffprobe",
        &[
            "-v",
            "error",
            "-f",
            "ffmetadata",
            "-show_chapters",
            "-show_format",
            "-of",
            "json",
            path.to_str().unwrap(),
        ],
    );
    serde_json::from_str(&json).unwrap()
}

/// Integrated loudness (LUFS) and true peak (dBTP) as ffmpeg's `ebur128` filter measures
/// them (it oversamples to 192 kHz for the true peak).
fn ffmpeg_loudness(path: &Path) -> (f64, f64) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = &text[text.rfind("Summary:").expect("an ebur128 summary")..];
    let value = |key: &str| -> f64 {
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in {summary}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (value("I:"), value("Peak:"))
}

#[test]
fn mock_audio_is_brought_to_the_target_by_one_gain() {
    if !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/a.txt", SAMPLE);
    env.write(
        "in/b.txt",
        "One short paragraph.\n\nAnother, a little longer than the first.",
    );
    let summary =
        json_of(&mut env.mock_convert(&["in", "-o", "out", "--loudness", "-23", "--json", "-q"]));
    for name in ["a", "b"] {
        let m = env.manifest(&format!("out/{name}.json"));
        let l = &m["loudness"];
        let n = &l["normalization"];
        assert_eq!(n["target_lufs"], -23.0);
        assert_eq!(n["ceiling_dbtp"], -1.0);
        assert_eq!(n["limited_frames"], 0, "tones have no peaks to limit");
        let gain = n["gain_db"].as_f64().unwrap();
        let before = n["measured_integrated_lufs"].as_f64().unwrap();
        assert!((before + gain - -23.0).abs() < 0.02, "{l}");
        let (i, tp) = ffmpeg_loudness(&env.path().join(format!("out/{name}.wav")));
        assert!((i - -23.0).abs() <= 0.5, "{name}: ffmpeg measures {i} LUFS");
        assert!(tp <= -1.0, "{name}: ffmpeg measures {tp} dBTP");
        assert!(
            (l["integrated_lufs"].as_f64().unwrap() - i).abs() <= 0.15,
            "{l} vs {i}"
        );
    }
    let spread = &summary["loudness"];
    assert_eq!(spread["articles"], 2);
    assert!(spread["spread_lu"].as_f64().unwrap() <= 0.1, "{spread}");
}

/// espeak-ng speech has peaks ~20 dB above its loudness: at -16 LUFS the limiter works hard.
#[test]
fn espeak_speech_is_normalised_under_the_true_peak_ceiling_as_ffmpeg_measures_it() {
    if !require("espeak-ng") || !require("ffmpeg") || !require("ffprobe") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/us-iraq-dialogue.txt", SAMPLE);
    env.write("in/notes.md", AUTHORED);
    let out = env
        .aloud()
        .args([
            "convert",
            "in",
            "-o",
            "out",
            "--formats",
            ALL_FORMATS,
            "--loudness",
            "-16",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let summary = stdout_json(&out);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(" LUFS (spread 0."), "{stderr}");
    assert!(summary["loudness"]["spread_lu"].as_f64().unwrap() <= 0.2);
    for name in ["us-iraq-dialogue", "notes"] {
        let m = env.manifest(&format!("out/{name}.json"));
        let n = &m["loudness"]["normalization"];
        assert!(n["limited_frames"].as_u64().unwrap() > 0, "{n}");
        let (i, tp) = ffmpeg_loudness(&env.path().join(format!("out/{name}.wav")));
        assert!((i - -16.0).abs() <= 0.5, "{name}: ffmpeg measures {i} LUFS");
        assert!(tp <= -1.0, "{name}: ffmpeg measures {tp} dBTP");
        assert!(
            (m["loudness"]["integrated_lufs"].as_f64().unwrap() - i).abs() <= 0.15,
            "{name}: {} vs {i}",
            m["loudness"]
        );
        // Real speech keeps its chapters in every format.
        for format in ["mp3", "opus", "m4b"] {
            check_chapters(&env.path().join(format!("out/{name}.{format}")), &m);
        }
    }
}

#[test]
fn measured_loudness_agrees_with_ffmpeg_and_plain_wav_runs_skip_it_unasked() {
    if !require("espeak-ng") || !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    env.write("a.txt", SAMPLE);
    env.aloud()
        .args(["convert", "a.txt", "-q"])
        .assert()
        .success();
    assert!(env.manifest("output/a.json").get("loudness").is_none());
    env.aloud()
        .args(["convert", "a.txt", "-q", "--measure-loudness"])
        .assert()
        .success();
    let m = env.manifest("output/a.json");
    let l = &m["loudness"];
    assert!(l.get("normalization").is_none());
    let (i, tp) = ffmpeg_loudness(&env.path().join("output/a.wav"));
    assert!(
        (l["integrated_lufs"].as_f64().unwrap() - i).abs() <= 0.1,
        "{l} vs {i}"
    );
    assert!(
        (l["true_peak_dbtp"].as_f64().unwrap() - tp).abs() <= 0.3,
        "{l} vs {tp}"
    );
    // Publishing compressed files measures without being asked, and the same way.
    env.aloud()
        .args([
            "convert",
            "a.txt",
            "-q",
            "--formats",
            "wav,mp3",
            "-o",
            "pub",
        ])
        .assert()
        .success();
    assert_eq!(env.manifest("pub/a.json")["loudness"], m["loudness"]);
}

/// A PATH with the stand-in ffmpeg first, and `REAL_FFMPEG` for it to call.
fn fake_ffmpeg(cmd: &mut assert_cmd::Command) {
    cmd.envs(fake_ffmpeg_env());
}

/// `PATH` with the fake ffmpeg first, and `REAL_FFMPEG`, the one it hands on to.
fn fake_ffmpeg_env() -> [(&'static str, String); 2] {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ffmpeg");
    let path = format!(
        "{}:{}",
        fixtures.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let real = which("ffmpeg").unwrap().display().to_string();
    [("PATH", path), ("REAL_FFMPEG", real)]
}

#[test]
fn a_missing_ffmpeg_is_reported_before_any_synthesis() {
    let env = TestEnv::new();
    env.write("a.txt", "Text.");
    let empty = env.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    env.mock_convert(&["a.txt", "--formats", "wav,mp3"])
        .env("PATH", &empty)
        .assert()
        .code(1)
        .stderr(
            "aloud: error: ffmpeg was not found on PATH: install it (apt-get install ffmpeg), or ask only for wav in --formats\n",
        );
    assert!(!env.path().join("output").exists());
    assert!(!env.cache_dir().exists(), "nothing was synthesized");
    // A WAV and its sidecars need no ffmpeg.
    env.mock_convert(&["a.txt", "--chapters", ALL_CHAPTERS, "--loudness", "-16"])
        .env("PATH", &empty)
        .assert()
        .success();
}

#[test]
fn an_ffmpeg_without_an_encoder_is_reported_before_any_synthesis() {
    if !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    env.write("a.txt", "Text.");
    let mut cmd = env.mock_convert(&["a.txt", "--formats", "mp3,opus"]);
    fake_ffmpeg(&mut cmd);
    cmd.env("FAKE_FFMPEG_DO", "no-opus")
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "aloud: error: ffmpeg has no libopus encoder, which opus needs",
        ));
    assert!(!env.path().join("output").exists());
}

#[test]
fn a_failing_encode_fails_that_article_with_ffmpegs_stderr_and_leaves_no_files() {
    if !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    env.write(
        "in/bad.txt",
        "This one will not encode.\n\nSecond paragraph.",
    );
    env.write("in/good.txt", "This one will.");
    let mut cmd = env.mock_convert(&["in", "-o", "out", "--formats", "wav,mp3,opus"]);
    fake_ffmpeg(&mut cmd);
    cmd.env("FAKE_FFMPEG_MATCH", "/.bad.opus.")
        .env("FAKE_FFMPEG_DO", "fail")
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "aloud: error: in/bad.txt: ffmpeg could not make the opus (exit status 1): ffmpeg exploded: Invalid argument while encoding",
        ));
    assert_eq!(
        env.files("out"),
        [
            "good.captions.vtt",
            "good.chapters.vtt",
            "good.html",
            "good.json",
            "good.mp3",
            "good.opus",
            "good.wav",
            "index.html"
        ]
    );
}

#[test]
fn encoding_an_article_does_not_hold_up_the_next_ones() {
    if !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/a.txt", "The first article.");
    env.write(
        "in/b.txt",
        "The second article, converted while the first one encodes.",
    );
    // a's encode waits until b's manifest exists: were encoding in the writer's way, b could
    // never finish and a's encode would give up waiting.
    let log = env.path().join("ffmpeg.log");
    let mut cmd = env.mock_convert(&["in", "-o", "out", "--formats", "mp3", "-j", "2"]);
    fake_ffmpeg(&mut cmd);
    cmd.env("FAKE_FFMPEG_MATCH", "/.a.mp3.")
        .env("FAKE_FFMPEG_DO", "wait")
        .env("FAKE_FFMPEG_UNTIL", env.path().join("out/b.json"))
        .env("FAKE_FFMPEG_LOG", &log)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "released\n");
    assert!(env.path().join("out/a.mp3").is_file());
    // Only the asked-for formats are kept: no WAV.
    assert_eq!(
        env.files("out"),
        [
            "a.captions.vtt",
            "a.chapters.vtt",
            "a.html",
            "a.json",
            "a.mp3",
            "b.captions.vtt",
            "b.chapters.vtt",
            "b.html",
            "b.json",
            "b.mp3",
            "index.html"
        ]
    );
}

#[test]
fn ctrl_c_kills_a_running_encode_and_leaves_no_temporary_files() {
    if !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/a.txt", "Quick.");
    env.write("in/b.txt", "This one hangs in ffmpeg.");
    let pidfile = env.path().join("ffmpeg.pid");
    let child = env
        .aloud_std()
        .envs(fake_ffmpeg_env())
        .env("FAKE_FFMPEG_MATCH", "/.b.mp3.")
        .env("FAKE_FFMPEG_DO", "hang")
        .env("FAKE_FFMPEG_PID", &pidfile)
        .args([
            "convert",
            "--backend",
            "mock",
            "in",
            "-o",
            "out",
            "--formats",
            "wav,mp3",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // b's encode hangs; a, converted first, is finished.
    let a_done = env.path().join("out/a.json");
    while !pidfile.is_file()
        || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty()
        || !a_done.is_file()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "ffmpeg never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = read_pid(&pidfile);
    let out = stop_within(child, Signal::SIGINT, Duration::from_secs(3), "aloud");
    assert_eq!(out.status.code(), Some(130));
    assert!(process_gone(pid), "ffmpeg {pid} is still running");
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
            "a.mp3",
            "a.wav",
            "index.html"
        ]
    );
}

#[test]
fn every_file_is_byte_identical_whatever_the_number_of_workers() {
    if !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/a.txt", SAMPLE);
    env.write("in/b.md", AUTHORED);
    env.write("in/c.txt", "One.\n\nTwo is longer.\n\nThree.\n");
    let common = [
        "in",
        "--formats",
        ALL_FORMATS,
        "--chapters",
        ALL_CHAPTERS,
        "--loudness",
        "-18",
        "-q",
    ];
    let mut j1 = env.mock_convert(&common);
    j1.args(["-o", "j1", "-j", "1"]).assert().success();
    let mut j4 = env.mock_convert(&common);
    j4.args(["-o", "j4", "-j", "4", "--mock-latency-ms", "3"])
        .assert()
        .success();
    assert_eq!(env.files("j1").len(), 3 * 12 + 1);
    env.assert_same_tree("j1", "j4");
}

#[test]
fn a_missing_file_or_a_changed_setting_makes_an_article_out_of_date() {
    if !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    env.write("in/a.txt", "Some text.\n\nMore text.");
    let run = |extra: &[&str]| -> Value {
        let mut args = vec!["in", "-o", "out", "--formats", "wav,mp3", "--json", "-q"];
        args.extend(extra);
        json_of(&mut env.mock_convert(&args))["articles"].clone()
    };
    assert_eq!(run(&[])["converted"], 1);
    assert_eq!(run(&[])["unchanged"], 1);
    std::fs::remove_file(env.path().join("out/a.mp3")).unwrap();
    assert_eq!(run(&[])["converted"], 1, "the MP3 was missing");
    assert_eq!(run(&["--loudness", "-18"])["converted"], 1);
    assert_eq!(run(&["--loudness", "-18"])["unchanged"], 1);
    assert_eq!(
        run(&["--loudness", "-18", "--mp3-bitrate", "96"])["converted"],
        1
    );
    assert_eq!(
        run(&[
            "--loudness",
            "-18",
            "--mp3-bitrate",
            "96",
            "--chapters",
            "vtt,cue"
        ])["converted"],
        1
    );
}

#[test]
fn with_only_compressed_formats_the_page_uses_them() {
    if !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    env.write("a.txt", SAMPLE);
    env.mock_convert(&["a.txt", "--formats", "opus", "--chapters", "podcast"])
        .assert()
        .success();
    let m = env.manifest("output/a.json");
    assert!(m["files"].get("wav").is_none());
    assert!(m["files"].get("chapters_vtt").is_none());
    let page = String::from_utf8(env.read("output/a.html")).unwrap();
    assert!(page.contains("<source src=\"a.opus\" type=\"audio/ogg; codecs=opus\">"));
    assert!(
        !page.contains("kind=\"chapters\""),
        "no WebVTT chapters, no chapters track"
    );
    assert!(page.contains("<track kind=\"captions\" src=\"a.captions.vtt\""));
    assert!(
        page.contains("href=\"a.opus#t="),
        "chapter links use the Opus"
    );
    let podcast: Value =
        serde_json::from_slice(&env.read("output/a.podcast-chapters.json")).unwrap();
    assert_eq!(podcast["fileName"], "a.opus");
    let index = String::from_utf8(env.read("output/index.html")).unwrap();
    assert!(index.contains("href=\"a.opus\""));
}

/// The sample article in every audio format (mock backend), in `out/`, for the browser test.
pub fn published_site(env: &TestEnv) -> PathBuf {
    env.write("in/us-iraq-dialogue.txt", SAMPLE);
    env.mock_convert(&["in", "-o", "out", "--formats", ALL_FORMATS, "-q"])
        .assert()
        .success();
    env.path().join("out")
}
