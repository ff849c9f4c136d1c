//! From the text as written to the text an engine is given.
//!
//! [`normalize`] removes what engines trip over or read aloud: control and zero-width
//! characters, soft hyphens, exotic spaces, typographic quotes and dashes (which engines
//! without full Unicode support spell out or skip), and a dash between two numbers, which
//! espeak-ng drops ("2019–2020" is read "2019 2020"; it becomes "2019 to 2020"). Numbers,
//! dates and currencies are otherwise left to the engine.
//!
//! A [`Lexicon`] then replaces whole words with how they should be said (`UNAMI` → `you nah
//! mee`). Both apply to the spoken text only: the transcript keeps the text as written.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Makes `text` safe for engines. Idempotent; never returns leading or trailing whitespace.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            // Invisible: gone.
            '\u{00ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' => {}
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{00ab}' | '\u{00bb}'
            | '\u{2033}' => out.push('"'),
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' | '\u{02bc}' => {
                out.push('\'')
            }
            '\u{2026}' => out.push_str("..."),
            '\u{2212}' => out.push('-'),
            '\u{2010}' | '\u{2011}' => out.push('-'),
            '\u{2013}' | '\u{2014}' | '\u{2015}' => {
                let prev = chars[..i].iter().rev().find(|c| !c.is_whitespace());
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if prev.is_some_and(char::is_ascii_digit) && next.is_some_and(char::is_ascii_digit)
                {
                    out.push_str(" to ");
                } else {
                    out.push_str(", ");
                }
            }
            '\u{2022}' | '\u{25cf}' | '\u{25aa}' => out.push(' '),
            c if c.is_control() || c.is_whitespace() => out.push(' '),
            c => out.push(c),
        }
    }
    let collapsed = super::normalize_whitespace(&out);
    // ", ," and " ," left by dashes next to punctuation read as stutters.
    collapsed
        .replace(" ,", ",")
        .replace(",,", ",")
        .trim_start_matches([',', ' '])
        .to_string()
}

/// Whole-word pronunciation replacements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    /// (word, replacement, case-sensitive), longest words first.
    entries: Vec<(String, String, bool)>,
}

/// A lexicon file: `[words]` match ignoring case, `[case_sensitive]` exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexiconFile {
    /// Replacements matched ignoring case.
    #[serde(default)]
    pub words: BTreeMap<String, String>,
    /// Replacements matched exactly.
    #[serde(default)]
    pub case_sensitive: BTreeMap<String, String>,
}

impl Lexicon {
    /// Builds a lexicon from parsed files, later files winning for the same word.
    pub fn from_files(files: &[LexiconFile]) -> Lexicon {
        let mut map: BTreeMap<(String, bool), String> = BTreeMap::new();
        for f in files {
            for (w, r) in &f.words {
                map.insert((w.to_lowercase(), false), r.clone());
            }
            for (w, r) in &f.case_sensitive {
                map.insert((w.clone(), true), r.clone());
            }
        }
        let mut entries: Vec<(String, String, bool)> = map
            .into_iter()
            .filter(|((w, _), _)| !w.trim().is_empty())
            .map(|((w, cs), r)| (w, r, cs))
            .collect();
        // Longest first, so "COVID-19" wins over "COVID"; then a stable order.
        entries.sort_by(|a, b| {
            b.0.chars()
                .count()
                .cmp(&a.0.chars().count())
                .then(a.0.cmp(&b.0))
        });
        Lexicon { entries }
    }

    /// The entries: (word, replacement, case-sensitive), in matching order.
    pub fn entries(&self) -> &[(String, String, bool)] {
        &self.entries
    }

    /// Whether there is nothing to replace.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Replaces every whole-word occurrence; a word is bounded by the text's ends or by a
    /// character that is not a letter or digit.
    pub fn apply(&self, text: &str) -> String {
        if self.entries.is_empty() {
            return text.to_string();
        }
        let lower = text.to_lowercase();
        // Lower-casing can change byte lengths (rare letters); fall back to exact matching
        // then, rather than mis-slicing.
        let can_fold = lower.len() == text.len();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < text.len() {
            let at_start = text[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
            if at_start {
                for (word, say, case_sensitive) in &self.entries {
                    let hay = if *case_sensitive || !can_fold {
                        text
                    } else {
                        lower.as_str()
                    };
                    if hay[i..].starts_with(word.as_str()) {
                        let end = i + word.len();
                        let at_end = text[end..]
                            .chars()
                            .next()
                            .is_none_or(|c| !c.is_alphanumeric());
                        if at_end {
                            out.push_str(say);
                            i = end;
                            continue 'outer;
                        }
                    }
                }
            }
            let c = text[i..].chars().next().expect("i is a char boundary");
            out.push(c);
            i += c.len_utf8();
        }
        out
    }
}

/// Parses a lexicon file; errors carry TOML's line and key.
pub fn parse_lexicon(src: &str) -> Result<LexiconFile, String> {
    toml::from_str(src).map_err(|e| e.to_string().trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_engines_trip_over_is_normalised() {
        let cases = [
            ("\u{201c}Hello,\u{201d} it\u{2019}s", "\"Hello,\" it's"),
            ("Hel\u{00ad}lo\u{200b} there\u{00a0}now", "Hello there now"),
            ("wait\u{2026}", "wait..."),
            ("2019\u{2013}2020", "2019 to 2020"),
            ("pages 4 \u{2013} 7", "pages 4 to 7"),
            ("yes\u{2014}no", "yes, no"),
            ("yes \u{2014} no", "yes, no"),
            ("a\u{0007}b\tc", "a b c"),
            ("\u{2014} leading", "leading"),
            ("\u{2022} item", "item"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input:?}");
            assert_eq!(normalize(want), want, "idempotent on {want:?}");
        }
    }

    fn lexicon(src: &str) -> Lexicon {
        Lexicon::from_files(&[parse_lexicon(src).unwrap()])
    }

    #[test]
    fn whole_words_are_replaced_case_as_configured() {
        let l = lexicon(
            "[words]\ncovid = \"koh vid\"\n\"D.C.\" = \"D C\"\n[case_sensitive]\nUNAMI = \"you nah mee\"\n",
        );
        assert_eq!(l.apply("UNAMI and Unami"), "you nah mee and Unami");
        assert_eq!(
            l.apply("COVID-19, Covid; covidiot"),
            "koh vid-19, koh vid; covidiot"
        );
        assert_eq!(l.apply("Washington D.C. today"), "Washington D C today");
        assert_eq!(l.apply("xUNAMI UNAMIx"), "xUNAMI UNAMIx");
    }

    #[test]
    fn longer_entries_win() {
        let l = lexicon("[words]\n\"COVID-19\" = \"the pandemic\"\nCOVID = \"koh vid\"\n");
        assert_eq!(l.apply("COVID-19 and COVID"), "the pandemic and koh vid");
    }

    #[test]
    fn unknown_keys_are_errors_with_a_line() {
        let err = parse_lexicon("[wrods]\nx = \"y\"\n").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }
}
