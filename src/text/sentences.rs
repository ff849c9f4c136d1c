//! Sentence splitting and packing long paragraphs into synthesis units.
//!
//! Sentences come from `sentencex` (Wikimedia's rule-based segmenter, which knows English
//! abbreviations, initials and decimals), with two repairs on top: a "sentence" that starts
//! with a lower-case letter continues the previous one (`"...” he said.`), and one that follows
//! a known abbreviation sentencex misses (`Approx. 50 people`) does too.
//!
//! [`pack`] then groups whole sentences into units of at most `max_chars` characters. A
//! sentence longer than that is cut at the last clause boundary (`,` `;` `:` or a dash) before
//! the limit, else at the last space: never inside a word.

/// Abbreviations that sentencex does not know, lower case, with their final dot.
const EXTRA_ABBREVIATIONS: &[&str] = &[
    "approx.", "appt.", "apt.", "est.", "dept.", "fig.", "figs.", "no.", "nos.", "vol.", "vols.",
    "ch.", "sec.", "p.", "pp.", "cf.", "ca.", "vs.", "etc.",
];

/// Splits `text` into sentences. Joining the result gives back `text` exactly.
pub fn split(text: &str) -> Vec<&str> {
    let base = text.as_ptr() as usize;
    let mut starts: Vec<usize> = vec![0];
    for piece in sentencex::segment("en", text) {
        // sentencex returns slices of `text`: a sentence starts where its slice does.
        let Some(start) = (piece.as_ptr() as usize).checked_sub(base) else {
            continue;
        };
        let prev = *starts.last().unwrap_or(&0);
        if start <= prev || start >= text.len() || !text.is_char_boundary(start) {
            continue;
        }
        if continues(&text[prev..start], piece) {
            continue;
        }
        starts.push(start);
    }
    let mut ends: Vec<usize> = starts[1..].to_vec();
    ends.push(text.len());
    starts
        .iter()
        .zip(ends)
        .map(|(&s, e)| &text[s..e])
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether `next` continues the sentence `prev` rather than starting a new one.
fn continues(prev: &str, next: &str) -> bool {
    let first_letter = next.chars().find(|c| c.is_alphanumeric());
    if first_letter.is_some_and(char::is_lowercase) {
        return true;
    }
    let last_word = prev
        .trim_end()
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("")
        .trim_start_matches(['(', '"', '\'', '\u{201c}', '\u{2018}'])
        .to_lowercase();
    EXTRA_ABBREVIATIONS.contains(&last_word.as_str())
}

/// Groups the sentences of `text` into units of at most `max_chars` characters (whitespace
/// at unit edges trimmed). Every unit is non-empty and the units, joined with spaces, hold all
/// of `text`'s words in order.
pub fn pack(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(20);
    if text.chars().count() <= max_chars {
        return vec![text.trim().to_string()];
    }
    let mut units: Vec<String> = Vec::new();
    let mut current = String::new();
    for sentence in split(text) {
        let sentence = sentence.trim();
        if sentence.is_empty() {
            continue;
        }
        for piece in cut_long(sentence, max_chars) {
            let joined_len = current.chars().count() + 1 + piece.chars().count();
            if !current.is_empty() && joined_len > max_chars {
                units.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(piece);
        }
    }
    if !current.is_empty() {
        units.push(current);
    }
    units
}

/// Cuts one sentence into pieces of at most `max` characters: at the last clause boundary
/// before the limit, else at the last space, else after the last non-word character, else
/// (one enormous word) at the limit.
fn cut_long(sentence: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = sentence;
    // `nth(max)` looks at most `max` characters ahead, so a 5 MB sentence stays linear.
    while let Some((limit, _)) = rest.char_indices().nth(max) {
        let window = &rest[..limit];
        let clause = window
            .char_indices()
            .rev()
            .find(|&(i, c)| {
                matches!(c, ',' | ';' | ':' | '\u{2013}' | '\u{2014}')
                    && window[i + c.len_utf8()..].starts_with(' ')
            })
            .map(|(i, c)| i + c.len_utf8())
            .filter(|&i| i >= limit / 3);
        // Never inside a word: failing a clause or a space, after the last character that
        // is not a letter or digit (a URL's `/`, a `-`); only one enormous word is cut anyway.
        let after_non_word = || {
            window
                .char_indices()
                .filter(|&(_, c)| !c.is_alphanumeric())
                .map(|(i, c)| i + c.len_utf8())
                .rfind(|&i| i < window.len())
        };
        let cut = clause
            .or_else(|| window.rfind(' ').filter(|&i| i > 0))
            .or_else(after_non_word)
            .unwrap_or(limit);
        let (head, tail) = rest.split_at(cut);
        pieces.push(head.trim());
        rest = tail.trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (text, expected sentences). Each case holds something a naive split on ". " breaks.
    const CASES: &[(&str, &[&str])] = &[
        (
            "The U.S. and Iraq met. They talked.",
            &["The U.S. and Iraq met.", "They talked."],
        ),
        (
            "He lives in Washington D.C. now. Really.",
            &["He lives in Washington D.C. now.", "Really."],
        ),
        (
            "It was in Washington D.C. The talks went well.",
            &["It was in Washington D.C.", "The talks went well."],
        ),
        (
            "Dr. Smith arrived. He sat.",
            &["Dr. Smith arrived.", "He sat."],
        ),
        (
            "e.g. apples and pears are fruit. Yes.",
            &["e.g. apples and pears are fruit.", "Yes."],
        ),
        (
            "The population is 9.7 million. That is large.",
            &["The population is 9.7 million.", "That is large."],
        ),
        (
            "See No. 5 in the list. Then stop.",
            &["See No. 5 in the list.", "Then stop."],
        ),
        (
            "\u{201c}We are proceeding together,\u{201d} he said. \u{201c}It works.\u{201d}",
            &[
                "\u{201c}We are proceeding together,\u{201d} he said.",
                "\u{201c}It works.\u{201d}",
            ],
        ),
        (
            "\u{201c}Is it true?\u{201d} she asked. \u{201c}Yes.\u{201d}",
            &[
                "\u{201c}Is it true?\u{201d} she asked.",
                "\u{201c}Yes.\u{201d}",
            ],
        ),
        (
            "He said \u{201c}wait...\u{201d} and left.",
            &["He said \u{201c}wait...\u{201d} and left."],
        ),
        (
            "...\u{201d} he said. Then more.",
            &["...\u{201d} he said.", "Then more."],
        ),
        (
            "Mr. and Mrs. Jones left. They returned.",
            &["Mr. and Mrs. Jones left.", "They returned."],
        ),
        (
            "It cost $4.50 today. Prices rose.",
            &["It cost $4.50 today.", "Prices rose."],
        ),
        (
            "J. R. R. Tolkien wrote books. Many did.",
            &["J. R. R. Tolkien wrote books.", "Many did."],
        ),
        (
            "The meeting is at 3 p.m. tomorrow. Be there.",
            &["The meeting is at 3 p.m. tomorrow.", "Be there."],
        ),
        (
            "The time is 10:30 a.m. and it is raining.",
            &["The time is 10:30 a.m. and it is raining."],
        ),
        (
            "Email me at john.doe@example.com. Thanks.",
            &["Email me at john.doe@example.com.", "Thanks."],
        ),
        (
            "Visit www.example.com for more. Thanks.",
            &["Visit www.example.com for more.", "Thanks."],
        ),
        ("What? No! Yes.", &["What?", "No!", "Yes."]),
        (
            "Hello!! How are you?? Fine.",
            &["Hello!!", "How are you??", "Fine."],
        ),
        (
            "The U.N. Security Council met. It voted.",
            &["The U.N. Security Council met.", "It voted."],
        ),
        (
            "The U.S. Department of State said so. It confirmed.",
            &["The U.S. Department of State said so.", "It confirmed."],
        ),
        (
            "Sen. Warren spoke. Then Gov. Newsom replied.",
            &["Sen. Warren spoke.", "Then Gov. Newsom replied."],
        ),
        (
            "Prof. Jones, Ph.D., lectured. Students listened.",
            &["Prof. Jones, Ph.D., lectured.", "Students listened."],
        ),
        (
            "It happened on Jan. 5 in the morning. Nothing else.",
            &["It happened on Jan. 5 in the morning.", "Nothing else."],
        ),
        (
            "The company, Acme Inc., grew. It hired.",
            &["The company, Acme Inc., grew.", "It hired."],
        ),
        (
            "See Fig. 3 for details. It shows the trend.",
            &["See Fig. 3 for details.", "It shows the trend."],
        ),
        (
            "Smith et al. found nothing. Others did.",
            &["Smith et al. found nothing.", "Others did."],
        ),
        (
            "St. Louis is a city. It is in Missouri.",
            &["St. Louis is a city.", "It is in Missouri."],
        ),
        (
            "The score was 3.5 vs. 2.1 last night. Fans cheered.",
            &["The score was 3.5 vs. 2.1 last night.", "Fans cheered."],
        ),
        (
            "She said, 'Stop.' Then she left.",
            &["She said, 'Stop.'", "Then she left."],
        ),
        (
            "Ellipsis at end... Then a new sentence.",
            &["Ellipsis at end...", "Then a new sentence."],
        ),
        (
            "COVID-19 vaccines were donated. 500,000 doses arrived.",
            &["COVID-19 vaccines were donated.", "500,000 doses arrived."],
        ),
        (
            "Approx. 50 people came. They left.",
            &["Approx. 50 people came.", "They left."],
        ),
        (
            "He asked (why?) and left. Fine.",
            &["He asked (why?) and left.", "Fine."],
        ),
        (
            "\u{201c}Most of all,\u{201d} said Secretary Blinken, \u{201c}we are proceeding together.\u{201d} Then he left.",
            &[
                "\u{201c}Most of all,\u{201d} said Secretary Blinken, \u{201c}we are proceeding together.\u{201d}",
                "Then he left.",
            ],
        ),
        (
            "The fourth meeting took place in Washington D.C., and underscored U.S. support.",
            &["The fourth meeting took place in Washington D.C., and underscored U.S. support."],
        ),
        (
            "Version 2.0 shipped in 2021. It was fast.",
            &["Version 2.0 shipped in 2021.", "It was fast."],
        ),
        (
            "He donated 9.7 million dollars to the U.N. Mission. It helped.",
            &[
                "He donated 9.7 million dollars to the U.N. Mission.",
                "It helped.",
            ],
        ),
        (
            "Read ch. 4 first. Then ch. 5.",
            &["Read ch. 4 first.", "Then ch. 5."],
        ),
        (
            "A sentence without a final stop",
            &["A sentence without a final stop"],
        ),
        ("One. Two. Three.", &["One.", "Two.", "Three."]),
        (
            "Mt. Everest is high. K2 is too.",
            &["Mt. Everest is high.", "K2 is too."],
        ),
        (
            "The price fell 3.5% on Monday. Traders sold.",
            &["The price fell 3.5% on Monday.", "Traders sold."],
        ),
    ];

    #[test]
    fn tricky_sentences_are_split_right() {
        assert!(CASES.len() >= 40);
        let mut failures = Vec::new();
        for (text, expected) in CASES {
            let got: Vec<&str> = split(text).into_iter().map(str::trim).collect();
            if got != *expected {
                failures.push(format!("{text:?}\n   got {got:?}\n  want {expected:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases fail:\n{}",
            failures.len(),
            CASES.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn short_paragraphs_are_one_unit() {
        assert_eq!(pack("Short. Text.", 1000), ["Short. Text."]);
    }

    #[test]
    fn long_paragraphs_are_packed_at_sentence_boundaries() {
        let s = "This is sentence number one. ".repeat(10);
        let units = pack(s.trim(), 100);
        assert!(units.len() > 1);
        for u in &units {
            assert!(u.chars().count() <= 100, "{u}");
            assert!(u.ends_with('.'), "{u}");
        }
    }

    #[test]
    fn a_sentence_without_boundaries_is_cut_at_a_clause_or_word() {
        let long = "word ".repeat(60) + "and, after a comma, more words follow here";
        let units = pack(long.trim(), 100);
        for u in &units {
            assert!(u.chars().count() <= 100);
            assert!(!u.starts_with(' ') && !u.ends_with(' '));
        }
        assert_eq!(
            units.join(" ").split_whitespace().count(),
            long.split_whitespace().count()
        );
        let giant = "x".repeat(250);
        assert_eq!(pack(&giant, 100).concat(), giant);
    }

    proptest! {
        #[test]
        fn split_loses_nothing(text in "[A-Za-z .?!\u{201c}\u{201d},0-9]{0,200}") {
            prop_assert_eq!(split(&text).concat(), text);
        }

        #[test]
        fn pack_keeps_every_word_in_order_within_the_limit(text in "[a-z]{1,12}([ .,;]{1,2}[a-z]{1,12}){0,80}", max in 20usize..200) {
            let units = pack(&text, max);
            let words: Vec<&str> = text.split([' ', '.', ',', ';']).filter(|w| !w.is_empty()).collect();
            let joined = units.join(" ");
            let got: Vec<&str> = joined.split([' ', '.', ',', ';']).filter(|w| !w.is_empty()).collect();
            prop_assert_eq!(got, words);
            for u in &units {
                prop_assert!(!u.is_empty());
                prop_assert!(u.chars().count() <= max.max(20), "{:?}", u);
            }
        }
    }
}
