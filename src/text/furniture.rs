//! The page-furniture filter: lines that are never article text.
//!
//! The patterns live in a data file (`src/text/furniture.txt`, compiled in) so they can be read
//! and extended without touching code. Matching is on whole lines, after [`canonical`]: a
//! pattern never removes part of a line.

use regex::{RegexSet, RegexSetBuilder};
use std::sync::OnceLock;

const BUILTIN: &str = include_str!("furniture.txt");

/// A set of line patterns that mark page furniture.
#[derive(Debug, Clone)]
pub struct FurnitureFilter {
    patterns: Vec<String>,
    set: RegexSet,
}

impl FurnitureFilter {
    /// The patterns shipped with `aloud`.
    pub fn builtin() -> &'static FurnitureFilter {
        static FILTER: OnceLock<FurnitureFilter> = OnceLock::new();
        FILTER.get_or_init(|| {
            FurnitureFilter::from_patterns(BUILTIN)
                .unwrap_or_else(|e| panic!("built-in furniture.txt is invalid: {e}"))
        })
    }

    /// Builds a filter from pattern-file text (one regex per line, `#` comments). The error
    /// names the 1-based line of the first bad pattern.
    pub fn from_patterns(src: &str) -> Result<FurnitureFilter, String> {
        FurnitureFilter::build(parse_patterns(src)?)
    }

    /// This filter plus the patterns in `src` (a user's pattern file).
    pub fn with_patterns(&self, src: &str) -> Result<FurnitureFilter, String> {
        let mut patterns = self.patterns.clone();
        patterns.extend(parse_patterns(src)?);
        FurnitureFilter::build(patterns)
    }

    fn build(patterns: Vec<String>) -> Result<FurnitureFilter, String> {
        let set = RegexSetBuilder::new(&patterns)
            .case_insensitive(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(FurnitureFilter { patterns, set })
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether the whole line is page furniture.
    pub fn is_furniture(&self, line: &str) -> bool {
        let c = canonical(line);
        !c.is_empty() && self.set.is_match(&c)
    }
}

fn parse_patterns(src: &str) -> Result<Vec<String>, String> {
    let mut patterns = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        regex::RegexBuilder::new(line)
            .case_insensitive(true)
            .build()
            .map_err(|e| format!("line {}: {e}", i + 1))?;
        patterns.push(line.to_string());
    }
    Ok(patterns)
}

/// The form patterns are matched against: whitespace collapsed, typographic apostrophes
/// plain, trailing `.`, `!` and `:` removed.
pub fn canonical(line: &str) -> String {
    let collapsed =
        super::normalize_whitespace(line).replace(['\u{2019}', '\u{2018}', '\u{02bc}'], "'");
    collapsed
        .trim_end_matches(['.', '!', ':', ' ', '\u{2026}'])
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn player_fallbacks_are_furniture() {
        let f = FurnitureFilter::builtin();
        for line in [
            "Your browser doesn\u{2019}t support HTML5",
            "Your browser doesn't support HTML5 audio",
            "Your browser does not support the audio element.",
            "Your browser does not support the video tag.",
            "  your   browser doesnt support html5 video  ",
            "Sorry, your browser does not support embedded videos!",
            "Your browser cannot play this audio",
            "Audio is not supported in your browser",
            "Share this article",
            "Share on Facebook",
            "Advertisement",
            "Listen to this article",
            "Read more",
            "Subscribe",
            "Sign up for our newsletter",
            "Related stories",
            "Photo: Jane Roe/Getty Images",
            "We use cookies to improve your experience.",
        ] {
            assert!(f.is_furniture(line), "{line:?} should be furniture");
        }
    }

    #[test]
    fn article_sentences_are_kept() {
        let f = FurnitureFilter::builtin();
        for line in [
            "With a view to future relations between the United States and Iraq, the two countries began a series of dialogues.",
            "Browser makers said the feature does not support older devices.",
            "Your browser history is private, the court ruled, and police need a warrant to obtain it from providers like Google.",
            "Subscribers will read more about the advertisement campaign next week.",
            "Share prices fell on Monday.",
            "Sign up for the draft was mandatory in 1940.",
            "Subscribe to the idea that less is more, she said.",
            "",
        ] {
            assert!(!f.is_furniture(line), "{line:?} should be kept");
        }
    }

    #[test]
    fn user_patterns_extend_the_builtin_ones() {
        let f = FurnitureFilter::builtin()
            .with_patterns("^brought to you by .{1,40}$\n")
            .unwrap();
        assert!(f.is_furniture("Brought to you by Acme"));
        assert!(f.is_furniture("Your browser doesn't support HTML5"));
        assert!(!FurnitureFilter::builtin().is_furniture("Brought to you by Acme"));
    }

    #[test]
    fn a_bad_pattern_names_its_line() {
        let err = FurnitureFilter::from_patterns("# c\nok\n(unclosed\n").unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
    }
}
