//! Compressed audio from an article's finished WAV: MP3, Opus and M4B, made by the external
//! `ffmpeg` program.
//!
//! ffmpeg runs only through [`crate::process::run`]: an argv vector and never a shell, its own
//! process group, a deadline, bounded stderr, killed by Ctrl-C with the engines. [`Ffmpeg::check`]
//! runs once before any synthesis and refuses to start when ffmpeg or one of the encoders the
//! requested formats need (libmp3lame, libopus, aac) is missing. Each encode reads the WAV
//! and an FFmetadata file (the article's tags and chapters, see [`crate::chapters`]) and writes
//! one file whose name the caller chooses (a hidden temporary file, renamed later), with the
//! container given explicitly. Exit status 0 is not trusted: the file must hold something.
//!
//! `-fflags +bitexact -flags:a +bitexact` keep ffmpeg's and the encoders' version strings out
//! of the files, so the same WAV and metadata give the same bytes on every run.
//!
//! Opus gets its chapters as Vorbis comments written by us ([`crate::chapters::vorbis_chapter_comments`])
//! in the metadata's global section, and ffmpeg's own chapter writing is switched off for it:
//! ffmpeg 5.1 writes chapter times in Ogg a second late whenever their fraction is ≥ 0.5 s.

use crate::config::{AudioFormat, Bitrates};
use crate::process::{self, Invocation, RunError, stderr_suffix};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::Duration;

const PROGRAM: &str = "ffmpeg";
const INSTALL_HINT: &str = "install it (apt-get install ffmpeg), or ask only for wav in --formats";

/// A checked ffmpeg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ffmpeg {
    program: OsString,
    /// `ffmpeg <version>`, as `ffmpeg -version` says; part of the up-to-date fingerprint and
    /// recorded in the manifest.
    pub version: String,
}

/// Why ffmpeg cannot be used, or an encode failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// ffmpeg is not installed.
    #[error("ffmpeg was not found on PATH: {INSTALL_HINT}")]
    NotFound,
    /// ffmpeg lacks an encoder a requested format needs.
    #[error(
        "ffmpeg has no {encoder} encoder, which {format} needs: install Debian's ffmpeg (apt-get install ffmpeg), which has it, or leave {format} out of --formats"
    )]
    MissingEncoder {
        /// The encoder, e.g. `libopus`.
        encoder: &'static str,
        /// The format that needs it.
        format: &'static str,
    },
    /// `ffmpeg -version` or `-encoders` did not work.
    #[error("ffmpeg is not usable: {0}")]
    Unusable(String),
    /// An encode failed.
    #[error("ffmpeg could not make the {format} ({status}): {stderr}")]
    Failed {
        /// The format.
        format: &'static str,
        /// How ffmpeg ended.
        status: String,
        /// What it said.
        stderr: String,
    },
    /// An encode ran past its deadline and was killed.
    #[error("ffmpeg did not finish the {format} within {} s and was killed{}", .after.as_secs(), stderr_suffix(.stderr))]
    TimedOut {
        /// The format.
        format: &'static str,
        /// The deadline.
        after: Duration,
        /// What it said before that.
        stderr: String,
    },
    /// ffmpeg reported success but the file is empty.
    #[error("ffmpeg exited successfully but wrote no {format}")]
    NoOutput {
        /// The format.
        format: &'static str,
    },
    /// The run was interrupted (Ctrl-C or SIGTERM); ffmpeg was killed.
    #[error("interrupted")]
    Cancelled,
}

/// The encoder a compressed format needs.
pub fn encoder_for(format: AudioFormat) -> Option<&'static str> {
    match format {
        AudioFormat::Wav => None,
        AudioFormat::Mp3 => Some("libmp3lame"),
        AudioFormat::Opus => Some("libopus"),
        AudioFormat::M4b => Some("aac"),
    }
}

/// How long one encode may take: a minute plus the audio's own duration, so ffmpeg must
/// encode at least as fast as real time (it is typically 50 to 200 times faster).
pub fn deadline(audio_ms: u64) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(audio_ms)
}

impl Ffmpeg {
    /// Finds `ffmpeg` on PATH and checks that it has the encoders `formats` need.
    pub fn check(formats: &[AudioFormat]) -> Result<Ffmpeg, EncodeError> {
        Ffmpeg::check_program(OsStr::new(PROGRAM), formats)
    }

    /// [`Ffmpeg::check`] for a given program.
    pub fn check_program(program: &OsStr, formats: &[AudioFormat]) -> Result<Ffmpeg, EncodeError> {
        let run = |args: &[&str]| -> Result<String, EncodeError> {
            let finished = process::run(&Invocation {
                program,
                args: args.iter().map(OsString::from).collect(),
                stdin: None,
                timeout: Duration::from_secs(30),
                capture_stdout: true,
            })
            .map_err(|e| match e {
                RunError::NotFound { .. } => EncodeError::NotFound,
                RunError::Cancelled => EncodeError::Cancelled,
                other => EncodeError::Unusable(other.to_string()),
            })?;
            if !finished.status.success() {
                return Err(EncodeError::Unusable(format!(
                    "`ffmpeg {}` ended with {}: {}",
                    args.join(" "),
                    process::describe_status(&finished.status),
                    finished.stderr
                )));
            }
            Ok(String::from_utf8_lossy(&finished.stdout).into_owned())
        };
        let version = parse_version(&run(&["-hide_banner", "-version"])?).ok_or_else(|| {
            EncodeError::Unusable("`ffmpeg -version` did not say its version".into())
        })?;
        let encoders = parse_encoders(&run(&["-hide_banner", "-encoders"])?);
        for &format in formats {
            if let Some(encoder) = encoder_for(format)
                && !encoders.iter().any(|e| e == encoder)
            {
                return Err(EncodeError::MissingEncoder {
                    encoder,
                    format: format.name(),
                });
            }
        }
        Ok(Ffmpeg {
            program: program.to_owned(),
            version,
        })
    }

    /// Encodes `wav` with the tags and chapters in `metadata` (an FFmetadata file) into
    /// `output`, which is overwritten. `audio_ms` sets the deadline.
    pub fn encode(
        &self,
        format: AudioFormat,
        bitrates: &Bitrates,
        wav: &Path,
        metadata: &Path,
        output: &Path,
        audio_ms: u64,
    ) -> Result<(), EncodeError> {
        let name = format.name();
        let timeout = deadline(audio_ms);
        let finished = process::run(&Invocation {
            program: &self.program,
            args: args(format, bitrates, wav, metadata, output),
            stdin: None,
            timeout,
            capture_stdout: false,
        })
        .map_err(|e| match e {
            RunError::NotFound { .. } => EncodeError::NotFound,
            RunError::Cancelled => EncodeError::Cancelled,
            RunError::TimedOut { after, stderr } => EncodeError::TimedOut {
                format: name,
                after,
                stderr,
            },
            other => EncodeError::Failed {
                format: name,
                status: "not started".into(),
                stderr: other.to_string(),
            },
        })?;
        if !finished.status.success() {
            return Err(EncodeError::Failed {
                format: name,
                status: process::describe_status(&finished.status),
                stderr: if finished.stderr.is_empty() {
                    "(it printed nothing)".into()
                } else {
                    finished.stderr
                },
            });
        }
        match std::fs::metadata(output) {
            Ok(m) if m.len() > 0 => Ok(()),
            _ => Err(EncodeError::NoOutput { format: name }),
        }
    }
}

/// ffmpeg's arguments for one encode: the WAV and the metadata in, one mono file out, in the
/// container named explicitly (the output's name is a temporary one).
pub fn args(
    format: AudioFormat,
    bitrates: &Bitrates,
    wav: &Path,
    metadata: &Path,
    output: &Path,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"]
        .map(OsString::from)
        .to_vec();
    a.push(wav.as_os_str().to_owned());
    a.extend(["-f", "ffmetadata", "-i"].map(OsString::from));
    a.push(metadata.as_os_str().to_owned());
    let chapters = if format == AudioFormat::Opus {
        "-1"
    } else {
        "1"
    };
    let rest: Vec<String> = match format {
        AudioFormat::Wav => Vec::new(),
        AudioFormat::Mp3 => vec![
            "-c:a".into(),
            "libmp3lame".into(),
            "-b:a".into(),
            format!("{}k", bitrates.mp3),
            // ID3v2.3: the version most players read; CHAP and CTOC are defined for it.
            "-id3v2_version".into(),
            "3".into(),
            "-f".into(),
            "mp3".into(),
        ],
        AudioFormat::Opus => vec![
            "-c:a".into(),
            "libopus".into(),
            "-b:a".into(),
            format!("{}k", bitrates.opus),
            "-ar".into(),
            "48000".into(),
            "-f".into(),
            "ogg".into(),
        ],
        AudioFormat::M4b => vec![
            "-c:a".into(),
            "aac".into(),
            "-b:a".into(),
            format!("{}k", bitrates.aac),
            // The index first, so a browser can play it while it downloads.
            "-movflags".into(),
            "+faststart".into(),
            // What audiobook players look for.
            "-brand".into(),
            "M4B ".into(),
            "-f".into(),
            "ipod".into(),
        ],
    };
    for item in [
        "-map",
        "0:a",
        "-map_metadata",
        "1",
        "-map_chapters",
        chapters,
        "-ac",
        "1",
        "-fflags",
        "+bitexact",
        "-flags:a",
        "+bitexact",
    ] {
        a.push(item.into());
    }
    a.extend(rest.into_iter().map(OsString::from));
    a.push(output.as_os_str().to_owned());
    a
}

/// `ffmpeg 5.1.9-0+deb12u1` from `ffmpeg version 5.1.9-0+deb12u1 Copyright ...`.
fn parse_version(out: &str) -> Option<String> {
    let line = out.lines().next()?;
    let v = line
        .strip_prefix("ffmpeg version ")?
        .split_whitespace()
        .next()?;
    Some(format!("ffmpeg {v}"))
}

/// Encoder names from `ffmpeg -encoders`: the second column of the lines after the
/// `------` separator.
fn parse_encoders(out: &str) -> Vec<String> {
    out.lines()
        .skip_while(|l| !l.trim_start().starts_with("---"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_encoders_are_read_from_ffmpegs_output() {
        assert_eq!(
            parse_version(
                "ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers\nbuilt with gcc"
            ),
            Some("ffmpeg 5.1.9-0+deb12u1".into())
        );
        assert_eq!(parse_version("something else"), None);
        let encoders = parse_encoders(
            "Encoders:\n V..... = Video\n ------\n V....D a64multi  Multicolor charset for Commodore 64 (codec a64_multi)\n A....D libmp3lame  libmp3lame MP3 (MPEG audio layer 3) (codec mp3)\n A..... aac  AAC (Advanced Audio Coding)\n",
        );
        assert_eq!(encoders, ["a64multi", "libmp3lame", "aac"]);
    }

    #[test]
    fn arguments_name_the_container_and_never_pass_through_a_shell() {
        let a = args(
            AudioFormat::Opus,
            &Bitrates::default(),
            Path::new("-odd name.wav"),
            Path::new("/tmp/m.ffmetadata"),
            Path::new("/out/.a.opus.x.tmp"),
        );
        let a: Vec<&str> = a.iter().map(|s| s.to_str().unwrap()).collect();
        let joined = a.join(" ");
        assert!(joined.starts_with("-nostdin -hide_banner -loglevel error -y -i -odd name.wav -f ffmetadata -i /tmp/m.ffmetadata -map 0:a -map_metadata 1 -map_chapters -1 "), "{joined}");
        assert!(
            joined.ends_with("-c:a libopus -b:a 32k -ar 48000 -f ogg /out/.a.opus.x.tmp"),
            "{joined}"
        );
        assert!(joined.contains("-fflags +bitexact -flags:a +bitexact"));
        let mp3 = args(
            AudioFormat::Mp3,
            &Bitrates {
                mp3: 96,
                ..Bitrates::default()
            },
            Path::new("a.wav"),
            Path::new("m"),
            Path::new("o"),
        );
        let mp3: Vec<&str> = mp3.iter().map(|s| s.to_str().unwrap()).collect();
        assert!(mp3.join(" ").contains("-map_chapters 1 "));
        assert!(
            mp3.join(" ")
                .ends_with("-c:a libmp3lame -b:a 96k -id3v2_version 3 -f mp3 o")
        );
        let m4b = args(
            AudioFormat::M4b,
            &Bitrates::default(),
            Path::new("a"),
            Path::new("m"),
            Path::new("o"),
        );
        let m4b: Vec<&str> = m4b.iter().map(|s| s.to_str().unwrap()).collect();
        assert!(
            m4b.join(" ")
                .ends_with("-c:a aac -b:a 64k -movflags +faststart -brand M4B  -f ipod o")
        );
    }

    #[test]
    fn a_missing_ffmpeg_says_what_to_install() {
        let err = Ffmpeg::check_program(OsStr::new("/nonexistent/ffmpeg"), &[AudioFormat::Mp3])
            .unwrap_err();
        assert!(matches!(err, EncodeError::NotFound));
        assert!(err.to_string().contains("apt-get install ffmpeg"), "{err}");
    }
}
