//! `NAME.captions.vtt`: WebVTT captions from the manifest. Pure: data in, `String` out.
//!
//! One cue per sentence; a sentence longer than [`MAX_CUE_CHARS`] is split between words
//! into cues of at most that many characters, each shown on at most two lines of about
//! [`MAX_LINE_CHARS`]. The text is the article's own (the paragraph as written), not the text
//! the engine was given.
//!
//! With word timings (`timing: word`), every cue starts where its first word starts, exact to
//! the millisecond, and each later word carries a WebVTT timestamp tag (`<00:01:02.345>`), so
//! players can highlight words as they are spoken ("karaoke" captions). With sentence timings,
//! sentence cues are exact and the parts of a long sentence are timed in proportion to their
//! characters. With paragraph timings only, each paragraph's sentences are timed in proportion
//! to their characters within the paragraph's exact span: estimates, as the manifest's
//! `timing` says.

use crate::audio::frames_to_ms;
use crate::chapters::vtt_timestamp;
use crate::manifest::{Manifest, WordRecord};
use std::ops::Range;

/// The most characters in one cue (two lines).
pub const MAX_CUE_CHARS: usize = 84;
/// Lines are broken near this many characters.
pub const MAX_LINE_CHARS: usize = 42;

/// One cue: times in milliseconds; the payload as pieces of text, each but the first
/// preceded by a timestamp tag when it has one.
struct Cue {
    start: u64,
    end: u64,
    pieces: Vec<(Option<u64>, String)>,
}

/// The captions for an article.
pub fn webvtt(m: &Manifest) -> String {
    let rate = m.sample_rate;
    let ms = |frames: u64| frames_to_ms(frames, rate);
    let mut cues: Vec<Cue> = Vec::new();
    for p in &m.paragraphs {
        if !p.sentences.is_empty() {
            for (k, s) in p.sentences.iter().enumerate() {
                let next = p.sentences.get(k + 1).map(|n| n.start_frame);
                let valid = |[a, b]: [usize; 2]| {
                    a <= b
                        && b <= p.text.len()
                        && p.text.is_char_boundary(a)
                        && p.text.is_char_boundary(b)
                };
                let (text, range) = match s.text.filter(|&r| valid(r)) {
                    Some([a, b]) => (p.text.as_str(), a..b),
                    None => (s.spoken.as_str(), 0..s.spoken.len()),
                };
                let words: Vec<&WordRecord> = if s.text.is_some_and(valid) {
                    p.words
                        .iter()
                        .filter(|w| {
                            w.start_frame >= s.start_frame
                                && next.is_none_or(|n| w.start_frame < n)
                                && w.text.is_some_and(|r @ [a, b]| {
                                    valid(r) && a >= range.start && b <= range.end
                                })
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                if words.is_empty() {
                    estimated(
                        &mut cues,
                        text,
                        &[range],
                        ms(s.start_frame),
                        ms(s.end_frame),
                    );
                } else {
                    let times = (ms(s.start_frame), ms(s.end_frame));
                    timed(&mut cues, text, range, &words, times, rate);
                }
            }
        } else {
            let sentences: Vec<Range<usize>> = crate::text::sentences::split(&p.text)
                .into_iter()
                .map(|s| offset_in(&p.text, s))
                .collect();
            estimated(
                &mut cues,
                &p.text,
                &sentences,
                ms(p.start_frame),
                ms(p.end_frame),
            );
        }
    }
    let mut out = String::from("WEBVTT\n");
    let mut floor = 0;
    for c in cues {
        // Cues never start before the previous one, and never end before they start.
        let start = c.start.max(floor);
        let end = c.end.max(start + 1);
        floor = start;
        out.push('\n');
        out.push_str(&vtt_timestamp(start));
        out.push_str(" --> ");
        out.push_str(&vtt_timestamp(end));
        out.push('\n');
        let mut last = start;
        for (tag, text) in c.pieces {
            if let Some(t) = tag
                && t > last
                && t < end
            {
                out.push('<');
                out.push_str(&vtt_timestamp(t));
                out.push('>');
                last = t;
            }
            out.push_str(&crate::chapters::vtt_text(&text));
        }
        out.push('\n');
    }
    out
}

/// Cues for one sentence with word times: split into parts between words.
fn timed(
    cues: &mut Vec<Cue>,
    text: &str,
    sentence: Range<usize>,
    words: &[&WordRecord],
    (start_ms, end_ms): (u64, u64),
    rate: u32,
) {
    // Each written word once (a lexicon entry may say one written word as several).
    let mut marks: Vec<(usize, u64)> = Vec::new();
    for w in words {
        let [a, _] = w.text.expect("filtered");
        if marks.last().is_none_or(|&(b, _)| a > b) {
            marks.push((a, frames_to_ms(w.start_frame, rate)));
        }
    }
    // Parts start at marked words (text between marked words, such as a word the engine did
    // not mark, goes with the word before).
    let starts: Vec<usize> = marks.iter().skip(1).map(|&(at, _)| at).collect();
    let mut breaks = part_starts(text, sentence.clone(), &starts)
        .into_iter()
        .peekable();
    let mut parts: Vec<Vec<(usize, u64)>> = vec![Vec::new()];
    for &(at, t) in &marks {
        // Both in text order.
        if breaks.next_if_eq(&at).is_some() {
            parts.push(Vec::new());
        }
        parts.last_mut().expect("never empty").push((at, t));
    }
    for (k, part) in parts.iter().enumerate() {
        let from = if k == 0 { sentence.start } else { part[0].0 };
        let to = parts.get(k + 1).map_or(sentence.end, |n| n[0].0);
        let cue_start = if k == 0 { start_ms } else { part[0].1 };
        let cue_end = parts.get(k + 1).map_or(end_ms, |n| n[0].1);
        let mut pieces: Vec<(Option<u64>, String)> = Vec::new();
        let (mut at, mut tag) = (from, None);
        for &(w, t) in part.iter().skip(1) {
            pieces.push((tag, text[at..w].to_string()));
            (at, tag) = (w, Some(t));
        }
        pieces.push((tag, text[at..to].to_string()));
        trim_pieces(&mut pieces);
        wrap(&mut pieces);
        cues.push(Cue {
            start: cue_start,
            end: cue_end,
            pieces,
        });
    }
}

/// Cues without word times: each range split between words into parts of at most
/// [`MAX_CUE_CHARS`], timed in proportion to characters over `start_ms..end_ms`.
fn estimated(cues: &mut Vec<Cue>, text: &str, ranges: &[Range<usize>], start_ms: u64, end_ms: u64) {
    let parts: Vec<Range<usize>> = ranges
        .iter()
        .flat_map(|r| split_words(text, r.clone()))
        .collect();
    let total: usize = parts.iter().map(|r| text[r.clone()].chars().count()).sum();
    let span = end_ms.saturating_sub(start_ms);
    let mut done = 0usize;
    for r in parts {
        let n = text[r.clone()].chars().count();
        let at =
            |chars: usize| start_ms + (span as u128 * chars as u128 / total.max(1) as u128) as u64;
        let mut pieces = vec![(None, text[r].to_string())];
        trim_pieces(&mut pieces);
        wrap(&mut pieces);
        cues.push(Cue {
            start: at(done),
            end: at(done + n),
            pieces,
        });
        done += n;
    }
}

/// `range` of `text` cut between words into parts of at most [`MAX_CUE_CHARS`] characters
/// (a single longer word stays whole), without surrounding white space.
fn split_words(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    // Words start after white space.
    let slice = &text[range.clone()];
    let starts: Vec<usize> = slice
        .char_indices()
        .zip(slice.chars().skip(1))
        .filter(|&((_, c), next)| c.is_whitespace() && !next.is_whitespace())
        .map(|((i, c), _)| range.start + i + c.len_utf8())
        .collect();
    let breaks = part_starts(text, range.clone(), &starts);
    let bounds: Vec<usize> = std::iter::once(range.start)
        .chain(breaks)
        .chain(std::iter::once(range.end))
        .collect();
    bounds
        .windows(2)
        .map(|w| {
            let s = &text[w[0]..w[1]];
            let lead = s.len() - s.trim_start().len();
            w[0] + lead..w[0] + lead + s.trim().len()
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// Where to cut `text[range]` into parts of at most [`MAX_CUE_CHARS`], choosing among
/// `starts` (the byte offsets where words begin, in order): as few parts as that length allows,
/// of about the same length, rather than full parts and a one-word orphan at the end. Each cut
/// goes at the word start nearest the even share, without letting a part run past the limit
/// (a single word longer than it is a part of its own).
fn part_starts(text: &str, range: Range<usize>, starts: &[usize]) -> Vec<usize> {
    let chars = |a: usize, b: usize| text[a..b].trim().chars().count();
    let total = chars(range.start, range.end);
    if total <= MAX_CUE_CHARS {
        return Vec::new();
    }
    let target = total.div_ceil(total.div_ceil(MAX_CUE_CHARS));
    let mut cuts = Vec::new();
    let mut from = range.start;
    for (k, &at) in starts.iter().enumerate() {
        if at <= from {
            continue;
        }
        let here = chars(from, at);
        let next = starts.get(k + 1).copied().unwrap_or(range.end);
        // Cut here once the part has its share (or would pass the limit with the next word),
        // unless the word start before this one is nearer the share.
        if here >= target || chars(from, next) > MAX_CUE_CHARS {
            let before = k.checked_sub(1).map(|j| starts[j]).filter(|&b| b > from);
            let at = match before {
                Some(b) if target.abs_diff(chars(from, b)) < here.abs_diff(target) => b,
                _ => at,
            };
            cuts.push(at);
            from = at;
        }
    }
    cuts
}

/// Removes white space at the start of the first piece and the end of the last, and turns
/// line breaks inside into spaces (a blank line would end the cue).
fn trim_pieces(pieces: &mut [(Option<u64>, String)]) {
    for p in pieces.iter_mut() {
        p.1 = p.1.replace(['\n', '\r'], " ");
    }
    if let Some(first) = pieces.first_mut() {
        first.1 = first.1.trim_start().to_string();
    }
    if let Some(last) = pieces.last_mut() {
        last.1 = last.1.trim_end().to_string();
    }
}

/// Breaks a payload longer than [`MAX_LINE_CHARS`] into two lines at the space nearest its
/// middle.
fn wrap(pieces: &mut [(Option<u64>, String)]) {
    let visible: usize = pieces.iter().map(|p| p.1.chars().count()).sum();
    if visible <= MAX_LINE_CHARS {
        return;
    }
    let middle = visible / 2;
    let mut best: Option<(usize, usize, usize)> = None; // (distance, piece, byte)
    let mut seen = 0;
    for (k, (_, s)) in pieces.iter().enumerate() {
        for (ci, (bi, c)) in s.char_indices().enumerate() {
            if c == ' ' {
                let d = (seen + ci).abs_diff(middle);
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, k, bi));
                }
            }
        }
        seen += s.chars().count();
    }
    if let Some((_, k, bi)) = best {
        pieces[k].1.replace_range(bi..bi + 1, "\n");
    }
}

/// The byte range of `part`, a slice of `whole`.
fn offset_in(whole: &str, part: &str) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    let start = start.min(whole.len());
    start..(start + part.len()).min(whole.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{EngineRecord, Files, ParagraphRecord, SentenceRecord};

    fn paragraph(text: &str, start: u64, end: u64) -> ParagraphRecord {
        ParagraphRecord {
            index: 0,
            chapter: 0,
            kind: "text".into(),
            title: String::new(),
            text: text.into(),
            spoken_sha256: String::new(),
            start_frame: start,
            end_frame: end,
            duration_frames: end - start,
            start_seconds: 0.0,
            duration_seconds: 0.0,
            units: Vec::new(),
            sentences: Vec::new(),
            words: Vec::new(),
        }
    }

    fn manifest(paragraphs: Vec<ParagraphRecord>) -> Manifest {
        Manifest {
            format: String::new(),
            format_version: 0,
            generator: String::new(),
            source: String::new(),
            input_sha256: String::new(),
            settings_sha256: String::new(),
            title: String::new(),
            author: None,
            date: None,
            language: None,
            engine: EngineRecord {
                name: String::new(),
                version: String::new(),
                sample_rate: 1000,
                settings: Default::default(),
            },
            sample_rate: 1000,
            channels: 1,
            gap_ms: 0,
            chapter_gap_ms: 0,
            total_frames: 0,
            timing: Default::default(),
            duration_seconds: 0.0,
            loudness: None,
            encoder: None,
            files: Files::default(),
            chapters: Vec::new(),
            paragraphs,
            skipped: Vec::new(),
        }
    }

    #[test]
    fn word_timings_become_timestamp_tags_in_sentence_cues() {
        let text = "“Hi,” she said. <Go> & run!";
        let mut p = paragraph(text, 0, 5000);
        let at = |word: &str| {
            let a = text.find(word).unwrap();
            [a, a + word.len()]
        };
        let w = |start, end, text: [usize; 2]| WordRecord {
            start_frame: start,
            end_frame: end,
            spoken: String::new(),
            text: Some(text),
        };
        p.words = vec![
            w(100, 300, at("Hi")),
            w(400, 600, at("she")),
            w(600, 900, at("said")),
            w(2000, 2200, at("Go")),
            w(2300, 2400, at("&")),
            w(2500, 2900, at("run")),
        ];
        p.sentences = vec![
            SentenceRecord {
                start_frame: 100,
                end_frame: 950,
                spoken: String::new(),
                text: Some([0, text.find(" <").unwrap()]),
            },
            SentenceRecord {
                start_frame: 2000,
                end_frame: 2950,
                spoken: String::new(),
                text: Some([text.find('<').unwrap(), text.len()]),
            },
        ];
        let vtt = webvtt(&manifest(vec![p]));
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:00.100 --> 00:00:00.950\n“Hi,” <00:00:00.400>she <00:00:00.600>said.\n\n\
             00:00:02.000 --> 00:00:02.950\n&lt;Go&gt; <00:00:02.300>&amp; <00:00:02.500>run!\n"
        );
    }

    #[test]
    fn a_long_sentence_is_cut_into_even_parts_not_a_full_one_and_an_orphan() {
        // 97 characters: greedy cutting gave 84 and then "thirteen." alone.
        let text = "Twelve words make a sentence that runs just past the limit of one cue here, and then on to thirteen.";
        let vtt = webvtt(&manifest(vec![paragraph(text, 0, 10_000)]));
        let parts: Vec<usize> = vtt
            .split("\n\n")
            .skip(1)
            .map(|cue| {
                cue.lines()
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .count()
            })
            .collect();
        assert_eq!(parts.len(), 2, "{vtt}");
        assert!(
            parts.iter().all(|&n| (40..=60).contains(&n)),
            "{parts:?}\n{vtt}"
        );
        let d = text.len();
        assert_eq!(
            part_starts(text, 0..d, &[]),
            Vec::<usize>::new(),
            "one long word stays whole"
        );
    }

    #[test]
    fn long_text_is_cut_into_cues_of_two_short_lines() {
        let text = "word ".repeat(60);
        let vtt = webvtt(&manifest(vec![paragraph(text.trim(), 0, 60_000)]));
        let cues: Vec<&str> = vtt.split("\n\n").skip(1).collect();
        assert_eq!(cues.len(), 4, "{vtt}");
        let mut last_end = String::new();
        for cue in cues {
            let mut lines = cue.trim_end().lines();
            let (a, b) = lines.next().unwrap().split_once(" --> ").unwrap();
            assert!(a < b && a >= last_end.as_str(), "{cue}");
            last_end = b.to_string();
            let text: Vec<&str> = lines.collect();
            assert!((1..=2).contains(&text.len()), "{cue}");
            assert!(
                text.iter().all(|l| l.chars().count() <= MAX_LINE_CHARS + 5),
                "{cue}"
            );
            assert!(text.join(" ").chars().count() <= MAX_CUE_CHARS, "{cue}");
        }
        assert!(vtt.ends_with(" --> 00:01:00.000\nword word word word word word word word\nword word word word word word word word\n") || vtt.contains("00:01:00.000"), "{vtt}");
    }
}
