//! The command line: every clap type lives here and only here.
//!
//! [`parse`] turns arguments into a plain [`Command`]; validation against profiles and ranges
//! happens in `config`, so the rest of the program never sees clap.

use crate::config::{BackendKind, Command, ConvertRequest, IndexRequest};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

/// Turn written articles into chaptered audio.
///
/// aloud reads articles, cleans them to their speakable paragraphs, speaks each paragraph with
/// a speech engine (espeak-ng by default) in parallel, and writes one WAV per article with a
/// chapter marker per paragraph, plus WebVTT chapters, an HTML player page and a JSON manifest,
/// and an index.html listing every article in the output folder.
#[derive(Debug, Parser)]
#[command(
    name = "aloud",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Exit status: 0 all converted, 1 something failed, 2 usage error, 130 interrupted."
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Convert articles (files, or folders of them) into chaptered audio.
    ///
    /// For each article NAME.txt, writes NAME.wav (16-bit PCM, mono, one chapter marker per
    /// paragraph), NAME.chapters.vtt (WebVTT chapters), NAME.html (a player page with the
    /// chapters and the transcript; open it in a browser) and NAME.json (a manifest of every
    /// paragraph's text and timing) into the output folder, then rebuilds the folder's
    /// index.html. Folders are searched recursively for .txt files and mirrored in the output.
    /// Files appear only when complete.
    #[command(
        after_help = "Examples:\n  aloud convert input/\n  aloud convert article.txt -o out/ --voice en-gb --rate 160\n  aloud convert --backend mock article.txt"
    )]
    Convert(ConvertArgs),

    /// Rebuild DIR/index.html from the manifests under DIR.
    ///
    /// Every convert run already does this for its output folder. Use it when several runs
    /// (shards on different machines, say) write into one folder: run it once at the end for
    /// one complete index. Lists every NAME.json manifest found under DIR (hidden files and
    /// folders skipped), sorted by path; a manifest that cannot be read is skipped with a
    /// warning.
    #[command(after_help = "Examples:\n  aloud index\n  aloud index out/")]
    Index(IndexArgs),
}

#[derive(Debug, Args)]
struct IndexArgs {
    /// The output folder to index. [default: output]
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Print only errors and warnings.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct ConvertArgs {
    /// Article files (.txt) or folders to convert.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// Folder to write outputs into (created if needed). [default: output]
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,

    /// Paragraphs synthesized in parallel. [default: the number of CPU cores]
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,

    /// Speech engine. [default: from the voice profile, espeak-ng]
    #[arg(long, value_enum, value_name = "NAME")]
    backend: Option<BackendArg>,

    /// Voice profile (voices/NAME.toml), or else the engine's own voice name (e.g. fr, en-us+f3).
    /// [default: en-us]
    #[arg(long, value_name = "NAME")]
    voice: Option<String>,

    /// Speaking rate in words per minute (80-450). [default: from the profile, 175]
    #[arg(long, value_name = "WPM")]
    rate: Option<u32>,

    /// Voice pitch (0-99). [default: from the profile, 50]
    #[arg(long, value_name = "0-99")]
    pitch: Option<u32>,

    /// Silence between paragraphs, in milliseconds. [default: from the profile, 400]
    #[arg(long, value_name = "MS")]
    gap_ms: Option<u64>,

    /// Deadline for one engine call, in seconds; a call past it is killed and the article
    /// fails. [default: 60]
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,

    /// Print only errors and warnings.
    #[arg(short, long)]
    quiet: bool,

    /// Mock backend: milliseconds of tone per character of text.
    #[arg(long, value_name = "MS", help_heading = "Mock backend (test aids)")]
    mock_ms_per_char: Option<u32>,

    /// Mock backend: delay every call by this many milliseconds, like a slow engine.
    #[arg(long, value_name = "MS", help_heading = "Mock backend (test aids)")]
    mock_latency_ms: Option<u64>,

    /// Mock backend: fail every paragraph whose text contains WORD, like a failing engine.
    #[arg(long, value_name = "WORD", help_heading = "Mock backend (test aids)")]
    mock_fail_on: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BackendArg {
    /// The espeak-ng program, one process per paragraph.
    #[value(name = "espeak-ng")]
    EspeakNg,
    /// Deterministic tones, no engine: for tests.
    Mock,
}

/// Parses the command line. `--help`, `--version` and usage errors come back as the clap
/// error, which knows how to print itself and its exit code.
pub fn parse<I, T>(args: I) -> Result<Command, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    Ok(match cli.command {
        Commands::Convert(a) => Command::Convert(ConvertRequest {
            inputs: a.inputs,
            output: a.output,
            jobs: a.jobs,
            backend: a.backend.map(|b| match b {
                BackendArg::EspeakNg => BackendKind::EspeakNg,
                BackendArg::Mock => BackendKind::Mock,
            }),
            voice: a.voice,
            rate: a.rate,
            pitch: a.pitch,
            gap_ms: a.gap_ms,
            timeout_secs: a.timeout,
            mock_ms_per_char: a.mock_ms_per_char,
            mock_latency_ms: a.mock_latency_ms,
            mock_fail_on: a.mock_fail_on,
            quiet: a.quiet,
        }),
        Commands::Index(a) => Command::Index(IndexRequest {
            dir: a.dir,
            quiet: a.quiet,
        }),
    })
}

/// The full help text of `aloud` and each subcommand, for snapshot tests.
pub fn help_texts() -> Vec<(String, String)> {
    use clap::CommandFactory;
    // A fixed width, so the text does not depend on the terminal (or $COLUMNS).
    let mut cmd = Cli::command().term_width(100);
    cmd.build();
    let mut out = vec![("aloud".to_string(), cmd.render_long_help().to_string())];
    for sub in cmd.get_subcommands_mut().filter(|s| s.get_name() != "help") {
        out.push((
            format!("aloud {}", sub.get_name()),
            sub.render_long_help().to_string(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn convert_parses_into_a_plain_request() {
        let Command::Convert(r) =
            parse(["aloud", "convert", "a.txt", "-j", "3", "--backend", "mock"]).unwrap()
        else {
            panic!("not a convert command");
        };
        assert_eq!(r.inputs, [PathBuf::from("a.txt")]);
        assert_eq!(r.jobs, Some(3));
        assert_eq!(r.backend, Some(BackendKind::Mock));
        assert_eq!(r.output, None);
    }

    #[test]
    fn index_takes_an_optional_folder() {
        assert_eq!(
            parse(["aloud", "index", "out", "-q"]).unwrap(),
            Command::Index(IndexRequest {
                dir: Some(PathBuf::from("out")),
                quiet: true
            })
        );
        assert_eq!(
            parse(["aloud", "index"]).unwrap(),
            Command::Index(IndexRequest::default())
        );
    }

    #[test]
    fn usage_errors_exit_2() {
        let err = parse(["aloud", "convert"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = parse(["aloud", "convert", "--jobs", "many", "a"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
