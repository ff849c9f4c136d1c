//! Word and sentence timings in the manifest, and `NAME.captions.vtt`, with the library engine
//! (exact word times) and the mock (paragraph times only).

use crate::support::{SAMPLE, TestEnv, output_of, require, sample_run};
use serde_json::Value;

fn frames(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

#[test]
fn the_library_engine_times_every_word_and_sentence_exactly() {
    if !require("espeak-ng") {
        return;
    }
    let env = TestEnv::new();
    let m = sample_run(&env, &["-q"]);
    assert_eq!(m["timing"], "word");
    assert_eq!(m["files"]["captions_vtt"], "us-iraq-dialogue.captions.vtt");
    let mut last = 0;
    let mut written = 0;
    let mut total = 0;
    for p in m["paragraphs"].as_array().unwrap() {
        let (start, end) = (frames(&p["start_frame"]), frames(&p["end_frame"]));
        let text = p["text"].as_str().unwrap();
        let words = p["words"].as_array().unwrap();
        assert!(words.len() > 5, "{p}");
        assert!(!p["sentences"].as_array().unwrap().is_empty());
        for w in words {
            let (a, b) = (frames(&w["start_frame"]), frames(&w["end_frame"]));
            assert!(
                start <= a && a <= b && b <= end,
                "{w} outside {start}..{end}"
            );
            assert!(a >= last, "words out of order at {w}");
            last = a;
            total += 1;
            if let Some(r) = w["text"].as_array() {
                let (x, y) = (
                    r[0].as_u64().unwrap() as usize,
                    r[1].as_u64().unwrap() as usize,
                );
                let spoken = w["spoken"].as_str().unwrap();
                if text[x..y].eq_ignore_ascii_case(spoken) {
                    written += 1;
                }
            }
        }
    }
    // Nearly every spoken word is a written word (the rest: numbers said as several words,
    // lexicon entries).
    assert!(written * 100 >= total * 90, "{written} of {total}");
    check_captions(&env.path().join("out/us-iraq-dialogue.captions.vtt"), true);
}

#[test]
fn the_mock_has_paragraph_timing_and_still_gets_captions() {
    let env = TestEnv::new();
    env.write("a.txt", SAMPLE);
    env.mock_convert(&["a.txt", "-q"]).assert().success();
    let m = env.manifest("output/a.json");
    assert_eq!(m["timing"], "paragraph");
    assert!(m["paragraphs"][0].get("words").is_none());
    check_captions(&env.path().join("output/a.captions.vtt"), false);
}

/// A strict reading of the captions against the WebVTT rules we rely on, then ffprobe's.
fn check_captions(path: &std::path::Path, with_tags: bool) {
    let vtt = std::fs::read_to_string(path).unwrap();
    let ms = |t: &str| -> u64 {
        let parts: Vec<&str> = t.split([':', '.']).collect();
        assert_eq!(parts.len(), 4, "bad timestamp {t:?}");
        let n: Vec<u64> = parts.iter().map(|p| p.parse().unwrap()).collect();
        assert!(parts[1].len() == 2 && parts[2].len() == 2 && parts[3].len() == 3);
        ((n[0] * 60 + n[1]) * 60 + n[2]) * 1000 + n[3]
    };
    let mut blocks = vtt.split("\n\n");
    assert_eq!(blocks.next(), Some("WEBVTT"));
    let mut cues = 0;
    let mut tags = 0;
    let mut last_start = 0;
    for block in blocks {
        let block = block.strip_suffix('\n').unwrap_or(block);
        let mut lines = block.lines();
        let timing = lines.next().unwrap();
        let (a, b) = timing
            .split_once(" --> ")
            .unwrap_or_else(|| panic!("{block:?}"));
        let (start, end) = (ms(a), ms(b));
        assert!(start < end && start >= last_start, "{block:?}");
        last_start = start;
        let payload: Vec<&str> = lines.collect();
        assert!((1..=2).contains(&payload.len()), "{block:?}");
        let mut last_tag = start;
        let mut visible = 0;
        for line in &payload {
            assert!(!line.is_empty() && !line.contains("-->"), "{block:?}");
            let mut rest = *line;
            while let Some(open) = rest.find('<') {
                visible += rest[..open].chars().count();
                let close = rest[open..].find('>').unwrap() + open;
                let t = ms(&rest[open + 1..close]);
                assert!(t > last_tag && t < end, "tag {t} in {block:?}");
                last_tag = t;
                tags += 1;
                rest = &rest[close + 1..];
            }
            visible += rest.chars().count();
            assert!(!rest.contains('>'), "{block:?}");
        }
        assert!(visible <= 84, "{visible} characters: {block:?}");
        cues += 1;
    }
    assert!(cues > 10);
    assert_eq!(tags > 0, with_tags);
    if require("ffprobe") {
        let packets = output_of(
            "ffprobe",
            &[
                "-v",
                "error",
                "-show_packets",
                "-of",
                "csv=p=0",
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(packets.lines().count(), cues, "ffprobe reads every cue");
    }
}
