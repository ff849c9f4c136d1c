//! Chapter titles made from a paragraph's opening words.

/// The default longest title, in characters, ellipsis included.
pub const MAX_TITLE_CHARS: usize = 60;

/// The opening words of `text`, cut at a word boundary to at most `max` characters (counting
/// the ellipsis that marks the cut). A first word longer than that is cut inside the word.
pub fn opening_words(text: &str, max: usize) -> String {
    let text = super::normalize_whitespace(text);
    if text.chars().count() <= max {
        return text;
    }
    let budget = max.saturating_sub(1); // room for "…"
    let mut out = String::new();
    let mut used = 0;
    for word in text.split(' ') {
        let n = word.chars().count();
        let needed = if out.is_empty() { n } else { n + 1 };
        if used + needed > budget {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        used += needed;
    }
    if out.is_empty() {
        out = text.chars().take(budget).collect();
    }
    // "and so," → "and so…": punctuation before an ellipsis reads badly.
    let trimmed = out.trim_end_matches([',', ';', ':', '-', '\u{2013}', '\u{2014}']);
    let mut title = trimmed.to_string();
    title.push('\u{2026}');
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(
            opening_words("To help Iraq adapt.", 60),
            "To help Iraq adapt."
        );
    }

    #[test]
    fn long_text_is_cut_at_a_word_boundary_with_an_ellipsis() {
        let t = opening_words(
            "With a view to future relations between the United States and Iraq, the two countries",
            60,
        );
        assert_eq!(
            t,
            "With a view to future relations between the United States\u{2026}"
        );
        assert!(t.chars().count() <= 60);
    }

    #[test]
    fn trailing_punctuation_before_the_cut_is_dropped() {
        assert_eq!(
            opening_words("alpha beta, gamma delta", 13),
            "alpha beta\u{2026}"
        );
    }

    #[test]
    fn one_huge_word_is_cut_inside() {
        let t = opening_words(&"x".repeat(100), 10);
        assert_eq!(t, format!("{}\u{2026}", "x".repeat(9)));
    }

    #[test]
    fn non_ascii_counts_characters_not_bytes() {
        let t = opening_words(
            "日本語の 見出し です とても 長い 文章 が ここに 続きます",
            12,
        );
        assert!(t.chars().count() <= 12, "{t}");
        assert!(t.ends_with('\u{2026}'));
    }
}
