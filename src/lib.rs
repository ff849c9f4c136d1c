//! aloud turns written articles into chaptered audio.
//!
//! The modules read as the pipeline: [`cli`] → [`config`] → [`batch`] (which articles) →
//! [`text`] (article → paragraphs and chapters) → [`backend`] (speech, through [`process`]) →
//! [`pipeline`] (parallel synthesis, ordered streaming assembly, then each article finished
//! beside the next ones' synthesis: loudness, [`encode`] through ffmpeg) → [`audio`],
//! [`chapters`], [`html`] and [`manifest`] (the files written) → [`index`] (the output
//! folder's index page).

pub mod audio;
pub mod backend;
pub mod batch;
pub mod cache;
pub mod captions;
pub mod chapters;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod encode;
pub mod exit_codes;
pub mod html;
pub mod index;
pub mod manifest;
pub mod pipeline;
pub mod process;
pub mod report;
pub mod segments;
pub mod text;
pub mod timing;
pub mod verify;

use exit_codes::ExitCode;
use std::ffi::OsString;

/// Runs `aloud` with these arguments (the first is the program name) and returns its exit
/// code. Messages go to stderr. Tests call this in-process.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = match cli::parse(args) {
        Ok(command) => command,
        Err(e) => {
            let _ = e.print();
            return if e.exit_code() == 0 {
                ExitCode::Success
            } else {
                ExitCode::Usage
            };
        }
    };
    let result = match command {
        config::Command::Convert(request) => batch::run_convert(request),
        config::Command::Segments { request, json } => segments::run(request, json),
        config::Command::Cache { action, dir, json } => batch::run_cache(action, dir, json),
        config::Command::Index(request) => batch::run_index(request),
        config::Command::Verify { targets, json } => verify::run(&targets, json),
        config::Command::Voices { json } => doctor::run_voices(json),
        config::Command::Doctor { json } => doctor::run_doctor(json),
        config::Command::Generated(text) => {
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(ExitCode::Success)
        }
        config::Command::Worker { library } => {
            return match backend::libespeak::worker::run(&library) {
                0 => ExitCode::Success,
                _ => ExitCode::Failure,
            };
        }
    };
    result.unwrap_or_else(|e| {
        report::error(format_args!("{e:#}"));
        ExitCode::Failure
    })
}

/// Bytes (a digest) as lowercase hex, as the manifest and the cache write hashes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
