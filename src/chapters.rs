//! Chapter list → text formats. Pure serializers: data in, `String` out.
//!
//! - [`webvtt`]: WebVTT chapters for the player page's `<track kind="chapters">`.
//! - [`ffmetadata`]: FFmpeg's metadata file, with `TIMEBASE=1/<sample rate>` so it is sample
//!   exact; also what `encode` hands to ffmpeg to put chapters into MP3, Opus and M4B.
//! - [`podcast_json`]: Podcasting 2.0 JSON chapters (`<podcast:chapters>`, version 1.2.0).
//! - [`cue_sheet`]: a CUE sheet, one track per chapter.
//! - [`chapters_json`]: aloud's own JSON chapter list, with levels and exact frames.
//!
//! Times are sample frames until here; each format converts them once, in integer
//! arithmetic: to the millisecond (WebVTT, JSON), to the frame (FFmetadata), or to the CD
//! frame of 1/75 s that CUE sheets count in. Nothing here knows about files or programs.

use crate::audio::frames_to_ms;
use serde::Serialize;

/// One chapter on the article's timeline, in frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapterSpan {
    /// Its title, as written.
    pub title: String,
    /// First frame.
    pub start: u64,
    /// One past the last frame; the next chapter's start, or the end of the audio.
    pub end: u64,
    /// Nesting level: 1 for top-level chapters, 2 for their sub-chapters, ... Flat formats
    /// ignore it.
    pub level: u8,
}

/// What the chapter files say about the article besides its chapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct About<'a> {
    /// The article's title.
    pub title: &'a str,
    /// Its author(s), when known.
    pub author: Option<&'a str>,
    /// Its date, when known.
    pub date: Option<&'a str>,
    /// The source file's name, relative to its input.
    pub source: &'a str,
    /// `aloud <version>`.
    pub generator: &'a str,
}

/// WebVTT chapters (`kind="chapters"`): consecutive, non-overlapping cues `chapter-N`, each
/// ending where the next starts, the last at the end of the audio. Titles are escaped as
/// chapter title text requires (`&`, `<`, `>`).
///
/// Cue end times must be greater than their start; when rounding to milliseconds would make a
/// (sub-millisecond) chapter empty, its end is pushed one millisecond later and the next start
/// with it, keeping cues consecutive and in order.
pub fn webvtt(chapters: &[ChapterSpan], sample_rate: u32) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, (c, (start, end))) in chapters
        .iter()
        .zip(millisecond_spans(chapters, sample_rate))
        .enumerate()
    {
        out.push_str(&format!(
            "\nchapter-{}\n{} --> {}\n{}\n",
            i + 1,
            vtt_timestamp(start),
            vtt_timestamp(end),
            vtt_escape(&c.title)
        ));
    }
    out
}

/// `HH:MM:SS.mmm`; hours grow past two digits for very long audio.
pub fn vtt_timestamp(ms: u64) -> String {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{h:02}:{m:02}:{s:02}.{ms:03}")
}

fn vtt_escape(s: &str) -> String {
    // Titles are single-line already; a stray line break would end the cue.
    vtt_text(s).replace(['\n', '\r'], " ")
}

/// `&`, `<` and `>` escaped, as WebVTT cue text needs them.
pub(crate) fn vtt_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The global `key=value` tags an FFmetadata file (and so every encoded file) carries:
/// `title`, `album` (the title again, which audiobook players group by), `artist` and `date`
/// when known, `comment` (the source file) and `encoded_by` (aloud's version).
pub fn tags(about: &About<'_>) -> Vec<(&'static str, String)> {
    let mut tags = vec![
        ("title", about.title.to_string()),
        ("album", about.title.to_string()),
    ];
    if let Some(a) = about.author.filter(|a| !a.is_empty()) {
        tags.push(("artist", a.to_string()));
    }
    if let Some(d) = about.date.filter(|d| !d.is_empty()) {
        tags.push(("date", d.to_string()));
    }
    tags.push(("comment", about.source.to_string()));
    tags.push(("encoded_by", about.generator.to_string()));
    tags
}

/// An FFmetadata file (FFmpeg `doc/metadata.texi`): `;FFMETADATA1`, the global `tags`, then
/// one `[CHAPTER]` per chapter with `TIMEBASE=1/<sample_rate>`, `START`, `END` (frames, so it
/// is sample exact) and `title`. Without `TIMEBASE` ffmpeg would read nanoseconds.
///
/// Keys and values are escaped as the format requires: `=`, `;`, `#`, `\` and line breaks get
/// a backslash (a carriage return, which ffmpeg would keep as part of the value, becomes a
/// space).
pub fn ffmetadata<K: AsRef<str>, V: AsRef<str>>(
    tags: &[(K, V)],
    chapters: &[ChapterSpan],
    sample_rate: u32,
) -> String {
    let mut out = String::from(";FFMETADATA1\n");
    for (k, v) in tags {
        out.push_str(&ffmetadata_escape(k.as_ref()));
        out.push('=');
        out.push_str(&ffmetadata_escape(v.as_ref()));
        out.push('\n');
    }
    for c in chapters {
        out.push_str(&format!(
            "\n[CHAPTER]\nTIMEBASE=1/{sample_rate}\nSTART={}\nEND={}\ntitle={}\n",
            c.start,
            c.end,
            ffmetadata_escape(&c.title)
        ));
    }
    out
}

/// Escapes a key or value for an FFmetadata file.
///
/// One character is replaced rather than escaped: a backslash at the very end becomes a
/// fullwidth one (`＼`), because ffmpeg 5.1 reads an escaped backslash just before the line
/// end as escaping the line end, and runs the value into the next line.
pub fn ffmetadata_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let s = match s.strip_suffix('\\') {
        Some(rest) => std::borrow::Cow::Owned(format!("{rest}\u{FF3C}")),
        None => std::borrow::Cow::Borrowed(s),
    };
    for ch in s.chars() {
        match ch {
            '=' | ';' | '#' | '\\' | '\n' => {
                out.push('\\');
                out.push(ch);
            }
            '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}

/// Chapters as Vorbis comments (`CHAPTER000=HH:MM:SS.mmm`, `CHAPTER000NAME=title`), the
/// convention Ogg players and ffmpeg read. Only the first 1000 chapters fit its three-digit
/// numbers; ffmpeg's reader stops there too.
///
/// This exists because ffmpeg 5.1 writes these comments wrongly itself: it rounds the
/// seconds and truncates the milliseconds separately, so a chapter at 35.9 s is written as
/// 00:00:36.900.
pub fn vorbis_chapter_comments(
    chapters: &[ChapterSpan],
    sample_rate: u32,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut floor = 0;
    for (i, c) in chapters.iter().take(VORBIS_MAX_CHAPTERS).enumerate() {
        let ms = frames_to_ms(c.start, sample_rate).max(floor);
        floor = ms + 1;
        out.push((format!("CHAPTER{i:03}"), vtt_timestamp(ms)));
        out.push((format!("CHAPTER{i:03}NAME"), one_line(&c.title)));
    }
    out
}

/// The most chapters [`vorbis_chapter_comments`] can number.
pub const VORBIS_MAX_CHAPTERS: usize = 1000;

/// Podcasting 2.0 JSON chapters (podcast-namespace `jsonChapters.md`, version 1.2.0), for
/// `<podcast:chapters type="application/json+chapters">`: `startTime`, `endTime` and `title`
/// per chapter, in seconds to the millisecond, in ascending order. `file_name` is the audio
/// file they describe.
pub fn podcast_json(
    about: &About<'_>,
    file_name: &str,
    chapters: &[ChapterSpan],
    sample_rate: u32,
) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Doc<'a> {
        version: &'static str,
        title: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        author: Option<&'a str>,
        file_name: &'a str,
        chapters: Vec<Chapter<'a>>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Chapter<'a> {
        start_time: f64,
        end_time: f64,
        title: &'a str,
    }
    let doc = Doc {
        version: "1.2.0",
        title: about.title,
        author: about.author.filter(|a| !a.is_empty()),
        file_name,
        chapters: millisecond_spans(chapters, sample_rate)
            .into_iter()
            .zip(chapters)
            .map(|((start, end), c)| Chapter {
                start_time: start as f64 / 1000.0,
                end_time: end as f64 / 1000.0,
                title: &c.title,
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("chapters always serialize");
    s.push('\n');
    s
}

/// aloud's own JSON chapter list: the title, the sample rate, and per chapter its title,
/// level, parent (for nested chapters), first and end frame, and start and end in seconds
/// (to the millisecond). The manifest holds the same and much more; this is the small file
/// for programs that want only the chapters.
pub fn chapters_json(about: &About<'_>, chapters: &[ChapterSpan], sample_rate: u32) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        title: &'a str,
        sample_rate: u32,
        chapters: Vec<Chapter<'a>>,
    }
    #[derive(Serialize)]
    struct Chapter<'a> {
        title: &'a str,
        level: u8,
        parent: Option<usize>,
        start_frame: u64,
        end_frame: u64,
        start: f64,
        end: f64,
    }
    let parents = crate::text::parents_by_level(chapters.iter().map(|c| c.level));
    let doc = Doc {
        title: about.title,
        sample_rate,
        chapters: chapters
            .iter()
            .zip(parents)
            .map(|(c, parent)| Chapter {
                title: &c.title,
                level: c.level,
                parent,
                start_frame: c.start,
                end_frame: c.end,
                start: crate::manifest::seconds(c.start, sample_rate),
                end: crate::manifest::seconds(c.end, sample_rate),
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("chapters always serialize");
    s.push('\n');
    s
}

/// How a CUE sheet's `FILE` line names its audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CueFileType {
    /// `WAVE`: WAV, and by common use any other decodable audio.
    Wave,
    /// `MP3`.
    Mp3,
}

/// A CUE sheet for one audio file: `PERFORMER` and `TITLE` for the article, then one
/// `TRACK nn AUDIO` per chapter with its `TITLE` and `INDEX 01 MM:SS:FF` (minutes, seconds,
/// and frames of 1/75 s, rounded to the nearest; minutes grow past 99 for long audio).
///
/// CUE strings are double-quoted with no escape, so a `"` in a title becomes `'` and line
/// breaks become spaces. A sheet holds at most [`CUE_MAX_TRACKS`] tracks (libcue, and so
/// `cueprint`, refuses more): with more chapters than that it holds the top-level chapters if
/// they fit, else the first 99 chapters, and a `REM NOTE` line says so.
pub fn cue_sheet(
    about: &About<'_>,
    file_name: &str,
    file_type: CueFileType,
    chapters: &[ChapterSpan],
    sample_rate: u32,
) -> String {
    let q = |s: &str| one_line(s).replace('"', "'");
    let mut out = String::new();
    out.push_str(&format!("REM COMMENT \"{}\"\n", q(about.generator)));
    if let Some(d) = about.date.filter(|d| !d.is_empty()) {
        out.push_str(&format!("REM DATE \"{}\"\n", q(d)));
    }
    if let Some(a) = about.author.filter(|a| !a.is_empty()) {
        out.push_str(&format!("PERFORMER \"{}\"\n", q(a)));
    }
    out.push_str(&format!("TITLE \"{}\"\n", q(about.title)));
    let kind = match file_type {
        CueFileType::Wave => "WAVE",
        CueFileType::Mp3 => "MP3",
    };
    let top = chapters.iter().map(|c| c.level).min().unwrap_or(1);
    let tracks: Vec<&ChapterSpan> = if chapters.len() <= CUE_MAX_TRACKS {
        chapters.iter().collect()
    } else if chapters.iter().filter(|c| c.level == top).count() <= CUE_MAX_TRACKS {
        chapters.iter().filter(|c| c.level == top).collect()
    } else {
        chapters.iter().take(CUE_MAX_TRACKS).collect()
    };
    if tracks.len() < chapters.len() {
        out.push_str(&format!(
            "REM NOTE \"{} of {} chapters: a CUE sheet holds at most {CUE_MAX_TRACKS} tracks\"\n",
            tracks.len(),
            chapters.len()
        ));
    }
    out.push_str(&format!("FILE \"{}\" {kind}\n", q(file_name)));
    let mut floor = 0u64;
    for (i, c) in tracks.into_iter().enumerate() {
        let cd = crate::audio::scale(c.start, sample_rate, 75);
        // Every track starts after the one before, even if rounding would merge them.
        let cd = if i == 0 { 0 } else { cd.max(floor) };
        floor = cd + 1;
        out.push_str(&format!(
            "  TRACK {:02} AUDIO\n    TITLE \"{}\"\n    INDEX 01 {:02}:{:02}:{:02}\n",
            i + 1,
            q(&c.title),
            cd / (75 * 60),
            cd / 75 % 60,
            cd % 75
        ));
    }
    out
}

/// The most tracks a CUE sheet holds.
pub const CUE_MAX_TRACKS: usize = 99;

/// Each chapter's start and end in milliseconds, consecutive and never empty (see
/// [`webvtt`]).
fn millisecond_spans(chapters: &[ChapterSpan], sample_rate: u32) -> Vec<(u64, u64)> {
    let mut floor = 0u64;
    chapters
        .iter()
        .map(|c| {
            let start = frames_to_ms(c.start, sample_rate).max(floor);
            let end = frames_to_ms(c.end, sample_rate).max(start + 1);
            floor = end;
            (start, end)
        })
        .collect()
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r', '\t'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_the_reference_in_formats_md() {
        let c = [
            ChapterSpan {
                title: "Introduction".into(),
                start: 0,
                end: 52635,
                level: 1,
            },
            ChapterSpan {
                title: "Heading: Second part".into(),
                start: 52635,
                end: 97920,
                level: 1,
            },
            ChapterSpan {
                title: "Last paragraph".into(),
                start: 97920,
                end: 133609,
                level: 1,
            },
        ];
        assert_eq!(
            webvtt(&c, 22050),
            "WEBVTT\n\nchapter-1\n00:00:00.000 --> 00:00:02.387\nIntroduction\n\n\
             chapter-2\n00:00:02.387 --> 00:00:04.441\nHeading: Second part\n\n\
             chapter-3\n00:00:04.441 --> 00:00:06.059\nLast paragraph\n"
        );
    }

    fn sample() -> Vec<ChapterSpan> {
        [
            ("Introduction", 0, 52635, 1),
            ("Heading: Second part", 52635, 97920, 2),
            ("Last paragraph", 97920, 133609, 1),
        ]
        .into_iter()
        .map(|(t, start, end, level)| ChapterSpan {
            title: t.into(),
            start,
            end,
            level,
        })
        .collect()
    }

    const ABOUT: About<'static> = About {
        title: "A \"quoted\" title = #1; \\ ok",
        author: Some("Ann Author"),
        date: Some("2024-05-01"),
        source: "in/a.md",
        generator: "aloud 0.1.0",
    };

    #[test]
    fn ffmetadata_is_sample_exact_and_escaped() {
        let meta = ffmetadata(&tags(&ABOUT), &sample(), 22050);
        assert_eq!(
            meta,
            ";FFMETADATA1\n\
             title=A \"quoted\" title \\= \\#1\\; \\\\ ok\n\
             album=A \"quoted\" title \\= \\#1\\; \\\\ ok\n\
             artist=Ann Author\ndate=2024-05-01\ncomment=in/a.md\nencoded_by=aloud 0.1.0\n\
             \n[CHAPTER]\nTIMEBASE=1/22050\nSTART=0\nEND=52635\ntitle=Introduction\n\
             \n[CHAPTER]\nTIMEBASE=1/22050\nSTART=52635\nEND=97920\ntitle=Heading: Second part\n\
             \n[CHAPTER]\nTIMEBASE=1/22050\nSTART=97920\nEND=133609\ntitle=Last paragraph\n"
        );
        assert_eq!(ffmetadata_escape("a\nb\rc"), "a\\\nb c");
        assert_eq!(ffmetadata_escape("a\\b\\"), "a\\\\b\u{FF3C}");
    }

    #[test]
    fn vorbis_chapters_round_to_the_millisecond_not_to_the_second() {
        let c = vorbis_chapter_comments(&sample(), 22050);
        assert_eq!(
            c,
            [
                ("CHAPTER000", "00:00:00.000"),
                ("CHAPTER000NAME", "Introduction"),
                ("CHAPTER001", "00:00:02.387"),
                ("CHAPTER001NAME", "Heading: Second part"),
                ("CHAPTER002", "00:00:04.441"),
                ("CHAPTER002NAME", "Last paragraph"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let many: Vec<ChapterSpan> = (0..1200)
            .map(|i| ChapterSpan {
                title: format!("c{i}"),
                start: i * 10,
                end: i * 10 + 10,
                level: 1,
            })
            .collect();
        let c = vorbis_chapter_comments(&many, 1000);
        assert_eq!(c.len(), 2 * VORBIS_MAX_CHAPTERS);
        assert_eq!(c[c.len() - 2].0, "CHAPTER999");
    }

    #[test]
    fn podcast_chapters_follow_the_1_2_0_format() {
        let json = podcast_json(&ABOUT, "a.mp3", &sample(), 22050);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["version"], "1.2.0");
        assert_eq!(v["author"], "Ann Author");
        assert_eq!(v["fileName"], "a.mp3");
        assert_eq!(
            v["chapters"],
            serde_json::json!([
                {"startTime": 0.0, "endTime": 2.387, "title": "Introduction"},
                {"startTime": 2.387, "endTime": 4.441, "title": "Heading: Second part"},
                {"startTime": 4.441, "endTime": 6.059, "title": "Last paragraph"},
            ])
        );
    }

    #[test]
    fn the_json_chapters_keep_levels_parents_and_frames() {
        let json = chapters_json(&ABOUT, &sample(), 22050);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["sample_rate"], 22050);
        assert_eq!(v["chapters"][1]["parent"], 0);
        assert_eq!(v["chapters"][1]["level"], 2);
        assert_eq!(v["chapters"][2]["parent"], serde_json::Value::Null);
        assert_eq!(v["chapters"][2]["start_frame"], 97920);
        assert_eq!(v["chapters"][2]["end"], 6.059);
    }

    #[test]
    fn cue_sheets_count_in_75ths_of_a_second() {
        let cue = cue_sheet(&ABOUT, "a.wav", CueFileType::Wave, &sample(), 22050);
        assert_eq!(
            cue,
            "REM COMMENT \"aloud 0.1.0\"\nREM DATE \"2024-05-01\"\nPERFORMER \"Ann Author\"\n\
             TITLE \"A 'quoted' title = #1; \\ ok\"\nFILE \"a.wav\" WAVE\n\
             \x20 TRACK 01 AUDIO\n    TITLE \"Introduction\"\n    INDEX 01 00:00:00\n\
             \x20 TRACK 02 AUDIO\n    TITLE \"Heading: Second part\"\n    INDEX 01 00:02:29\n\
             \x20 TRACK 03 AUDIO\n    TITLE \"Last paragraph\"\n    INDEX 01 00:04:33\n"
        );
        // Past 99 minutes the minutes simply grow; tracks never share a start.
        let long = [
            ChapterSpan {
                title: "a".into(),
                start: 0,
                end: 1,
                level: 1,
            },
            ChapterSpan {
                title: "b".into(),
                start: 1,
                end: 2,
                level: 1,
            },
            ChapterSpan {
                title: "c".into(),
                start: 22050 * 6001,
                end: 22050 * 6002,
                level: 1,
            },
        ];
        let cue = cue_sheet(&ABOUT, "a.mp3", CueFileType::Mp3, &long, 22050);
        assert!(cue.contains("FILE \"a.mp3\" MP3\n"), "{cue}");
        assert!(cue.contains("INDEX 01 00:00:01\n"), "{cue}");
        assert!(cue.contains("INDEX 01 100:01:00\n"), "{cue}");
        assert!(!cue.contains("REM NOTE"));

        // Too many chapters for a CUE sheet: the top level if it fits, else the first 99.
        let many = |levels: &dyn Fn(u64) -> u8| -> Vec<ChapterSpan> {
            (0..150)
                .map(|i| ChapterSpan {
                    title: format!("c{i}"),
                    start: i * 100,
                    end: i * 100 + 100,
                    level: levels(i),
                })
                .collect()
        };
        let cue = cue_sheet(
            &ABOUT,
            "a.wav",
            CueFileType::Wave,
            &many(&|i| if i % 3 == 0 { 1 } else { 2 }),
            1000,
        );
        assert_eq!(cue.matches("TRACK ").count(), 50);
        assert!(cue.contains("REM NOTE \"50 of 150 chapters"), "{cue}");
        assert!(cue.contains("TITLE \"c3\""));
        let cue = cue_sheet(&ABOUT, "a.wav", CueFileType::Wave, &many(&|_| 1), 1000);
        assert_eq!(cue.matches("TRACK ").count(), 99);
        assert!(cue.contains("TRACK 99 AUDIO\n    TITLE \"c98\""), "{cue}");
    }

    #[test]
    fn markup_in_titles_is_escaped() {
        let c = [ChapterSpan {
            title: "a <b> & c --> d".into(),
            start: 0,
            end: 10,
            level: 1,
        }];
        assert!(webvtt(&c, 1000).contains("\na &lt;b&gt; &amp; c --&gt; d\n"));
    }

    #[test]
    fn long_audio_gets_wide_hours() {
        assert_eq!(vtt_timestamp(3_600_000 * 123 + 61_001), "123:01:01.001");
    }

    proptest! {
        /// Cues are consecutive, ordered and never empty, whatever the chapter lengths.
        #[test]
        fn cues_are_consecutive_and_non_empty(lengths in prop::collection::vec(1u64..5000, 1..30), rate in 8000u32..48001) {
            let mut start = 0;
            let spans: Vec<ChapterSpan> = lengths.iter().map(|&l| {
                let s = ChapterSpan { title: "t".into(), start, end: start + l, level: 1 };
                start += l;
                s
            }).collect();
            let vtt = webvtt(&spans, rate);
            let times: Vec<(String, String)> = vtt.lines().filter_map(|l| l.split_once(" --> ")).map(|(a, b)| (a.to_string(), b.to_string())).collect();
            prop_assert_eq!(times.len(), spans.len());
            for (i, (a, b)) in times.iter().enumerate() {
                prop_assert!(a < b);
                if i > 0 { prop_assert_eq!(&times[i - 1].1, a); }
            }
        }
    }
}
