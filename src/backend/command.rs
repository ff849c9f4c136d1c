//! The command backend: any engine that reads text and writes a WAV file.
//!
//! A template such as `flite -voice {voice} -f {text_file} -o {out}` is parsed once, with
//! shell-word rules, into argv tokens; placeholders are substituted inside each token per call.
//! No shell ever runs: quotes in the template group words, and nothing in the text can reach
//! the command line, because the text is given on stdin, or in a private file named by
//! `{text_file}`. The output is read from the file named by `{out}` once the engine has exited,
//! and validated like espeak-ng's: it must exist, parse and hold at least one frame.

use super::{EngineInfo, ModelSource, Request, SynthError, Synthesizer};
use crate::audio::Audio;
use crate::process::{self, Invocation};
use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "text_file",
    "out",
    "voice",
    "rate",
    "pitch",
    "volume",
    "model",
];

/// A parsed command template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTemplate {
    /// The template as written.
    pub source: String,
    /// argv tokens, each a sequence of literal text and placeholders.
    tokens: Vec<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Placeholder(String),
}

impl CommandTemplate {
    /// Parses a template: shell-word splitting, then `{name}` placeholders inside each word
    /// (`{{` and `}}` are literal braces). `allowed` lists the placeholders that may appear;
    /// `required` those that must.
    pub fn parse(
        source: &str,
        allowed: &[&str],
        required: &[&str],
    ) -> Result<CommandTemplate, String> {
        let words = shell_words::split(source)
            .map_err(|e| format!("cannot split {source:?} into words: {e}"))?;
        if words.is_empty() {
            return Err("the command is empty".into());
        }
        let mut tokens = Vec::with_capacity(words.len());
        for word in &words {
            tokens.push(parse_word(word, allowed)?);
        }
        if tokens[0].iter().any(|p| matches!(p, Piece::Placeholder(_))) {
            return Err("the program itself cannot be a placeholder".into());
        }
        let t = CommandTemplate {
            source: source.to_string(),
            tokens,
        };
        for r in required {
            if !t.uses(r) {
                return Err(format!("the command must contain {{{r}}}"));
            }
        }
        Ok(t)
    }

    /// Whether the template uses a placeholder.
    pub fn uses(&self, name: &str) -> bool {
        self.tokens
            .iter()
            .flatten()
            .any(|p| matches!(p, Piece::Placeholder(n) if n == name))
    }

    /// The program (first word).
    pub fn program(&self) -> String {
        self.tokens[0]
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Placeholder(_) => "",
            })
            .collect()
    }

    /// The argv after the program, with placeholders replaced by `value(name)`.
    pub fn args(&self, value: &dyn Fn(&str) -> OsString) -> Vec<OsString> {
        self.tokens[1..]
            .iter()
            .map(|token| {
                let mut arg = OsString::new();
                for p in token {
                    match p {
                        Piece::Text(t) => arg.push(t),
                        Piece::Placeholder(n) => arg.push(value(n)),
                    }
                }
                arg
            })
            .collect()
    }
}

fn parse_word(word: &str, allowed: &[&str]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if !allowed.contains(&name.as_str()) {
                    return Err(format!(
                        "unknown placeholder {{{name}}} in {word:?}; use {}",
                        allowed
                            .iter()
                            .map(|a| format!("{{{a}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Placeholder(name));
            }
            '}' => {
                return Err(format!(
                    "a lone }} in {word:?} (write }}}} for a literal brace)"
                ));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Settings for [`CommandBackend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSettings {
    /// How to run the engine.
    pub template: CommandTemplate,
    /// How to ask the engine its version (optional; no placeholders).
    pub version_command: Option<CommandTemplate>,
    /// `{voice}`.
    pub voice: String,
    /// `{rate}`: words per minute.
    pub rate: u32,
    /// `{pitch}`: 0–99.
    pub pitch: u32,
    /// `{volume}`: 0–200, 100 is the engine's normal level.
    pub volume: u32,
    /// `{model}`.
    pub model: ModelSource,
    /// Deadline for one call.
    pub timeout: Duration,
}

/// Runs a templated command once per unit.
pub struct CommandBackend {
    name: String,
    settings: CommandSettings,
    /// The template's program, worked out once.
    program: String,
    /// Whether the text goes in a file (`{text_file}`) rather than on stdin.
    text_file: bool,
    model: String,
    scratch: tempfile::TempDir,
}

impl CommandBackend {
    /// Creates the backend and its private scratch folder, and resolves the voice model when
    /// the template uses `{model}` (which may run the model's command). Speaks nothing yet.
    pub fn new(settings: CommandSettings) -> Result<Self, SynthError> {
        let program = settings.template.program();
        let name = std::path::Path::new(&program)
            .file_name()
            .map_or(program.clone(), |n| n.to_string_lossy().into_owned());
        let scratch = super::scratch(&name, "aloud-command-")?;
        let model = if settings.template.uses("model") {
            settings.model.resolve(&name, settings.timeout)?
        } else {
            String::new()
        };
        Ok(CommandBackend {
            name,
            text_file: settings.template.uses("text_file"),
            settings,
            program,
            model,
            scratch,
        })
    }

    fn hint(&self) -> String {
        format!(
            "install {} or change the command template ({})",
            self.name, self.settings.template.source
        )
    }

    fn io(&self, what: &str, e: std::io::Error) -> SynthError {
        SynthError::Io {
            engine: self.name.clone(),
            message: format!("{what}: {e}"),
        }
    }
}

impl Synthesizer for CommandBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> Result<EngineInfo, SynthError> {
        let version = super::engine_version(
            self.settings.version_command.as_ref(),
            &self.name,
            self.settings.timeout,
        )?;
        let probe = self.synthesize(&Request { text: "test" })?;
        let s = &self.settings;
        let mut settings = vec![("command".to_string(), s.template.source.clone())];
        for (name, value) in [
            ("voice", s.voice.clone()),
            ("rate", s.rate.to_string()),
            ("pitch", s.pitch.to_string()),
            ("volume", s.volume.to_string()),
            ("model", self.model.clone()),
        ] {
            if s.template.uses(name) {
                settings.push((name.to_string(), value));
            }
        }
        Ok(EngineInfo {
            name: self.name.clone(),
            version,
            sample_rate: probe.sample_rate,
            settings,
            language: None,
        })
    }

    fn synthesize(&self, request: &Request<'_>) -> Result<Audio, SynthError> {
        let out = super::unit_file(&self.name, self.scratch.path(), ".wav")?;
        let s = &self.settings;
        let text_file = if self.text_file {
            let mut f = super::unit_file(&self.name, self.scratch.path(), ".txt")?;
            f.write_all(request.text.as_bytes())
                .and_then(|_| f.write_all(b"\n"))
                .and_then(|_| f.flush())
                .map_err(|e| self.io("could not write the text file", e))?;
            Some(f)
        } else {
            None
        };
        let value = |name: &str| -> OsString {
            match name {
                "out" => out.path().into(),
                "text_file" => text_file
                    .as_ref()
                    .map(|f| f.path().into())
                    .unwrap_or_default(),
                "voice" => s.voice.clone().into(),
                "rate" => s.rate.to_string().into(),
                "pitch" => s.pitch.to_string().into(),
                "volume" => s.volume.to_string().into(),
                "model" => self.model.clone().into(),
                _ => OsString::new(),
            }
        };
        let finished = process::run(&Invocation {
            program: self.program.as_ref(),
            args: s.template.args(&value),
            stdin: text_file.is_none().then_some(request.text.as_bytes()),
            timeout: s.timeout,
            capture_stdout: false,
        })
        .map_err(|e| SynthError::from_run(&self.name, &self.hint(), e))?;
        super::finish_wav(&self.name, finished, out.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<CommandTemplate, String> {
        CommandTemplate::parse(s, PLACEHOLDERS, &["out"])
    }

    #[test]
    fn templates_are_split_like_a_shell_and_substituted_per_word() {
        let t = parse("flite -voice {voice} -f '{text_file}' -o \"out dir/{out}\" --x={{lit}}")
            .unwrap();
        assert_eq!(t.program(), "flite");
        let args = t.args(&|n| OsString::from(format!("<{n}>")));
        assert_eq!(
            args,
            [
                "-voice",
                "<voice>",
                "-f",
                "<text_file>",
                "-o",
                "out dir/<out>",
                "--x={lit}"
            ]
            .map(OsString::from)
        );
        assert!(t.uses("text_file") && !t.uses("rate"));
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(
            parse("x {oops} {out}")
                .unwrap_err()
                .contains("unknown placeholder {oops}")
        );
        assert!(
            parse("x -f {text_file}")
                .unwrap_err()
                .contains("must contain {out}")
        );
        assert!(
            parse("x 'unclosed {out}")
                .unwrap_err()
                .contains("cannot split")
        );
        assert!(
            parse("{voice} {out}")
                .unwrap_err()
                .contains("program itself")
        );
        assert!(parse("x a}b {out}").unwrap_err().contains("lone }"));
    }
}
