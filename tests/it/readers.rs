//! The files checked by independent readers: ffprobe (FFmpeg), sndfile-info (libsndfile) and
//! hound, plus our own strict parser.

use crate::support::{TestEnv, ffprobe_chapters, output_of, require, sample_run};

fn check_with_readers(env: &TestEnv, m: &serde_json::Value) {
    let wav = env.path().join("out/us-iraq-dialogue.wav");
    let chapters = m["chapters"].as_array().unwrap();

    // ffprobe: one chapter per paragraph, same starts (in frames) and titles.
    let probed = ffprobe_chapters(&wav);
    let expected: Vec<(u64, String)> = chapters
        .iter()
        .map(|c| {
            (
                c["start_frame"].as_u64().unwrap(),
                c["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(probed, expected);

    // sndfile-info: no "***" complaint, and the frame count agrees.
    let info = output_of("sndfile-info", &[wav.to_str().unwrap()]);
    assert!(!info.contains("***"), "sndfile-info complains:\n{info}");
    let total = m["total_frames"].as_u64().unwrap();
    assert!(info.contains(&format!("Frames      : {total}\n")), "{info}");

    // hound reads every frame.
    let reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(u64::from(reader.duration()), total);
    assert_eq!(reader.spec().channels, 1);
    assert_eq!(reader.spec().bits_per_sample, 16);

    // The VTT has the WAV's starts to the millisecond.
    let vtt = String::from_utf8(env.read("out/us-iraq-dialogue.chapters.vtt")).unwrap();
    let vtt_starts: Vec<String> = vtt
        .lines()
        .filter_map(|l| l.split_once(" --> ").map(|(a, _)| a.to_string()))
        .collect();
    let rate = m["sample_rate"].as_u64().unwrap();
    let wav_starts: Vec<String> = probed
        .iter()
        .map(|(f, _)| aloud::chapters::vtt_timestamp((f * 1000 + rate / 2) / rate))
        .collect();
    assert_eq!(vtt_starts, wav_starts);
}

#[test]
fn mock_output_passes_ffprobe_sndfile_and_hound() {
    if !(require("ffprobe") && require("sndfile-info")) {
        return;
    }
    let env = TestEnv::new();
    let m = sample_run(&env, &["--backend", "mock"]);
    check_with_readers(&env, &m);
}

#[test]
fn espeak_output_passes_ffprobe_sndfile_and_hound() {
    if !(require("espeak-ng") && require("ffprobe") && require("sndfile-info")) {
        return;
    }
    let env = TestEnv::new();
    let m = sample_run(&env, &[]);
    assert_eq!(m["engine"]["name"], "libespeak-ng");
    assert_eq!(m["paragraphs"].as_array().unwrap().len(), 11);
    check_with_readers(&env, &m);
}

#[test]
fn non_ascii_and_markup_titles_survive_every_reader() {
    if !require("ffprobe") {
        return;
    }
    let env = TestEnv::new();
    env.write("t.txt", "Café – naïve <b>&amp;</b>\n日本語の見出し\nOdd\n");
    env.aloud()
        .args(["convert", "--backend", "mock", "t.txt"])
        .assert()
        .success();
    let titles: Vec<String> = ffprobe_chapters(&env.path().join("output/t.wav"))
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(
        titles,
        ["Café – naïve <b>&amp;</b>", "日本語の見出し", "Odd"]
    );
    let vtt = String::from_utf8(env.read("output/t.chapters.vtt")).unwrap();
    assert!(
        vtt.contains("\nCafé – naïve &lt;b&gt;&amp;amp;&lt;/b&gt;\n"),
        "{vtt}"
    );
}

#[test]
fn past_the_size_limit_the_wav_becomes_rf64_and_ffprobe_still_reads_its_chapters() {
    if !require("ffprobe") {
        return;
    }
    let env = TestEnv::new();
    env.write(
        "long.txt",
        "First paragraph of a long book.\n\nSecond.\n\nThird and last.",
    );
    // The threshold stands in for 4 GiB (about 27 hours at 22.05 kHz).
    env.aloud()
        .args(["convert", "--backend", "mock", "long.txt"])
        .env("ALOUD_TEST_RF64_THRESHOLD", "100000")
        .assert()
        .success();
    let m = env.manifest("output/long.json");
    let wav = env.read("output/long.wav");
    assert_eq!(&wav[0..4], b"RF64");
    let layout = aloud::audio::inspect::inspect(std::io::Cursor::new(&wav)).unwrap();
    assert!(layout.rf64);
    assert_eq!(layout.frames, m["total_frames"].as_u64().unwrap());
    let expected: Vec<(u64, String)> = m["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["start_frame"].as_u64().unwrap(),
                c["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ffprobe_chapters(&env.path().join("output/long.wav")),
        expected
    );
    let probe = output_of(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            env.path().join("output/long.wav").to_str().unwrap(),
        ],
    );
    let duration: f64 = probe.trim().parse().unwrap();
    assert!(
        (duration - m["duration_seconds"].as_f64().unwrap()).abs() < 0.01,
        "{duration}"
    );
}
