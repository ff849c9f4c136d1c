//! Word and sentence timings: from the marks an engine reports to spans on the article's
//! timeline and in the text as written. Pure functions.
//!
//! - [`unit_spans`]: a unit's word and sentence marks become spans of frames. A span starts at
//!   its mark (the engine's exact sample) and ends where the next one of its kind starts, or at
//!   the end of the unit, less the silence before that point (espeak-ng's pauses are exact
//!   zeros, so "the last non-zero sample" is exact too).
//! - [`align`]: the spoken words (the text after normalisation and the lexicon, which the
//!   marks point into) are matched to the words of the paragraph as written, so the transcript
//!   and the captions can show the article's own text. Words are compared case-insensitively
//!   by their letters and digits; a spoken word with no written counterpart ("to" inserted
//!   in "2019 to 2020") gets none, and written words that the lexicon replaced ("UNAMI",
//!   spoken as "you nah mee") go to the spoken words that replaced them.
//! - [`Precision`]: what an article's timings are good to: every unit had word marks, or
//!   sentence marks, or neither (then only paragraphs and units have times).

use crate::audio::{Audio, MarkKind};
use std::ops::Range;

/// How fine an article's timings are.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Only paragraphs (and the units they were spoken in) have times.
    #[default]
    Paragraph,
    /// Sentences have exact times, words do not.
    Sentence,
    /// Every word has exact times.
    Word,
}

/// A stretch of audio that speaks a stretch of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// First frame.
    pub start: u64,
    /// One past the last frame.
    pub end: u64,
    /// Byte range in the unit's text (the text the engine was given).
    pub text: Range<usize>,
}

/// A unit's words and sentences, frames relative to the unit's start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitSpans {
    /// Words, in order.
    pub words: Vec<Span>,
    /// Sentences, in order.
    pub sentences: Vec<Span>,
}

impl UnitSpans {
    /// The precision these spans give.
    pub fn precision(&self) -> Precision {
        if !self.words.is_empty() {
            Precision::Word
        } else if !self.sentences.is_empty() {
            Precision::Sentence
        } else {
            Precision::Paragraph
        }
    }

    /// The same spans, `offset` frames later.
    pub fn shifted(mut self, offset: u64) -> UnitSpans {
        for s in self.words.iter_mut().chain(self.sentences.iter_mut()) {
            s.start += offset;
            s.end += offset;
        }
        self
    }
}

/// The word and sentence spans of one unit's audio, from its marks.
pub fn unit_spans(audio: &Audio) -> UnitSpans {
    let spans = |kind: MarkKind| {
        let mut marks: Vec<(u64, Range<usize>)> = Vec::new();
        for m in audio.marks.iter().filter(|m| m.kind == kind) {
            // The engine may mark parts of a word again (espeak-ng marks "019" inside "2019",
            // and spells 日本語 character by character); one span covers the word.
            if marks.last().is_some_and(|(_, r)| m.text.start < r.end) {
                continue;
            }
            marks.push((m.frame.min(audio.frames()), m.text.clone()));
        }
        let mut out = Vec::with_capacity(marks.len());
        for (i, (start, text)) in marks.iter().enumerate() {
            let next = marks.get(i + 1).map_or(audio.frames(), |m| m.0).max(*start);
            out.push(Span {
                start: *start,
                end: end_of_sound(&audio.samples, *start, next),
                text: text.clone(),
            })
        }
        out
    };
    UnitSpans {
        words: spans(MarkKind::Word),
        sentences: spans(MarkKind::Sentence),
    }
}

/// One past the last non-zero sample in `start..end`; `start` when they are all silent.
fn end_of_sound(samples: &[i16], start: u64, end: u64) -> u64 {
    let (s, e) = (start as usize, (end as usize).min(samples.len()));
    if s >= e {
        return start;
    }
    samples[s..e]
        .iter()
        .rposition(|&x| x != 0)
        .map_or(start, |i| (s + i + 1) as u64)
}

/// The words of `text`: maximal runs of letters and digits, as byte ranges.
pub fn tokens(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// How far ahead a spoken word is looked for among the written words.
const LOOKAHEAD: usize = 12;

/// For each spoken word, its byte range in `written`, when it has one (see the module docs).
pub fn align(written: &str, spoken: &[&str]) -> Vec<Option<Range<usize>>> {
    let w_tokens = tokens(written);
    let w_keys: Vec<String> = w_tokens
        .iter()
        .map(|r| written[r.clone()].to_lowercase())
        .collect();
    // The written tokens matched by each spoken word: start..end token indices.
    let mut matched: Vec<Option<Range<usize>>> = Vec::with_capacity(spoken.len());
    let mut cursor = 0;
    for word in spoken {
        let keys: Vec<String> = tokens(word)
            .into_iter()
            .map(|r| word[r].to_lowercase())
            .collect();
        let found = (!keys.is_empty())
            .then(|| {
                (cursor..(cursor + LOOKAHEAD).min(w_keys.len())).find(|&j| {
                    j + keys.len() <= w_keys.len() && w_keys[j..j + keys.len()] == keys[..]
                })
            })
            .flatten();
        match found {
            Some(j) => {
                matched.push(Some(j..j + keys.len()));
                cursor = j + keys.len();
            }
            None => matched.push(None),
        }
    }
    // Runs of unmatched spoken words take the written words skipped between their neighbours.
    let mut out: Vec<Option<Range<usize>>> = matched
        .iter()
        .map(|m| {
            m.as_ref()
                .map(|t| w_tokens[t.start].start..w_tokens[t.end - 1].end)
        })
        .collect();
    let mut i = 0;
    while i < matched.len() {
        if matched[i].is_some() {
            i += 1;
            continue;
        }
        let run_end = (i..matched.len())
            .find(|&k| matched[k].is_some())
            .unwrap_or(matched.len());
        let before = matched[..i]
            .iter()
            .rev()
            .find_map(|m| m.as_ref().map(|t| t.end))
            .unwrap_or(0);
        let after = matched
            .get(run_end)
            .and_then(|m| m.as_ref().map(|t| t.start))
            .unwrap_or(if run_end == matched.len() {
                // After the last match: only words the engine said at the very end.
                w_tokens.len()
            } else {
                before
            });
        if after > before {
            let range = w_tokens[before].start..w_tokens[after - 1].end;
            for slot in &mut out[i..run_end] {
                *slot = Some(range.clone());
            }
        }
        i = run_end;
    }
    out
}

/// The written text of each sentence, given where its first written word starts (`None` for a
/// sentence none of whose words were found). A sentence runs from that word, with the opening
/// quotes or brackets written against it (`“We`, `(It`), to the next sentence's start, less the
/// white space between; a sentence without a start gets no text.
pub fn sentence_ranges(written: &str, first_words: &[Option<usize>]) -> Vec<Option<Range<usize>>> {
    // Starts first, so that a sentence ends before the quote that opens the next one.
    let mut floor = 0;
    let starts: Vec<Option<usize>> = first_words
        .iter()
        .map(|a| {
            a.map(|a| {
                let a = a.clamp(floor, written.len());
                floor = a;
                with_opening_marks(written, a)
            })
        })
        .collect();
    let mut floor = 0;
    (0..starts.len())
        .map(|k| {
            let a = starts[k]?.max(floor);
            let next = starts[k + 1..].iter().flatten().next();
            let b = next.copied().unwrap_or(written.len()).max(a);
            let b = a + written[a..b].trim_end().len();
            floor = b;
            Some(a..b)
        })
        .collect()
}

/// `at`, moved back over the punctuation written against the word there (`“`, `(`, `¿`) when
/// white space or the start of the text comes before it; otherwise `at`.
fn with_opening_marks(text: &str, at: usize) -> usize {
    let before = &text[..at];
    let marks = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| !c.is_whitespace() && !c.is_alphanumeric())
        .last()
        .map_or(at, |(i, _)| i);
    let attached = text[..marks]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace);
    if attached { marks } else { at }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Mark;

    fn written<'a>(text: &'a str, ranges: &[Option<Range<usize>>]) -> Vec<Option<&'a str>> {
        ranges.iter().map(|r| r.clone().map(|r| &text[r])).collect()
    }

    #[test]
    fn spoken_words_find_their_written_words() {
        let text = "“UNAMI’s” staff — in 2019–2020 — met Dr. Smith.";
        let spoken = [
            "you", "nah", "mee's", "staff", "in", "2019", "to", "2020", "met", "Doctor", "Smith",
        ];
        let got = align(text, &spoken);
        assert_eq!(
            written(text, &got),
            [
                Some("UNAMI’s"),
                Some("UNAMI’s"),
                Some("UNAMI’s"),
                Some("staff"),
                Some("in"),
                Some("2019"),
                None,
                Some("2020"),
                Some("met"),
                Some("Dr"),
                Some("Smith"),
            ]
        );
    }

    #[test]
    fn case_and_punctuation_do_not_matter_and_gaps_do_not_derail() {
        let text = "The U.S. said: don't panic. (Really.)";
        let spoken = ["the", "U.S.", "said", "don't", "extra", "panic", "really"];
        assert_eq!(
            written(text, &align(text, &spoken)),
            [
                Some("The"),
                Some("U.S"),
                Some("said"),
                Some("don't"),
                None,
                Some("panic"),
                Some("Really")
            ]
        );
        assert!(align("", &["a"]).iter().all(Option::is_none));
    }

    #[test]
    fn a_sentence_keeps_the_quote_or_bracket_that_opens_it() {
        let text = "“It works,” she said. “Then it broke.” He left. (It was late.) ¿Qué? Fin.";
        let at = |w: &str| text.find(w);
        let firsts = [
            at("It"),
            at("Then"),
            at("He"),
            at("It was"),
            at("Qué"),
            at("Fin"),
        ];
        assert_eq!(
            written(text, &sentence_ranges(text, &firsts)),
            [
                Some("“It works,” she said."),
                Some("“Then it broke.”"),
                Some("He left."),
                Some("(It was late.)"),
                Some("¿Qué?"),
                Some("Fin."),
            ]
        );
        // Punctuation after a word without a space belongs to that word's sentence; a sentence
        // whose words were not found gets no text, and the one before it runs on.
        let text = "One.\"Two\" three. Four.";
        let firsts = [Some(0), text.find("Two"), None, text.find("Four")];
        assert_eq!(
            written(text, &sentence_ranges(text, &firsts)),
            [Some("One.\""), Some("Two\" three."), None, Some("Four.")]
        );
        assert!(sentence_ranges("", &[]).is_empty());
    }

    #[test]
    fn spans_run_to_the_next_mark_less_the_silence() {
        let mut audio = Audio::new(1000, vec![0, 5, 5, 0, 0, 7, 7, 7, 0, 0]);
        let mark = |kind, frame, text: Range<usize>| Mark { kind, frame, text };
        audio.marks = vec![
            mark(MarkKind::Sentence, 0, 0..7),
            mark(MarkKind::Word, 0, 0..3),
            mark(MarkKind::Word, 4, 4..7),
            mark(MarkKind::Word, 4, 4..7), // the same word again
            mark(MarkKind::Word, 5, 5..7), // a part of it
        ];
        let spans = unit_spans(&audio);
        assert_eq!(
            spans.words,
            [
                Span {
                    start: 0,
                    end: 3,
                    text: 0..3
                },
                Span {
                    start: 4,
                    end: 8,
                    text: 4..7
                }
            ]
        );
        assert_eq!(
            spans.sentences,
            [Span {
                start: 0,
                end: 8,
                text: 0..7
            }]
        );
        assert_eq!(spans.precision(), Precision::Word);
        let later = spans.shifted(100);
        assert_eq!(later.words[1].start, 104);
        assert_eq!(
            unit_spans(&Audio::new(1000, vec![1])).precision(),
            Precision::Paragraph
        );
    }
}
