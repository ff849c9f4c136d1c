//! Losing nothing: `aloud verify` catches damaged outputs, every unit is checked, and faulty
//! engines, bad inputs and interruptions end cleanly.

use crate::support::{SAMPLE, TestEnv};
use predicates::prelude::*;
use std::path::Path;

/// Converts the sample with the mock into `out/` and returns the manifest.
fn sample(env: &TestEnv) -> serde_json::Value {
    env.write("in/s.txt", SAMPLE);
    env.mock_convert(&["in", "-o", "out", "-q"])
        .assert()
        .success();
    env.manifest("out/s.json")
}

/// `aloud verify TARGET`, which must exit 1; its report.
fn verify_failing(env: &TestEnv, target: &Path) -> String {
    let out = env
        .aloud()
        .arg("verify")
        .arg(target)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    String::from_utf8_lossy(&out).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// Damages a copy of the outputs in a folder.
type Damage = Box<dyn Fn(&Path)>;

#[test]
fn verify_passes_good_outputs_and_catches_each_kind_of_damage() {
    let env = TestEnv::new();
    let m = sample(&env);
    env.aloud()
        .args(["verify", "out"])
        .assert()
        .success()
        .stderr(predicate::str::contains("1 of 1 articles verified"));

    let chapter3 = m["chapters"][2]["start_frame"].as_u64().unwrap();
    let wav = env.read("out/s.wav");
    let data_offset = aloud::audio::inspect::inspect(std::io::Cursor::new(&wav))
        .unwrap()
        .data_offset;
    // Each chapter's hash is BLAKE3 of its bytes in the WAV's data chunk, as `b3sum` gives it.
    for c in m["chapters"].as_array().unwrap() {
        let (start, end) = (
            c["start_frame"].as_u64().unwrap(),
            c["end_frame"].as_u64().unwrap(),
        );
        let bytes = &wav[(data_offset + start * 2) as usize..(data_offset + end * 2) as usize];
        assert_eq!(
            c["audio_blake3"].as_str().unwrap(),
            blake3::hash(bytes).to_hex().as_str()
        );
    }
    let damages: Vec<(&str, Damage, &str)> = vec![
        (
            "a flipped sample",
            Box::new(move |d| {
                let mut b = std::fs::read(d.join("s.wav")).unwrap();
                let at = (data_offset + chapter3 * 2 + 1000) as usize;
                b[at] ^= 0x40;
                std::fs::write(d.join("s.wav"), b).unwrap();
            }),
            "the audio of chapter 3 has changed",
        ),
        (
            "a truncated WAV",
            Box::new(|d| {
                let b = std::fs::read(d.join("s.wav")).unwrap();
                std::fs::write(d.join("s.wav"), &b[..b.len() - 100]).unwrap();
            }),
            "RIFF size is",
        ),
        (
            "a renamed chapter in the WAV",
            Box::new(|d| {
                let mut b = std::fs::read(d.join("s.wav")).unwrap();
                let at = b.windows(6).position(|w| w == b"With a").unwrap();
                b[at] = b'X';
                std::fs::write(d.join("s.wav"), b).unwrap();
            }),
            "chapter 1 is titled Some(\"Xith a view",
        ),
        (
            "a moved VTT cue",
            Box::new(|d| {
                let t = std::fs::read_to_string(d.join("s.chapters.vtt")).unwrap();
                let t = t.replacen("\n00:00:09.", "\n00:00:08.", 1);
                std::fs::write(d.join("s.chapters.vtt"), t).unwrap();
            }),
            "s.chapters.vtt: chapter 2 starts at 00:00:08",
        ),
        (
            "a paragraph missing from the page",
            Box::new(|d| {
                let t = std::fs::read_to_string(d.join("s.html")).unwrap();
                std::fs::write(d.join("s.html"), t.replace(" id=\"p4\"", "")).unwrap();
            }),
            "paragraph 4 is missing from the transcript",
        ),
        (
            "a paragraph missing from the manifest",
            Box::new(|d| {
                let mut v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(d.join("s.json")).unwrap()).unwrap();
                v["paragraphs"].as_array_mut().unwrap().remove(5);
                std::fs::write(d.join("s.json"), serde_json::to_vec(&v).unwrap()).unwrap();
            }),
            "paragraph 6 is numbered 7",
        ),
        (
            "a deleted WAV",
            Box::new(|d| std::fs::remove_file(d.join("s.wav")).unwrap()),
            "s.wav: No such file",
        ),
        (
            "deleted captions",
            Box::new(|d| std::fs::remove_file(d.join("s.captions.vtt")).unwrap()),
            "s.captions.vtt: No such file",
        ),
    ];
    for (what, damage, expected) in damages {
        let dir = env
            .path()
            .join(format!("damaged-{}", what.replace(' ', "-")));
        copy_dir(&env.path().join("out"), &dir);
        damage(&dir);
        let report = verify_failing(&env, &dir.join("s.json"));
        assert!(
            report.contains(expected),
            "{what}: expected {expected:?} in\n{report}"
        );
    }
}

#[test]
fn every_unit_records_its_check_and_a_failing_check_is_reported() {
    let env = TestEnv::new();
    let m = sample(&env);
    for p in m["paragraphs"].as_array().unwrap() {
        let check = &p["units"][0]["check"];
        assert!(
            check["chars_per_second"].as_f64().unwrap() > 10.0,
            "{check}"
        );
        assert!(check["peak"].as_u64().unwrap() > 1000);
        assert!(check.get("problem").is_none());
    }
    // An engine that returns far too little audio for its text: retried, then reported.
    if crate::support::require("python3") {
        let short = crate::support::fixture_engine("short.py");
        env.write("a.txt", "This paragraph has many more words than its audio could ever hold, so text went missing.");
        env.aloud()
            .args([
                "convert",
                "a.txt",
                "--command",
                &format!("'{}' {{out}}", short.display()),
            ])
            .assert()
            .code(1)
            .stderr(
                predicate::str::contains(
                    "a.txt: paragraph 1: short.py returned audio that fails the checks",
                )
                .and(predicate::str::contains("text is missing"))
                .and(predicate::str::contains("gave up after 3 attempts")),
            );
        assert!(!env.path().join("output/a.wav").exists());
    }
}

#[test]
fn verify_of_a_folder_reports_a_manifest_too_damaged_to_recognise() {
    let env = TestEnv::new();
    env.write("s.txt", "One paragraph here.\n\nAnother paragraph there.\n");
    env.write("t.txt", "A third paragraph.\n");
    env.mock_convert(&["s.txt", "t.txt", "-o", "out"])
        .assert()
        .success();
    let manifest = env.read("out/s.json");
    std::fs::write(
        env.path().join("out/s.json"),
        &manifest[..manifest.len() / 2],
    )
    .unwrap();
    // A JSON file that is not a manifest, with no outputs beside it, is not one.
    env.write("out/notes.json", "{\"not\": \"a manifest\"}");
    let report = verify_failing(&env, Path::new("out"));
    assert!(
        report.contains("FAIL  out/s.json\n      - the manifest cannot be read: EOF while parsing"),
        "{report}"
    );
    assert!(report.contains("ok    out/t.json"), "{report}");
    assert!(
        report.contains("1 of 2 articles verified; 1 with problems"),
        "{report}"
    );
}
