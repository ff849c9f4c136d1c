//! The espeak-ng backend: one `espeak-ng` process per unit.
//!
//! The text goes on stdin (`--stdin`), never in argv: a paragraph starting with `-` would be
//! read as options, and espeak-ng would exit 0 having written nothing. The audio comes back
//! through `-w` into a private temporary file and is read only once the process has finished
//! (`--stdout` writes a placeholder header whose sizes lie). Exit status 0 proves nothing, so
//! the file must exist, parse and hold at least one frame.

use super::{EngineInfo, Request, SynthError, Synthesizer};
use crate::audio::Audio;
use crate::process::{self, Invocation};
use std::ffi::{OsStr, OsString};
use std::time::Duration;

const NAME: &str = "espeak-ng";
const INSTALL_HINT: &str = "install it (apt-get install espeak-ng) or use --backend mock";

/// Settings for [`EspeakNg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspeakSettings {
    /// The program to run; `espeak-ng` from `PATH` by default.
    pub program: OsString,
    /// espeak-ng voice name, e.g. `en-us`.
    pub voice: String,
    /// Words per minute (80–450).
    pub rate: u32,
    /// Pitch (0–99).
    pub pitch: u32,
    /// Amplitude (0–200, 100 normal).
    pub volume: u32,
    /// Deadline for one call.
    pub timeout: Duration,
}

impl EspeakSettings {
    /// The settings that shape the sound, for the manifest: voice, rate, pitch and volume.
    pub(crate) fn manifest_settings(&self) -> Vec<(String, String)> {
        vec![
            ("voice".into(), self.voice.clone()),
            ("rate".into(), self.rate.to_string()),
            ("pitch".into(), self.pitch.to_string()),
            ("volume".into(), self.volume.to_string()),
        ]
    }

    /// The language of the voice, from its name (`en-us+f3` → `en-US`); `None` for a name
    /// that is not a language tag (an mbrola voice `mb-en1`, a name such as `english`).
    pub(crate) fn language(&self) -> Option<String> {
        let name = self.voice.split('+').next()?;
        if name.starts_with("mb-") {
            return None;
        }
        crate::text::language_tag(name)
    }
}

/// Runs the external `espeak-ng` program once per unit.
pub struct EspeakNg {
    settings: EspeakSettings,
    /// Private folder for the engine's output files; removed when the backend is dropped.
    scratch: tempfile::TempDir,
}

impl EspeakNg {
    /// Creates the backend and its private scratch folder. Runs nothing yet.
    pub fn new(settings: EspeakSettings) -> Result<Self, SynthError> {
        let scratch = super::scratch(NAME, "aloud-espeak-")?;
        Ok(EspeakNg { settings, scratch })
    }

    /// Runs the program; `capture_stdout` keeps what it prints (only the version query needs
    /// it: the audio comes through `-w`).
    fn invoke(
        &self,
        args: Vec<OsString>,
        stdin: Option<&[u8]>,
        capture_stdout: bool,
    ) -> Result<process::Finished, SynthError> {
        process::run(&Invocation {
            program: &self.settings.program,
            args,
            stdin,
            timeout: self.settings.timeout,
            capture_stdout,
        })
        .map_err(|e| SynthError::from_run(NAME, INSTALL_HINT, e))
    }
}

impl Synthesizer for EspeakNg {
    fn name(&self) -> &str {
        NAME
    }

    fn check(&self) -> Result<EngineInfo, SynthError> {
        let finished = self.invoke(vec!["--version".into()], None, true)?;
        if !finished.status.success() {
            return Err(SynthError::failed(NAME, &finished));
        }
        let version = parse_version(&String::from_utf8_lossy(&finished.stdout));
        // One short word proves the voice exists and tells the output format.
        let probe = self.synthesize(&Request { text: "test" })?;
        Ok(EngineInfo {
            name: NAME.into(),
            version,
            sample_rate: probe.sample_rate,
            settings: self.settings.manifest_settings(),
            language: self.settings.language(),
        })
    }

    fn synthesize(&self, request: &Request<'_>) -> Result<Audio, SynthError> {
        let out = super::unit_file(NAME, self.scratch.path(), ".wav")?;
        let s = &self.settings;
        let args: Vec<OsString> = vec![
            "-v".into(),
            OsString::from(&s.voice),
            "-s".into(),
            s.rate.to_string().into(),
            "-p".into(),
            s.pitch.to_string().into(),
            "-a".into(),
            s.volume.to_string().into(),
            "-b".into(),
            "1".into(), // UTF-8 input
            "--stdin".into(),
            "-w".into(),
            OsStr::new(out.path()).to_owned(),
        ];
        let finished = self.invoke(args, Some(request.text.as_bytes()), false)?;
        super::finish_wav(NAME, finished, out.path())
    }
}

/// `eSpeak NG text-to-speech: 1.51  Data at: ...` → `1.51`.
fn parse_version(out: &str) -> String {
    out.split_once("text-to-speech:")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("unknown")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_parsed_from_the_banner() {
        assert_eq!(
            parse_version(
                "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/x86_64-linux-gnu/espeak-ng-data\n"
            ),
            "1.51"
        );
        assert_eq!(parse_version("something else"), "unknown");
    }
}
