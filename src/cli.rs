//! The command line: every clap type lives here and only here.
//!
//! [`parse`] turns arguments into a plain [`Command`]; validation against profiles and ranges
//! happens in `config`, so the rest of the program never sees clap.

use crate::config::{
    AudioFormat, BackendKind, CacheAction, ChapterFormat, Command, ConvertRequest, IndexRequest,
    Shard,
};
use crate::text::{Format, HtmlReader};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
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
        after_help = "Examples:\n  aloud convert input/\n  aloud convert article.md -o out/ --voice en-gb --rate 160\n  aloud convert input/ --formats wav,mp3,opus --chapters vtt,podcast --loudness -16\n  aloud convert --backend mock article.txt"
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

    /// Re-read articles' outputs and check them against their manifests.
    ///
    /// For each NAME.json (or every one under a folder): every paragraph present and in order,
    /// the WAV's structure and chunk sizes, its chapter markers and each chapter's audio hash,
    /// the WebVTT chapters and the player page. Exits 1 with a precise report on any mismatch.
    Verify {
        /// Manifests (NAME.json) or folders of them.
        #[arg(required = true, value_name = "MANIFEST|DIR")]
        targets: Vec<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },

    /// List the voice profiles and each installed engine's own voices.
    Voices {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },

    /// Check every voice profile's engine (found? version? can it speak a word?), ffmpeg and
    /// the cache folder, and say what to install for anything missing.
    ///
    /// Exits 0 when the default voice works, 1 otherwise.
    Doctor {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },

    /// Print a shell completion script, e.g. `aloud completions bash > /etc/bash_completion.d/aloud`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff), e.g. `aloud man > aloud.1 && man ./aloud.1`.
    Man,

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
    /// Article files (.txt, .md, .html) or folders to convert; `-` reads one article from
    /// standard input (written as `stdin.*`; HTML is recognised, use --format for Markdown).
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

    /// Voice volume (0-200, 100 is the engine's normal level). [default: from the profile, 100]
    #[arg(long, value_name = "0-200")]
    volume: Option<u32>,

    /// Write the audio at this sample rate, resampling the engine's output if it differs.
    /// [default: from the profile, else the engine's rate]
    #[arg(long, value_name = "HZ")]
    sample_rate: Option<u32>,

    /// Silence between paragraphs, in milliseconds. [default: from the profile, 400]
    #[arg(long, value_name = "MS")]
    gap_ms: Option<u64>,

    /// Silence before a paragraph that starts a chapter, in milliseconds. [default: from the
    /// profile, else the same as --gap-ms]
    #[arg(long, value_name = "MS")]
    chapter_gap_ms: Option<u64>,

    /// The command backend's template: argv words (split like a shell, but no shell runs)
    /// with placeholders {text_file} (the text, in a file; without it the text goes to stdin),
    /// {out} (the WAV to write; required), {voice}, {rate}, {pitch}, {volume}, {model}.
    /// Implies --backend command.
    #[arg(long, value_name = "TEMPLATE")]
    command: Option<String>,

    /// Read defaults from this file instead of ./aloud.toml and ~/.config/aloud/aloud.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Deadline for one engine call, in seconds; a call past it is killed and the article
    /// fails. [default: 60]
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,

    #[command(flatten)]
    text: TextArgs,

    #[command(flatten)]
    publish: PublishArgs,

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
#[command(next_help_heading = "Publishing")]
struct PublishArgs {
    /// Audio files to write for each article, comma-separated. MP3, Opus and M4B are encoded
    /// from the WAV by ffmpeg (which must be installed) and carry the title, author and
    /// chapters. [default: wav]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FORMAT,...")]
    formats: Option<Vec<AudioFormatArg>>,

    /// Chapter files to write beside the audio, comma-separated. [default: vtt]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FORMAT,...")]
    chapters: Option<Vec<ChapterFormatArg>>,

    /// MP3 bit rate in kb/s (constant, mono). [default: 64]
    #[arg(long, value_name = "KBPS")]
    mp3_bitrate: Option<u32>,

    /// Opus bit rate in kb/s (variable, on average). [default: 32]
    #[arg(long, value_name = "KBPS")]
    opus_bitrate: Option<u32>,

    /// AAC bit rate of the M4B in kb/s. [default: 64]
    #[arg(long, value_name = "KBPS")]
    aac_bitrate: Option<u32>,

    /// Bring every article to this integrated loudness in LUFS (EBU R128), e.g. -16 for
    /// podcasts, -18 or -19 for mono speech: one gain for the whole article, with a
    /// true-peak limiter instead of clipping. The loudness before and after goes into the
    /// manifest.
    #[arg(long, value_name = "LUFS", allow_negative_numbers = true)]
    loudness: Option<f64>,

    /// Measure each article's loudness (EBU R128) and true peak and record them in the
    /// manifest, without changing the audio. Done anyway with --loudness or when --formats
    /// asks for MP3, Opus or M4B; a plain WAV conversion skips it unless asked (it costs about
    /// a second of CPU per hour of audio).
    #[arg(long)]
    measure_loudness: bool,

    /// The true-peak ceiling for --loudness, in dBTP. [default: -1]
    #[arg(
        long,
        value_name = "DBTP",
        allow_negative_numbers = true,
        requires = "loudness"
    )]
    true_peak: Option<f64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AudioFormatArg {
    /// 16-bit PCM WAV, the master, with RIFF chapter markers.
    Wav,
    /// MP3 with ID3v2 chapters.
    Mp3,
    /// Opus in Ogg, chapters as Vorbis comments.
    Opus,
    /// AAC in MP4, an audiobook with chapters.
    M4b,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ChapterFormatArg {
    /// NAME.chapters.vtt: WebVTT chapters, used by the player page.
    Vtt,
    /// NAME.chapters.json: a JSON chapter list with levels and exact frames.
    Json,
    /// NAME.ffmetadata: FFmpeg's metadata file, sample exact.
    Ffmetadata,
    /// NAME.podcast-chapters.json: Podcasting 2.0 JSON chapters.
    Podcast,
    /// NAME.cue: a CUE sheet.
    Cue,
}

impl PublishArgs {
    fn apply(self, r: &mut ConvertRequest) {
        r.formats = self.formats.map(|v| {
            v.into_iter()
                .map(|f| match f {
                    AudioFormatArg::Wav => AudioFormat::Wav,
                    AudioFormatArg::Mp3 => AudioFormat::Mp3,
                    AudioFormatArg::Opus => AudioFormat::Opus,
                    AudioFormatArg::M4b => AudioFormat::M4b,
                })
                .collect()
        });
        r.chapters = self.chapters.map(|v| {
            v.into_iter()
                .map(|f| match f {
                    ChapterFormatArg::Vtt => ChapterFormat::Vtt,
                    ChapterFormatArg::Json => ChapterFormat::Json,
                    ChapterFormatArg::Ffmetadata => ChapterFormat::Ffmetadata,
                    ChapterFormatArg::Podcast => ChapterFormat::Podcast,
                    ChapterFormatArg::Cue => ChapterFormat::Cue,
                })
                .collect()
        });
        r.mp3_bitrate = self.mp3_bitrate;
        r.opus_bitrate = self.opus_bitrate;
        r.aac_bitrate = self.aac_bitrate;
        r.loudness = self.loudness;
        r.true_peak = self.true_peak;
        r.measure_loudness = self.measure_loudness;
    }
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
    /// Article files or folders; `-` reads one article from standard input.
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

    /// How HTML pages are read. [default: article]
    #[arg(long, value_enum, value_name = "HOW")]
    html_reader: Option<HtmlReaderArg>,

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
    /// Any program, through --command TEMPLATE (or a profile's `command`).
    Command,
    /// A TTS server over HTTP, set up by a voice profile's [http] table (e.g. --voice piper).
    Http,
    /// Deterministic tones, no engine: for tests.
    Mock,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum HtmlReaderArg {
    /// The main article, found the way browsers' reader modes find it (Readability).
    Article,
    /// Every block of the page once navigation, site headers and footers, asides, forms,
    /// share bars and the like are removed: for simple pages whose sections `article` drops.
    Page,
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
        r.html_reader = self.html_reader.map(|h| match h {
            HtmlReaderArg::Article => HtmlReader::Article,
            HtmlReaderArg::Page => HtmlReader::Page,
        });
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
                    BackendArg::Command => BackendKind::Command,
                    BackendArg::Http => BackendKind::Http,
                    BackendArg::EspeakNgProcess => BackendKind::EspeakNgProcess,
                    BackendArg::Mock => BackendKind::Mock,
                }),
                voice: a.voice.voice,
                rate: a.rate,
                pitch: a.pitch,
                volume: a.volume,
                sample_rate: a.sample_rate,
                gap_ms: a.gap_ms,
                chapter_gap_ms: a.chapter_gap_ms,
                command: a.command,
                config_file: a.config,
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
            a.publish.apply(&mut r);
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
        Commands::Verify { targets, json } => Command::Verify { targets, json },
        Commands::Voices { json } => Command::Voices { json },
        Commands::Doctor { json } => Command::Doctor { json },
        Commands::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "aloud", &mut out);
            Command::Generated(String::from_utf8_lossy(&out).into_owned())
        }
        Commands::Man => Command::Generated(
            manual().map_err(|e| Cli::command().error(clap::error::ErrorKind::Io, e))?,
        ),
        Commands::Worker(a) => Command::Worker { library: a.library },
    })
}

/// The manual page: the top-level page with a section per subcommand, its synopsis and
/// options, before the notes and version (clap_mangen's page alone lists the subcommands
/// without their options and refers to pages `aloud-convert(1)` that do not exist).
fn manual() -> std::io::Result<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let top = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    top.render_title(&mut out)?;
    top.render_name_section(&mut out)?;
    top.render_synopsis_section(&mut out)?;
    top.render_description_section(&mut out)?;
    top.render_options_section(&mut out)?;
    top.render_subcommands_section(&mut out)?;
    let mut page = String::from_utf8_lossy(&out).into_owned();
    // `help` gets no section of its own: it prints what the sections say.
    let subcommands: Vec<&clap::Command> =
        cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    for sub in &subcommands {
        // The list above names each one's section, not a page of its own.
        let name = sub.get_name();
        let below = if name == "help" { "" } else { " (below)" };
        page = page.replace(
            &format!("aloud\\-{name}(1)"),
            &format!("aloud {name}{below}"),
        );
    }
    for sub in subcommands.into_iter().filter(|s| s.get_name() != "help") {
        let man = clap_mangen::Man::new(sub.clone());
        let mut part = Vec::new();
        man.render_synopsis_section(&mut part)?;
        man.render_options_section(&mut part)?;
        if sub.has_subcommands() {
            man.render_subcommands_section(&mut part)?;
        }
        // The synopsis heading becomes the subcommand's section; its option groups nest in it.
        let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_uppercase();
        let mut part = String::from_utf8_lossy(&part).into_owned();
        for nested in sub.get_subcommands() {
            let (s, n) = (sub.get_name(), nested.get_name());
            part = part.replace(&format!("aloud\\-{s}\\-{n}(1)"), &format!("aloud {s} {n}"));
        }
        for line in part.lines() {
            let line = match line {
                ".SH SYNOPSIS" => format!(".SH \"{name}\""),
                ".SH OPTIONS" => ".SS Options".to_string(),
                l => l
                    .strip_prefix(".SH ")
                    .map_or(l.to_string(), |h| format!(".SS {h}")),
            };
            page += &line;
            page.push('\n');
        }
    }
    let mut end = Vec::new();
    top.render_extra_section(&mut end)?;
    top.render_version_section(&mut end)?;
    page += &String::from_utf8_lossy(&end);
    Ok(page)
}

/// Whether these arguments start a synthesis worker (which must stay single-threaded, so
/// `main` installs no Ctrl-C handler thread for it).
pub fn is_worker(args: &[OsString]) -> bool {
    args.get(1)
        .is_some_and(|a| a == crate::backend::libespeak::WORKER_COMMAND)
}

/// The full help text of `aloud` and each subcommand, for snapshot tests.
pub fn help_texts() -> Vec<(String, String)> {
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
    fn formats_chapters_and_negative_loudness_parse() {
        let Ok(Command::Convert(r)) = parse([
            "aloud",
            "convert",
            "a.txt",
            "--formats",
            "wav,mp3,opus,m4b",
            "--chapters",
            "vtt,json,ffmetadata,podcast,cue",
            "--loudness",
            "-16",
            "--true-peak",
            "-1.5",
            "--opus-bitrate",
            "24",
        ]) else {
            panic!("not a convert command");
        };
        assert_eq!(r.formats, Some(AudioFormat::ALL.to_vec()));
        assert_eq!(r.chapters, Some(ChapterFormat::ALL.to_vec()));
        assert_eq!((r.loudness, r.true_peak), (Some(-16.0), Some(-1.5)));
        assert_eq!(r.opus_bitrate, Some(24));
        assert!(parse(["aloud", "convert", "a.txt", "--formats", "flac"]).is_err());
        assert!(parse(["aloud", "convert", "a.txt", "--true-peak", "-2"]).is_err());
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
