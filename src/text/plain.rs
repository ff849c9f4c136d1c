//! Plain text → blocks.
//!
//! - Paragraphs are separated by blank lines; the lines of one paragraph are joined.
//! - A file with no blank line between its lines has one paragraph per line (text scraped one
//!   paragraph per line), unless it is hard-wrapped prose (most lines end near one width and
//!   without a sentence end), whose lines are joined into paragraphs that end where a line
//!   ends a sentence well short of that width.
//! - A first line that is clearly a title (short, no final punctuation, followed by a blank
//!   line, with text after it) names the article.
//! - Page-furniture lines are removed first, so they neither become paragraphs nor split one.

use super::furniture::FurnitureFilter;
use super::outline::Parsed;
use super::{Paragraph, normalize_whitespace};

/// Parses plain text (any line ends: LF, CRLF or CR).
pub fn parse(text: &str, furniture: &FurnitureFilter) -> Parsed {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<&str> = text
        .split('\n')
        .filter(|l| !furniture.is_furniture(l))
        .collect();
    let blank = |l: &&str| l.trim().is_empty();

    let mut title = None;
    let first = lines.iter().position(|l| !blank(l));
    if let Some(f) = first
        && lines.get(f + 1).is_some_and(blank)
        && lines[f + 1..].iter().any(|l| !blank(l))
        && looks_like_title(lines[f])
    {
        title = Some(normalize_whitespace(lines[f]));
        lines.drain(..=f);
    }

    let first = lines.iter().position(|l| !blank(l));
    let last = lines.iter().rposition(|l| !blank(l));
    let blank_separated = match (first, last) {
        (Some(f), Some(l)) => lines[f..=l].iter().any(blank),
        _ => false,
    };
    let paragraphs: Vec<String> = if blank_separated {
        lines.split(blank).map(|block| block.join(" ")).collect()
    } else if let Some(width) = wrap_width(&lines) {
        unwrap(&lines, width)
    } else {
        lines.iter().map(|l| l.to_string()).collect()
    };
    Parsed {
        title,
        blocks: paragraphs
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .map(Paragraph::text)
            .collect(),
        ..Parsed::default()
    }
}

/// Short, no sentence-final or clause punctuation, starting like words do (not a list item,
/// not markup): a line that is not clearly a title stays text, because a title is not spoken.
fn looks_like_title(line: &str) -> bool {
    let t = line.trim();
    let words = t.split_whitespace().count();
    (1..=14).contains(&words)
        && t.chars().count() <= 100
        && !t.ends_with(['.', ',', ';', ':', '!', '?', '"', '\u{201d}', '>', ')', ']'])
        && t.chars().next().is_some_and(|c| {
            c.is_alphanumeric() || matches!(c, '"' | '\'' | '\u{201c}' | '\u{2018}')
        })
        && !t.contains(['<', '{', '|'])
}

/// The wrap width if the non-blank lines look hard-wrapped: at least three lines, and most
/// lines that do not end a sentence end within a few characters of the longest line, which is
/// at most 100 characters.
fn wrap_width(lines: &[&str]) -> Option<usize> {
    let content: Vec<&str> = lines
        .iter()
        .map(|l| l.trim_end())
        .filter(|l| !l.trim().is_empty())
        .collect();
    if content.len() < 3 {
        return None;
    }
    let width = content.iter().map(|l| l.chars().count()).max()?;
    if !(40..=100).contains(&width) {
        return None;
    }
    let body = &content[..content.len() - 1];
    let near = body
        .iter()
        .filter(|l| l.chars().count() + 15 >= width && !ends_sentence(l))
        .count();
    (near * 2 >= body.len()).then_some(width)
}

fn ends_sentence(line: &str) -> bool {
    line.trim_end()
        .ends_with(['.', '!', '?', '"', '\u{201d}', ':'])
}

/// Joins hard-wrapped lines; a paragraph ends at a line that ends a sentence well short of the
/// wrap width.
fn unwrap(lines: &[&str], width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(line.trim());
        if ends_sentence(line) && line.trim_end().chars().count() + 15 < width {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> (Option<String>, Vec<String>) {
        let p = parse(src, FurnitureFilter::builtin());
        (
            p.title,
            p.blocks
                .into_iter()
                .map(|b| normalize_whitespace(&b.text))
                .collect(),
        )
    }

    #[test]
    fn blank_lines_separate_paragraphs_and_wrapped_lines_are_joined() {
        assert_eq!(texts("one\ntwo\n\nthree\n").1, ["one two", "three"]);
        assert_eq!(texts("\n\n  one.  \n\n\n\nthree").1, ["one.", "three"]);
    }

    #[test]
    fn without_blank_lines_each_line_is_a_paragraph() {
        assert_eq!(texts("one\ntwo\nthree").1, ["one", "two", "three"]);
    }

    #[test]
    fn crlf_and_lone_cr_are_line_ends() {
        assert_eq!(texts("one\r\ntwo\r\n\r\nthree").1, ["one two", "three"]);
        assert_eq!(texts("one\rtwo").1, ["one", "two"]);
    }

    #[test]
    fn furniture_lines_neither_speak_nor_split() {
        assert_eq!(
            texts("Your browser doesn\u{2019}t support HTML5\nfirst\nsecond").1,
            ["first", "second"]
        );
        assert_eq!(
            texts("a1\nYour browser does not support the audio element.\na2\n\nb").1,
            ["a1 a2", "b"]
        );
    }

    #[test]
    fn a_clear_first_line_title_names_the_article() {
        let (title, paras) = texts("The Strategic Dialogue\n\nFirst paragraph.\n\nSecond.");
        assert_eq!(title.as_deref(), Some("The Strategic Dialogue"));
        assert_eq!(paras, ["First paragraph.", "Second."]);
        // Not a title: ends a sentence, or no blank line after, or nothing after.
        assert_eq!(texts("A sentence.\n\nMore.").0, None);
        assert_eq!(texts("Heading\nMore.").0, None);
        assert_eq!(texts("Only a line\n\n").0, None);
        assert_eq!(texts("<speak>Hello</speak>\n\nMore.").0, None);
        assert_eq!(texts("- a list item\n\nMore.").0, None);
    }

    #[test]
    fn hard_wrapped_prose_without_blank_lines_is_joined_into_paragraphs() {
        let src = "\
The first paragraph is wrapped at about sixty characters so
its lines end close to the same column and it goes on for a
while before it finally ends here.
The second paragraph starts on the next line and it is also
wrapped at the same width until it ends.";
        assert_eq!(
            texts(src).1,
            [
                "The first paragraph is wrapped at about sixty characters so its lines end close to the same column and it goes on for a while before it finally ends here.",
                "The second paragraph starts on the next line and it is also wrapped at the same width until it ends."
            ]
        );
    }

    #[test]
    fn one_paragraph_per_line_is_not_mistaken_for_wrapping() {
        let sample = include_str!("../../input/us-iraq-dialogue.txt");
        let (title, paras) = texts(sample);
        assert_eq!(title, None);
        assert_eq!(paras.len(), 11);
    }
}
