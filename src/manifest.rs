//! The JSON manifest written beside each article's audio (`NAME.json`).
//!
//! It records everything needed to check or re-use the outputs without decoding audio. It
//! holds no timestamps and no absolute paths, so the same input and settings give the same
//! bytes on any machine and with any number of workers. Times are frames; seconds are given
//! alongside (rounded to the millisecond) for convenience.

use crate::audio::frames_to_ms;
use crate::config::{AudioFormat, ChapterFormat};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifies the manifest format.
pub const FORMAT: &str = "aloud-manifest";
/// Bumped when a field changes meaning.
pub const FORMAT_VERSION: u32 = 2;

/// One article's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// `aloud <version>`.
    pub generator: String,
    /// The source file, relative to the input it was found under.
    pub source: String,
    /// SHA-256 of the source file's bytes.
    pub input_sha256: String,
    /// SHA-256 of every setting that shapes the outputs; with `input_sha256` it tells whether
    /// the outputs are up to date.
    pub settings_sha256: String,
    /// The article's title.
    pub title: String,
    /// Its author(s), when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Its publication date, when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The language of its text, as a BCP 47 tag: the one the source declares (`<html lang>`,
    /// front matter `lang`), else the voice's (espeak-ng's `fr`, `en-us`); absent when
    /// neither says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The engine and the settings that shaped the sound.
    pub engine: EngineRecord,
    /// Frames per second.
    pub sample_rate: u32,
    /// Always 1 (mono).
    pub channels: u16,
    /// Silence between paragraphs.
    pub gap_ms: u64,
    /// Silence before a paragraph that starts a chapter.
    #[serde(default)]
    pub chapter_gap_ms: u64,
    /// Frames of audio in the WAV.
    pub total_frames: u64,
    /// How fine the timings are: `word` (every paragraph lists its words and sentences),
    /// `sentence` (its sentences) or `paragraph` (only paragraphs and units have times).
    #[serde(default)]
    pub timing: crate::timing::Precision,
    /// `total_frames` in seconds.
    pub duration_seconds: f64,
    /// Loudness of the audio as written, and the normalisation when there was one (absent in
    /// manifests written before aloud measured loudness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<LoudnessRecord>,
    /// The program that encoded the compressed files (`ffmpeg <version>`), when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<String>,
    /// Output files, relative to the manifest.
    pub files: Files,
    /// Chapters in order.
    pub chapters: Vec<ChapterRecord>,
    /// Paragraphs in order. The fields are written in the order declared here, and the
    /// folder's index reads a manifest only up to this field (`index::read_index_fields`):
    /// what it shows must come before.
    pub paragraphs: Vec<ParagraphRecord>,
    /// Content that was deliberately not spoken (code blocks).
    pub skipped: Vec<SkippedRecord>,
}

/// The engine that spoke the article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineRecord {
    /// Backend name.
    pub name: String,
    /// The engine's own version.
    pub version: String,
    /// The rate the engine produces (the article is resampled when `sample_rate` differs).
    #[serde(default)]
    pub sample_rate: u32,
    /// Voice settings (name → value).
    pub settings: BTreeMap<String, String>,
}

/// The article's output files, by name relative to the manifest. Every field but `page` was
/// always present before `--formats` and `--chapters` existed, so older manifests still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Files {
    /// The WAV with embedded chapters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wav: Option<String>,
    /// WebVTT chapters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chapters_vtt: Option<String>,
    /// The HTML player page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// MP3 with ID3v2 chapters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp3: Option<String>,
    /// Opus in Ogg with Vorbis-comment chapters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opus: Option<String>,
    /// AAC in MP4 with chapters (an audiobook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m4b: Option<String>,
    /// aloud's JSON chapter list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chapters_json: Option<String>,
    /// FFmpeg metadata (tags and chapters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffmetadata: Option<String>,
    /// Podcasting 2.0 JSON chapters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub podcast_chapters: Option<String>,
    /// A CUE sheet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cue: Option<String>,
    /// WebVTT captions, one cue per sentence (or part of one), with word times when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions_vtt: Option<String>,
}

impl Files {
    /// Every file listed.
    pub fn all(&self) -> Vec<&str> {
        [
            &self.wav,
            &self.chapters_vtt,
            &self.page,
            &self.captions_vtt,
            &self.mp3,
            &self.opus,
            &self.m4b,
            &self.chapters_json,
            &self.ffmetadata,
            &self.podcast_chapters,
            &self.cue,
        ]
        .into_iter()
        .filter_map(|f| f.as_deref())
        .collect()
    }

    /// The audio files, in [`AudioFormat::ALL`] order.
    pub fn audio(&self) -> Vec<(AudioFormat, &str)> {
        AudioFormat::ALL
            .into_iter()
            .filter_map(|f| self.audio_file(f).map(|n| (f, n)))
            .collect()
    }

    /// The file of one audio format.
    pub fn audio_file(&self, format: AudioFormat) -> Option<&str> {
        match format {
            AudioFormat::Wav => self.wav.as_deref(),
            AudioFormat::Mp3 => self.mp3.as_deref(),
            AudioFormat::Opus => self.opus.as_deref(),
            AudioFormat::M4b => self.m4b.as_deref(),
        }
    }

    /// Records the file of one audio format.
    pub fn set_audio(&mut self, format: AudioFormat, name: String) {
        let slot = match format {
            AudioFormat::Wav => &mut self.wav,
            AudioFormat::Mp3 => &mut self.mp3,
            AudioFormat::Opus => &mut self.opus,
            AudioFormat::M4b => &mut self.m4b,
        };
        *slot = Some(name);
    }

    /// The file of one chapter format.
    pub fn chapter_file(&self, format: ChapterFormat) -> Option<&str> {
        match format {
            ChapterFormat::Vtt => self.chapters_vtt.as_deref(),
            ChapterFormat::Json => self.chapters_json.as_deref(),
            ChapterFormat::Ffmetadata => self.ffmetadata.as_deref(),
            ChapterFormat::Podcast => self.podcast_chapters.as_deref(),
            ChapterFormat::Cue => self.cue.as_deref(),
        }
    }

    /// Records the file of one chapter format.
    pub fn set_chapters(&mut self, format: ChapterFormat, name: String) {
        let slot = match format {
            ChapterFormat::Vtt => &mut self.chapters_vtt,
            ChapterFormat::Json => &mut self.chapters_json,
            ChapterFormat::Ffmetadata => &mut self.ffmetadata,
            ChapterFormat::Podcast => &mut self.podcast_chapters,
            ChapterFormat::Cue => &mut self.cue,
        };
        *slot = Some(name);
    }
}

/// Loudness as measured (EBU R128 integrated loudness, true peak), rounded to 0.01. `null`
/// where there is nothing to measure (audio shorter than 400 ms, or silent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoudnessRecord {
    /// Integrated loudness of the audio as written, LUFS.
    pub integrated_lufs: Option<f64>,
    /// True peak of the audio as written, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// What `--loudness` did, when it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<NormalizationRecord>,
}

/// A normalisation to a loudness target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizationRecord {
    /// The target, LUFS.
    pub target_lufs: f64,
    /// The true-peak ceiling, dBTP.
    pub ceiling_dbtp: f64,
    /// The gain applied to the whole article, dB.
    pub gain_db: f64,
    /// Integrated loudness before, LUFS.
    pub measured_integrated_lufs: Option<f64>,
    /// True peak before, dBTP.
    pub measured_true_peak_dbtp: Option<f64>,
    /// Frames the limiter lowered by more than 0.1 dB.
    pub limited_frames: u64,
}

/// Rounds a level to 0.01, for short and stable JSON.
pub fn round_db(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One chapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChapterRecord {
    /// 0-based position.
    pub index: usize,
    /// Title, as in the WAV and VTT.
    pub title: String,
    /// First frame.
    pub start_frame: u64,
    /// One past the last frame (the next chapter's start, or the end of the audio).
    pub end_frame: u64,
    /// `start_frame` in seconds.
    pub start_seconds: f64,
    /// Nesting level: 1 for top-level chapters, 2 for their sub-chapters, ...
    pub level: u8,
    /// The enclosing chapter, for nested chapters.
    pub parent: Option<usize>,
    /// Indices of the first and last paragraph it covers, sub-chapters included.
    pub paragraphs: [usize; 2],
    /// BLAKE3 of its audio (16-bit little-endian samples from `start_frame` to `end_frame`,
    /// see [`crate::audio::digest`]), so `aloud verify` can tell a damaged WAV.
    #[serde(default)]
    pub audio_blake3: String,
}

/// One paragraph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParagraphRecord {
    /// 0-based position; the player page's anchor is `#p{index + 1}`.
    pub index: usize,
    /// The chapter it belongs to (the innermost).
    pub chapter: usize,
    /// `text`, `heading`, `list-item`, `quote` or `preformatted`.
    pub kind: String,
    /// Its opening words.
    pub title: String,
    /// The full text as written.
    pub text: String,
    /// SHA-256 (hex) of the text that was spoken.
    pub spoken_sha256: String,
    /// First frame of its speech.
    pub start_frame: u64,
    /// One past its last frame of speech (the gap that follows is not included).
    pub end_frame: u64,
    /// `end_frame - start_frame`.
    pub duration_frames: u64,
    /// `start_frame` in seconds.
    pub start_seconds: f64,
    /// `duration_frames` in seconds.
    pub duration_seconds: f64,
    /// The units it was spoken in, in order (long paragraphs are split at sentences).
    pub units: Vec<UnitRecord>,
    /// Its sentences, when the engine reported them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentences: Vec<SentenceRecord>,
    /// Its words, when the engine reported them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<WordRecord>,
}

/// One spoken sentence. Frames are on the article's timeline, exact to the sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceRecord {
    /// Where the engine began it.
    pub start_frame: u64,
    /// One past its last sound (the pause after it is not included).
    pub end_frame: u64,
    /// The sentence as spoken (from the unit's text).
    pub spoken: String,
    /// Its byte range `[start, end)` in the paragraph's `text` (as written), when its words
    /// were found there.
    pub text: Option<[usize; 2]>,
}

/// One spoken word. Frames are on the article's timeline, exact to the sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordRecord {
    /// Where the engine began it.
    pub start_frame: u64,
    /// One past its last sound: the next word's start, less any silence before it.
    pub end_frame: u64,
    /// The word as spoken (from the unit's text, after normalisation and the lexicon).
    pub spoken: String,
    /// Its byte range `[start, end)` in the paragraph's `text` (as written); `null` for a word
    /// that is not in the written text (the "to" of "2019–2020"). Several spoken words can
    /// share one written word (a lexicon entry that says one word as three).
    pub text: Option<[usize; 2]>,
}

/// One engine call's worth of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// 0-based position in the article.
    pub index: usize,
    /// The text the engine was given (after normalisation and the lexicon).
    pub spoken: String,
    /// First frame.
    pub start_frame: u64,
    /// One past the last frame.
    pub end_frame: u64,
    /// The checks it passed (length for its text, not silent, not clipped, no long silence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<crate::audio::check::UnitCheck>,
}

/// Content that was not spoken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedRecord {
    /// What it was, `code`, or `no-words` for a paragraph with nothing to speak (`* * *`).
    pub kind: String,
    /// The paragraph it stood before.
    pub before_paragraph: usize,
    /// Its text.
    pub text: String,
}

/// Frames to seconds, rounded to the millisecond so the JSON stays short and stable.
pub fn seconds(frames: u64, sample_rate: u32) -> f64 {
    frames_to_ms(frames, sample_rate) as f64 / 1000.0
}

impl Manifest {
    /// Writes [`Manifest::to_json`]'s text to `w` without holding it all in memory (a long
    /// article's manifest with word timings runs to tens of megabytes).
    pub fn write_json(&self, mut w: impl std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut w, self)?;
        w.write_all(b"\n")?;
        w.flush()
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest always serializes");
        s.push('\n');
        s
    }
}
