//! Plain text → [`Article`].
//!
//! Paragraphs are separated by blank lines. A file with no blank line between its lines (like
//! text scraped one paragraph per line) has one paragraph per non-empty line. Lines that are
//! page furniture are removed first, so they neither become paragraphs nor split one. Each
//! paragraph is one chapter, titled by its opening words.

use super::furniture::FurnitureFilter;
use super::title::{MAX_TITLE_CHARS, opening_words};
use super::{Article, Chapter, Paragraph, TextError, normalize_whitespace};

/// Parses plain text. `title` names the article (plain text carries no reliable title).
pub fn parse(text: &str, title: &str, furniture: &FurnitureFilter) -> Result<Article, TextError> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text
        .split('\n')
        .filter(|l| !furniture.is_furniture(l))
        .collect();

    let blank = |l: &&str| l.trim().is_empty();
    let first = lines.iter().position(|l| !blank(l));
    let last = lines.iter().rposition(|l| !blank(l));
    let blank_separated = match (first, last) {
        (Some(f), Some(l)) => lines[f..=l].iter().any(blank),
        _ => false,
    };

    let raw: Vec<String> = if blank_separated {
        lines.split(blank).map(|block| block.join(" ")).collect()
    } else {
        lines.iter().map(|l| l.to_string()).collect()
    };
    let paragraphs: Vec<Paragraph> = raw
        .iter()
        .map(|p| normalize_whitespace(p))
        .filter(|p| !p.is_empty() && !furniture.is_furniture(p))
        .map(Paragraph::text)
        .collect();
    if paragraphs.is_empty() {
        return Err(TextError::NothingSpeakable);
    }
    let chapters = paragraphs
        .iter()
        .enumerate()
        .map(|(i, p)| Chapter {
            title: opening_words(&p.text, MAX_TITLE_CHARS),
            first_paragraph: i,
            level: 1,
        })
        .collect();
    Ok(Article {
        title: title.to_string(),
        author: None,
        date: None,
        paragraphs,
        chapters,
        skipped: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(src: &str) -> Vec<String> {
        parse(src, "t", FurnitureFilter::builtin())
            .unwrap()
            .paragraphs
            .into_iter()
            .map(|p| p.text)
            .collect()
    }

    #[test]
    fn blank_lines_separate_paragraphs_and_wrapped_lines_are_joined() {
        assert_eq!(texts("one\ntwo\n\nthree\n"), ["one two", "three"]);
        assert_eq!(texts("\n\n  one  \n\n\n\nthree"), ["one", "three"]);
    }

    #[test]
    fn without_blank_lines_each_line_is_a_paragraph() {
        assert_eq!(texts("one\ntwo\nthree"), ["one", "two", "three"]);
    }

    #[test]
    fn crlf_and_lone_cr_are_line_ends() {
        assert_eq!(texts("one\r\ntwo\r\n\r\nthree"), ["one two", "three"]);
        assert_eq!(texts("one\rtwo"), ["one", "two"]);
    }

    #[test]
    fn furniture_lines_neither_speak_nor_split() {
        assert_eq!(
            texts("Your browser doesn\u{2019}t support HTML5\nfirst\nsecond"),
            ["first", "second"]
        );
        // In a blank-line file, a furniture line inside a paragraph does not split it.
        assert_eq!(
            texts("a1\nYour browser does not support the audio element.\na2\n\nb"),
            ["a1 a2", "b"]
        );
    }

    #[test]
    fn typographic_quotes_are_kept() {
        assert_eq!(
            texts("\u{201c}Most of all,\u{201d} he said"),
            ["\u{201c}Most of all,\u{201d} he said"]
        );
    }

    #[test]
    fn nothing_speakable_is_an_error() {
        for src in ["", "   \n\t\n", "Your browser doesn't support HTML5\n\n"] {
            assert_eq!(
                parse(src, "t", FurnitureFilter::builtin()).unwrap_err(),
                TextError::NothingSpeakable,
                "{src:?}"
            );
        }
    }

    #[test]
    fn each_paragraph_is_a_chapter_titled_by_its_opening_words() {
        let a = parse("Short one.\nA much longer paragraph that goes on and on well past the sixty character limit for titles.", "t", FurnitureFilter::builtin()).unwrap();
        assert_eq!(a.chapters.len(), 2);
        assert_eq!(a.chapters[0].title, "Short one.");
        assert_eq!(a.chapters[1].first_paragraph, 1);
        assert!(a.chapters[1].title.ends_with('\u{2026}'));
    }

    proptest! {
        /// Paragraphs are never empty, never contain line breaks or doubled spaces, and every
        /// chapter starts at a distinct, increasing paragraph.
        #[test]
        fn segmentation_invariants(src in "[a-z \\n\\r\\t\u{a0}.,\u{2019}]{0,300}") {
            if let Ok(a) = parse(&src, "t", FurnitureFilter::builtin()) {
                prop_assert!(!a.paragraphs.is_empty());
                for p in &a.paragraphs {
                    prop_assert!(!p.text.is_empty());
                    prop_assert!(!p.text.contains(['\n', '\r', '\t']));
                    prop_assert!(!p.text.contains("  "));
                    prop_assert_eq!(p.text.trim(), p.text.as_str());
                }
                prop_assert_eq!(a.chapters[0].first_paragraph, 0);
                for w in a.chapters.windows(2) {
                    prop_assert!(w[0].first_paragraph < w[1].first_paragraph);
                }
            }
        }
    }
}
