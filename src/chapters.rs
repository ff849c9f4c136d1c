//! Chapter list → text formats. Pure serializers: data in, `String` out.
//!
//! Times are sample frames until here; each format converts them once, with integer
//! rounding to the millisecond, so every format agrees with the WAV to the millisecond.

use crate::audio::frames_to_ms;

/// One chapter on the article's timeline, in frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapterSpan {
    /// Its title, as written.
    pub title: String,
    /// First frame.
    pub start: u64,
    /// One past the last frame; the next chapter's start, or the end of the audio.
    pub end: u64,
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
    let mut floor = 0u64;
    for (i, c) in chapters.iter().enumerate() {
        let start = frames_to_ms(c.start, sample_rate).max(floor);
        let end = frames_to_ms(c.end, sample_rate).max(start + 1);
        floor = end;
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
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
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
            },
            ChapterSpan {
                title: "Heading: Second part".into(),
                start: 52635,
                end: 97920,
            },
            ChapterSpan {
                title: "Last paragraph".into(),
                start: 97920,
                end: 133609,
            },
        ];
        assert_eq!(
            webvtt(&c, 22050),
            "WEBVTT\n\nchapter-1\n00:00:00.000 --> 00:00:02.387\nIntroduction\n\n\
             chapter-2\n00:00:02.387 --> 00:00:04.441\nHeading: Second part\n\n\
             chapter-3\n00:00:04.441 --> 00:00:06.059\nLast paragraph\n"
        );
    }

    #[test]
    fn markup_in_titles_is_escaped() {
        let c = [ChapterSpan {
            title: "a <b> & c --> d".into(),
            start: 0,
            end: 10,
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
                let s = ChapterSpan { title: "t".into(), start, end: start + l };
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
