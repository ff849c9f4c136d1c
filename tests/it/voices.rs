//! Voice profiles, config files, the command and http backends from the CLI, managed servers,
//! resampling, and the discoverability commands (voices, doctor, completions, man).

use crate::support::{
    SAMPLE, TestEnv, ffprobe_chapters, fixture_engine, json_of, output_of, process_gone, read_pid,
    require, require_piper, stop_within,
};
use crate::tts_server::TtsServer;
use predicates::prelude::*;
use std::time::Duration;

fn tone_command() -> String {
    format!(
        "'{}' {{out}} {{text_file}}",
        fixture_engine("tone.py").display()
    )
}

/// Chapter starts in the WAV (ffprobe), the manifest and the VTT agree.
fn chapters_agree(env: &TestEnv, stem: &str) {
    let m = env.manifest(&format!("{stem}.json"));
    let rate = m["sample_rate"].as_u64().unwrap();
    let probed = ffprobe_chapters(&env.path().join(format!("{stem}.wav")));
    let starts: Vec<u64> = m["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["start_frame"].as_u64().unwrap())
        .collect();
    assert_eq!(probed.iter().map(|(s, _)| *s).collect::<Vec<_>>(), starts);
    let vtt = String::from_utf8(env.read(&format!("{stem}.chapters.vtt"))).unwrap();
    let vtt_starts: Vec<String> = vtt
        .lines()
        .filter_map(|l| l.split_once(" --> ").map(|(a, _)| a.to_string()))
        .collect();
    let expected: Vec<String> = starts
        .iter()
        .map(|f| aloud::chapters::vtt_timestamp((f * 1000 + rate / 2) / rate))
        .collect();
    assert_eq!(vtt_starts, expected);
    // The audio really is at that rate, with as many frames as the manifest says.
    let reader = hound::WavReader::open(env.path().join(format!("{stem}.wav"))).unwrap();
    assert_eq!(u64::from(reader.spec().sample_rate), rate);
    assert_eq!(
        u64::from(reader.duration()),
        m["total_frames"].as_u64().unwrap()
    );
}

#[test]
fn flite_and_festival_profiles_speak_the_sample() {
    if !(require("flite") && require("text2wave") && require("ffprobe")) {
        return;
    }
    let env = TestEnv::new();
    env.write("in/sample.txt", SAMPLE);
    for voice in ["flite", "festival"] {
        env.aloud()
            .args(["convert", "in", "-o", voice, "--voice", voice])
            .assert()
            .success();
        let m = env.manifest(&format!("{voice}/sample.json"));
        assert_eq!(m["sample_rate"], 16000, "{voice}");
        assert_eq!(m["paragraphs"].as_array().unwrap().len(), 11);
        chapters_agree(&env, &format!("{voice}/sample"));
    }
    assert_eq!(env.manifest("flite/sample.json")["engine"]["name"], "flite");
    assert_eq!(
        env.manifest("festival/sample.json")["engine"]["name"],
        "text2wave"
    );
}

#[test]
fn a_mixed_rate_run_keeps_chapters_on_the_audio() {
    if !(require("python3") && require("ffprobe")) {
        return;
    }
    let env = TestEnv::new();
    env.write("a.md", "# T\n\n## One\n\nFirst part.\n\n## Two\n\nSecond part, a little longer.\n\n## Three\n\nEnd.");
    // The fixture engine writes 16 kHz; the article is written at 22.05 kHz and 48 kHz.
    for rate in ["22050", "48000"] {
        let out = format!("r{rate}");
        env.aloud()
            .args([
                "convert",
                "a.md",
                "-o",
                &out,
                "--command",
                &tone_command(),
                "--sample-rate",
                rate,
            ])
            .assert()
            .success();
        let m = env.manifest(&format!("{out}/a.json"));
        assert_eq!(m["sample_rate"].to_string(), rate);
        assert_eq!(m["engine"]["sample_rate"], 16000);
        chapters_agree(&env, &format!("{out}/a"));
    }
    // The mock at 22.05 kHz, resampled to 24 kHz: every paragraph keeps its exact length.
    env.mock_convert(&["a.md", "-o", "mock24", "--sample-rate", "24000"])
        .assert()
        .success();
    chapters_agree(&env, "mock24/a");
}

#[test]
fn the_command_backend_from_the_cli_and_its_template_errors() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    env.write("a.txt", "-v --help $(touch pwned)\n\nSecond.");
    env.aloud()
        .args(["convert", "a.txt", "--command", &tone_command()])
        .assert()
        .success();
    let m = env.manifest("output/a.json");
    assert_eq!(m["engine"]["name"], "tone.py");
    assert!(
        m["engine"]["settings"]["command"]
            .as_str()
            .unwrap()
            .contains("{text_file}")
    );
    assert!(!env.path().join("pwned").exists());
    env.aloud()
        .args(["convert", "a.txt", "--command", "x {oops} {out}"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--command: unknown placeholder {oops}",
        ));
    env.aloud()
        .args(["convert", "a.txt", "--backend", "command"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the command backend needs a template",
        ));
    env.aloud()
        .args(["convert", "a.txt", "--command", "no-such-engine-xyz {out}"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no-such-engine-xyz was not found on PATH",
        ));
}

#[test]
fn an_http_profile_talks_to_an_openai_compatible_server_with_the_key_from_the_environment() {
    let env = TestEnv::new();
    let server = TtsServer::start();
    env.write(
        "voices/remote.toml",
        format!(
            "backend = \"http\"\nvoice = \"nova\"\n[http]\napi = \"openai\"\nendpoint = \"{}/v1/audio/speech\"\nmodel = \"tts-hd\"\napi_key_env = \"ALOUD_TEST_KEY\"\nbody = {{ speed = 1.25 }}\nheaders = {{ \"x-org\" = \"newsroom\" }}\n",
            server.base
        ),
    );
    env.write("a.txt", "One paragraph.\n\nAnother one.");
    env.aloud()
        .args(["convert", "a.txt", "--voice", "remote"])
        .env("ALOUD_TEST_KEY", "sekrit")
        .assert()
        .success();
    let seen = server.seen();
    assert!(seen.len() >= 3, "{seen:?}");
    let last = seen.last().unwrap();
    assert_eq!(last.body["model"], "tts-hd");
    assert_eq!(last.body["voice"], "nova");
    assert_eq!(last.body["speed"], 1.25);
    assert!(
        last.headers
            .contains(&("authorization".into(), "Bearer sekrit".into()))
    );
    assert!(last.headers.contains(&("x-org".into(), "newsroom".into())));
    let m = env.manifest("output/a.json");
    assert_eq!(m["engine"]["name"], "openai-http");
    assert_eq!(m["sample_rate"], 24000);
    // The key never lands in an output.
    for f in env.files("output") {
        assert!(
            !String::from_utf8_lossy(&env.read(&format!("output/{f}"))).contains("sekrit"),
            "{f}"
        );
    }
    // Without the variable: a clear error before any work.
    env.aloud()
        .args(["convert", "a.txt", "--voice", "remote", "--force"])
        .env_remove("ALOUD_TEST_KEY")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "ALOUD_TEST_KEY (the API key) is not set",
        ));
    // A server error's body reaches the user.
    env.write("b.txt", "This one says FAIL500.");
    env.aloud()
        .args(["convert", "b.txt", "--voice", "remote", "--retries", "0"])
        .env("ALOUD_TEST_KEY", "k")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("HTTP 500").and(predicate::str::contains("model exploded")),
        );
}

fn managed_profile(env: &TestEnv, name: &str, extra: &str) {
    env.write(
        &format!("voices/{name}.toml"),
        format!(
            "backend = \"http\"\nmodel = \"fake.onnx\"\n[http]\napi = \"piper\"\nendpoint = \"http://127.0.0.1:{{port}}/synthesize\"\n[http.server]\ncommand = \"python3 '{}' --port {{port}} --pidfile server.pid {extra}\"\nstartup_timeout = 20\n",
            fixture_engine("fake_server.py").display()
        ),
    );
}

fn server_pid(env: &TestEnv) -> u32 {
    read_pid(&env.path().join("server.pid"))
}

#[test]
fn a_managed_server_starts_for_the_run_and_never_outlives_it() {
    if !require("python3") {
        return;
    }
    let env = TestEnv::new();
    managed_profile(&env, "managed", "--slow-start 0.5");
    env.write("a.txt", "One.\n\nTwo.");
    env.aloud()
        .args(["convert", "a.txt", "--voice", "managed"])
        .assert()
        .success();
    assert!(
        process_gone(server_pid(&env)),
        "the server outlived the run"
    );
    assert_eq!(
        env.manifest("output/a.json")["engine"]["settings"]["server_model"],
        "fake.onnx"
    );

    // A server that dies while starting: its stderr is the error, exit 1, no outputs.
    managed_profile(&env, "broken", "--fail-start");
    env.write("b.txt", "One.");
    env.aloud()
        .args(["convert", "b.txt", "--voice", "broken"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("its server exited while starting")
                .and(predicate::str::contains("cannot load the model")),
        );
    assert!(!env.path().join("output/b.wav").exists());

    // Ctrl-C while a request hangs: the run stops within about a second and the server goes.
    env.write("c.txt", "One.\n\nThis HANGS forever.");
    let child = env
        .aloud_std()
        .args(["convert", "c.txt", "--voice", "managed", "--timeout", "60"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the server is up and the second paragraph's request hangs.
    std::thread::sleep(Duration::from_millis(2000));
    let pid = server_pid(&env);
    let out = stop_within(
        child,
        nix::sys::signal::Signal::SIGINT,
        Duration::from_secs(3),
        "aloud",
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(process_gone(pid), "the server outlived Ctrl-C");
}

#[test]
fn config_files_set_defaults_that_flags_override() {
    let env = TestEnv::new();
    env.write("a.txt", "One.\n\nTwo.");
    // The user's file and the working folder's file; the working folder's wins, flags win.
    std::fs::create_dir_all(env.config_dir()).unwrap();
    std::fs::write(
        env.config_dir().join("aloud.toml"),
        "backend = \"mock\"\ngap_ms = 700\nchapter_gap_ms = 50\n",
    )
    .unwrap();
    env.aloud()
        .args(["convert", "a.txt", "-o", "user"])
        .assert()
        .success();
    let m = env.manifest("user/a.json");
    assert_eq!(
        (m["gap_ms"].as_u64(), m["chapter_gap_ms"].as_u64()),
        (Some(700), Some(50))
    );
    assert_eq!(m["engine"]["name"], "mock");

    env.write("aloud.toml", "gap_ms = 300\noutput = \"from-config\"\n");
    env.aloud().arg("convert").arg("a.txt").assert().success();
    let m = env.manifest("from-config/a.json");
    assert_eq!(
        (m["gap_ms"].as_u64(), m["chapter_gap_ms"].as_u64()),
        (Some(300), Some(50))
    );
    env.aloud()
        .args(["convert", "a.txt", "--gap-ms", "10", "-o", "flag"])
        .assert()
        .success();
    assert_eq!(env.manifest("flag/a.json")["gap_ms"], 10);

    // --config uses that file only.
    env.write("other.toml", "backend = \"mock\"\ngap_ms = 123\n");
    env.aloud()
        .args(["convert", "a.txt", "--config", "other.toml", "-o", "other"])
        .assert()
        .success();
    assert_eq!(env.manifest("other/a.json")["gap_ms"], 123);
    assert_eq!(env.manifest("other/a.json")["chapter_gap_ms"], 123);

    // Unknown keys and bad values name the file, the line and the key.
    env.write("aloud.toml", "gap_ms = 300\nspeed = 2\n");
    env.aloud()
        .args(["convert", "a.txt"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("aloud.toml")
                .and(predicate::str::contains("line 2"))
                .and(predicate::str::contains("speed")),
        );
    env.write("aloud.toml", "jobs = \"many\"\n");
    env.aloud()
        .args(["convert", "a.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 1").and(predicate::str::contains("jobs")));
}

#[test]
fn profiles_come_from_the_user_config_folder_too_and_bad_ones_name_file_line_and_key() {
    let env = TestEnv::new();
    env.write("a.txt", "One.");
    std::fs::create_dir_all(env.config_dir().join("voices")).unwrap();
    std::fs::write(
        env.config_dir().join("voices/mine.toml"),
        "backend = \"mock\"\ngap_ms = 5\n",
    )
    .unwrap();
    env.aloud()
        .args(["convert", "a.txt", "--voice", "mine"])
        .assert()
        .success();
    assert_eq!(env.manifest("output/a.json")["gap_ms"], 5);
    env.write(
        "voices/bad.toml",
        "backend = \"http\"\n[http]\napi = \"piper\"\nendpoint = \"x\"\nendpont = \"y\"\n",
    );
    env.aloud()
        .args(["convert", "a.txt", "--voice", "bad"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("voices/bad.toml")
                .and(predicate::str::contains("line 5"))
                .and(predicate::str::contains("endpont")),
        );
    env.write("voices/bad2.toml", "backend = \"telepathy\"\n");
    env.aloud()
        .args(["convert", "a.txt", "--voice", "bad2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 1").and(predicate::str::contains("telepathy")));
}

#[test]
fn chapter_gaps_differ_from_paragraph_gaps() {
    let env = TestEnv::new();
    env.write("a.md", "# T\n\n## A\n\nOne.\n\nTwo.\n\n## B\n\nThree.");
    env.mock_convert(&["a.md", "--gap-ms", "100", "--chapter-gap-ms", "1000"])
        .assert()
        .success();
    let m = env.manifest("output/a.json");
    let p = m["paragraphs"].as_array().unwrap();
    let gap =
        |i: usize| p[i]["start_frame"].as_u64().unwrap() - p[i - 1]["end_frame"].as_u64().unwrap();
    // p0 heading A, p1 One, p2 Two, p3 heading B (a chapter starts), p4 Three.
    assert_eq!((gap(1), gap(2), gap(3), gap(4)), (2205, 2205, 22050, 2205));
}

#[test]
fn voices_doctor_completions_and_man_page() {
    let env = TestEnv::new();
    let v = json_of(env.aloud().args(["voices", "--json"]));
    let names: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in [
        "en-gb",
        "en-us",
        "festival",
        "flite",
        "mock",
        "piper",
        "piper-process",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    if require("espeak-ng") {
        let espeak = v["engines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["engine"] == "espeak-ng")
            .unwrap();
        assert!(
            espeak["voices"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "en-us")
        );
    }
    env.aloud()
        .arg("voices")
        .assert()
        .success()
        .stdout(predicate::str::contains("Voice profiles"));

    if require("espeak-ng") {
        let checks = json_of(env.aloud().args(["doctor", "--json"]));
        let en_us = checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["what"].as_str().unwrap().starts_with("voice en-us"))
            .unwrap();
        assert_eq!(en_us["ok"], true, "{en_us}");
    }
    // The library alone is enough for the default voice: no program on PATH is needed.
    env.aloud()
        .arg("doctor")
        .env("PATH", "/nonexistent")
        .assert()
        .success()
        .stdout(predicate::str::contains("libespeak-ng"));
    // Without the library and without espeak-ng on PATH the default voice cannot work: exit 1
    // and say what to install.
    env.aloud()
        .arg("doctor")
        .env("PATH", "/nonexistent")
        .env("ALOUD_LIBESPEAK_NG", "/nonexistent/libespeak-ng.so.1")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "to fix: apt-get install espeak-ng",
        ));

    let bash = output_of(
        assert_cmd::cargo::cargo_bin("aloud").to_str().unwrap(),
        &["completions", "bash"],
    );
    assert!(
        bash.contains("_aloud()") && bash.contains("--voice"),
        "{bash}"
    );
    let man = output_of(
        assert_cmd::cargo::cargo_bin("aloud").to_str().unwrap(),
        &["man"],
    );
    assert!(
        man.starts_with(".ie") || man.contains(".TH aloud"),
        "{}",
        &man[..200.min(man.len())]
    );
    // Each subcommand has its section, with its own options.
    for section in [
        ".SH \"ALOUD CONVERT\"",
        ".SH \"ALOUD VERIFY\"",
        ".SH \"ALOUD CACHE\"",
    ] {
        assert!(man.contains(section), "{section} missing");
    }
    let convert = &man[man.find(".SH \"ALOUD CONVERT\"").unwrap()..];
    assert!(
        convert.contains("cache\\-dir"),
        "no --cache-dir under convert"
    );
    // No references to pages that do not exist; nested subcommands are listed.
    assert!(!man.contains("(1)"), "a reference to a separate page");
    assert!(man.contains("aloud cache stats"));
    let subs = man.find(".SH \"ALOUD CONVERT\"").unwrap();
    assert!(
        subs < man.find(".SH VERSION").unwrap(),
        "the subcommands come before the version"
    );
}

#[test]
fn piper_through_its_managed_server_is_deterministic_and_matches_one_process_per_paragraph() {
    if !require_piper() {
        return;
    }
    let env = TestEnv::new();
    env.write(
        "a.txt",
        "The first paragraph, spoken by a neural voice.\n\nAnd a second, shorter one.",
    );
    env.aloud()
        .args([
            "convert",
            "a.txt",
            "--voice",
            "piper",
            "--no-cache",
            "-o",
            "one",
        ])
        .assert()
        .success();
    env.aloud()
        .args([
            "convert",
            "a.txt",
            "--voice",
            "piper",
            "--no-cache",
            "-o",
            "two",
            "-j",
            "1",
        ])
        .assert()
        .success();
    assert!(
        env.read("one/a.wav") == env.read("two/a.wav"),
        "piper runs differ"
    );
    env.aloud()
        .args([
            "convert",
            "a.txt",
            "--voice",
            "piper-process",
            "--no-cache",
            "-o",
            "proc",
        ])
        .assert()
        .success();
    let data = |f: &str| {
        let r = hound::WavReader::open(env.path().join(f)).unwrap();
        r.into_samples::<i16>()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    assert!(
        data("one/a.wav") == data("proc/a.wav"),
        "the server and the one-shot program disagree"
    );
    assert_eq!(env.manifest("one/a.json")["engine"]["name"], "piper-http");
}
