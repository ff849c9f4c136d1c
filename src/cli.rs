//! The command line: every clap type lives here and only here.
//!
//! [`parse`] turns arguments into a plain [`Command`]; validation against profiles and ranges
//! happens in `config`, so the rest of the program never sees clap.

use crate::config::{BackendKind, CacheAction, Command, ConvertRequest, IndexRequest, Shard};
use crate::text::Format;
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
    /// For each article NAME (.txt, .md, .html), writes NAME.wav (16-bit PCM, mono, one chapter
    /// marker per chapter), NAME.chapters.vtt (WebVTT chapters), NAME.html (a player page with
    /// the chapters and the transcript; open it in a browser) and NAME.json (a manifest of every
    /// paragraph's text and timing) into the output folder, then rebuilds the folder's
    /// index.html. Folders are searched recursively and mirrored in the output. Files appear
    /// only when complete.
    #[command(
        after_help = "Examples:\n  aloud convert input/\n  aloud convert article.md -o out/ --voice en-gb --rate 160\n  aloud convert --backend mock article.txt"
    )]
    Convert(Box<ConvertArgs>),

    /// Show what would be spoken: title, chapters and the units each engine call gets.
    ///
    /// Reads articles exactly as `convert` does (same formats, furniture filter, lexicon and
    /// splitting) but runs no engine, so extraction can be checked before spending time.
    Segments(SegmentsArgs),

    /// Inspect or empty the cache of synthesized units.
    ///
    /// Every unit `convert` synthesizes is kept, keyed by a hash of the engine, its version,
    /// the voice settings and the exact text spoken, so reruns and other shards reuse it.
    Cache(CacheArgs),

    /// Rebuild DIR/index.html from the manifests under DIR.
    ///
    /// Every convert run already does this for its output folder. Use it when several runs
    /// (shards on different machines, say) write into one folder: run it once at the end for
    /// one complete index. Lists every NAME.json manifest found under DIR (hidden files and
    /// folders skipped), sorted by path; a manifest that cannot be read is skipped with a
    /// warning.
    #[command(after_help = "Examples:\n  aloud index\n  aloud index out/")]
    Index(IndexArgs),

    /// A libespeak-ng synthesis worker; aloud starts these itself.
    #[command(name = crate::backend::libespeak::WORKER_COMMAND, hide = true)]
    Worker(WorkerArgs),
}

#[derive(Debug, Args)]
struct WorkerArgs {
    /// The library to load.
    library: OsString,
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
struct CacheArgs {
    #[command(subcommand)]
    action: CacheCommand,

    /// The cache folder. [default: the user's cache folder, e.g. ~/.cache/aloud]
    #[arg(long, value_name = "DIR", global = true)]
    cache_dir: Option<PathBuf>,

    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Show where the cache is, how many units it holds and how much space they take.
    Stats,
    /// Delete every cached unit.
    Clear,
}

#[derive(Debug, Args)]
struct ConvertArgs {
    /// Article files (.txt, .md, .html) or folders to convert.
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

    #[command(flatten)]
    voice: VoiceArgs,

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

    #[command(flatten)]
    text: TextArgs,

    #[command(flatten)]
    batch: BatchArgs,

    /// Mock backend: milliseconds of tone per character of text.
    #[arg(long, value_name = "MS", help_heading = "Mock backend (test aids)")]
    mock_ms_per_char: Option<u32>,

    /// Mock backend: delay every call by this many milliseconds, like a slow engine.
    #[arg(long, value_name = "MS", help_heading = "Mock backend (test aids)")]
    mock_latency_ms: Option<u64>,

    /// Mock backend: fail every paragraph whose text contains WORD, like a failing engine.
    #[arg(long, value_name = "WORD", help_heading = "Mock backend (test aids)")]
    mock_fail_on: Option<String>,

    /// Mock backend: fail every Nth engine call, like a flaky engine (retries recover).
    #[arg(long, value_name = "N", help_heading = "Mock backend (test aids)")]
    mock_fail_every: Option<u64>,

    /// Mock backend: fail this percentage of engine calls, pseudo-randomly.
    #[arg(
        long,
        value_name = "PERCENT",
        help_heading = "Mock backend (test aids)"
    )]
    mock_fail_percent: Option<u32>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Batches")]
struct BatchArgs {
    /// Extra attempts for a paragraph whose engine call fails or times out (with backoff).
    /// [default: 2]
    #[arg(long, value_name = "N")]
    retries: Option<u32>,

    /// Cache folder for synthesized units. [default: the user's cache folder, e.g.
    /// ~/.cache/aloud]
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Neither read nor write the unit cache.
    #[arg(long)]
    no_cache: bool,

    /// Convert every article, even those whose outputs are up to date (same source, same
    /// settings).
    #[arg(long)]
    force: bool,

    /// Convert only shard K of N (0-based) of the articles, chosen by a stable hash of each
    /// article's path relative to its input, so N machines split a corpus with no overlap.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,

    /// Print a JSON summary of the run on stdout.
    #[arg(long)]
    json: bool,

    /// Log every article as it finishes.
    #[arg(short, long, conflicts_with = "quiet")]
    verbose: bool,

    /// Print only errors and warnings: no progress bar, no summary.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct SegmentsArgs {
    /// Article files or folders.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    #[command(flatten)]
    voice: VoiceArgs,

    #[command(flatten)]
    text: TextArgs,

    /// Print JSON (one document listing every article) instead of text.
    #[arg(long, help_heading = "Options")]
    json: bool,
}

#[derive(Debug, Args)]
struct VoiceArgs {
    /// Voice profile (voices/NAME.toml), or else the engine's own voice name (e.g. fr, en-us+f3).
    /// [default: en-us]
    #[arg(long, value_name = "NAME")]
    voice: Option<String>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Reading articles")]
struct TextArgs {
    /// Read every input as this format instead of going by its extension.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<FormatArg>,

    /// Longest piece of text given to the engine in one call, in characters; longer
    /// paragraphs are split at sentence boundaries. [default: 1000]
    #[arg(long, value_name = "N")]
    max_chars: Option<usize>,

    /// Speak images' alt text (Markdown).
    #[arg(long)]
    image_alt: bool,

    /// Add a pronunciation lexicon (TOML, like voices/en.lexicon.toml); repeatable.
    #[arg(long, value_name = "FILE")]
    lexicon: Vec<PathBuf>,

    /// Add page-furniture patterns (one regular expression per line, like
    /// src/text/furniture.txt): lines that are never spoken; repeatable.
    #[arg(long, value_name = "FILE")]
    furniture: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BackendArg {
    /// espeak-ng's library (libespeak-ng) in long-lived worker processes, with word timings;
    /// the espeak-ng program where the library is missing.
    #[value(name = "espeak-ng")]
    EspeakNg,
    /// The espeak-ng program, one process per paragraph.
    #[value(name = "espeak-ng-process")]
    EspeakNgProcess,
    /// Deterministic tones, no engine: for tests.
    Mock,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Plain text.
    Text,
    /// CommonMark Markdown.
    Markdown,
    /// An HTML page.
    Html,
}

impl TextArgs {
    fn apply(self, r: &mut ConvertRequest) {
        r.format = self.format.map(|f| match f {
            FormatArg::Text => Format::Text,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Html => Format::Html,
        });
        r.max_chars = self.max_chars;
        r.image_alt = self.image_alt;
        r.lexicon_files = self.lexicon;
        r.furniture_files = self.furniture;
    }
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
        Commands::Convert(a) => {
            let a = *a;
            let mut r = ConvertRequest {
                inputs: a.inputs,
                output: a.output,
                jobs: a.jobs,
                backend: a.backend.map(|b| match b {
                    BackendArg::EspeakNg => BackendKind::EspeakNg,
                    BackendArg::EspeakNgProcess => BackendKind::EspeakNgProcess,
                    BackendArg::Mock => BackendKind::Mock,
                }),
                voice: a.voice.voice,
                rate: a.rate,
                pitch: a.pitch,
                gap_ms: a.gap_ms,
                timeout_secs: a.timeout,
                mock_ms_per_char: a.mock_ms_per_char,
                mock_latency_ms: a.mock_latency_ms,
                mock_fail_on: a.mock_fail_on,
                mock_fail_every: a.mock_fail_every,
                mock_fail_percent: a.mock_fail_percent,
                retries: a.batch.retries,
                cache_dir: a.batch.cache_dir,
                no_cache: a.batch.no_cache,
                force: a.batch.force,
                shard: a.batch.shard,
                json: a.batch.json,
                verbose: a.batch.verbose,
                quiet: a.batch.quiet,
                ..ConvertRequest::default()
            };
            a.text.apply(&mut r);
            Command::Convert(r)
        }
        Commands::Segments(a) => {
            let mut r = ConvertRequest {
                inputs: a.inputs,
                voice: a.voice.voice,
                ..ConvertRequest::default()
            };
            a.text.apply(&mut r);
            Command::Segments {
                request: r,
                json: a.json,
            }
        }
        Commands::Cache(a) => Command::Cache {
            action: match a.action {
                CacheCommand::Stats => CacheAction::Stats,
                CacheCommand::Clear => CacheAction::Clear,
            },
            dir: a.cache_dir,
            json: a.json,
        },
        Commands::Index(a) => Command::Index(IndexRequest {
            dir: a.dir,
            quiet: a.quiet,
        }),
        Commands::Worker(a) => Command::Worker { library: a.library },
    })
}

/// Whether these arguments start a synthesis worker (which must stay single-threaded, so
/// `main` installs no Ctrl-C handler thread for it).
pub fn is_worker(args: &[OsString]) -> bool {
    args.get(1)
        .is_some_and(|a| a == crate::backend::libespeak::WORKER_COMMAND)
}

/// The full help text of `aloud` and each subcommand, for snapshot tests.
pub fn help_texts() -> Vec<(String, String)> {
    use clap::CommandFactory;
    // A fixed width, so the text does not depend on the terminal (or $COLUMNS).
    let mut cmd = Cli::command().term_width(100);
    cmd.build();
    let mut out = vec![("aloud".to_string(), cmd.render_long_help().to_string())];
    for sub in cmd
        .get_subcommands_mut()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
    {
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
        let Ok(Command::Convert(r)) =
            parse(["aloud", "convert", "a.txt", "-j", "3", "--backend", "mock"])
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
