//! Article text → paragraphs, chapters and spoken units. Pure functions, no I/O.
//!
//! The model every reader produces is an [`Article`]: a title, its paragraphs as written
//! (whitespace normalised, typographic quotes kept) and its chapters, each covering a run of
//! paragraphs. [`units`] turns it into what the engines speak.

pub mod furniture;
pub mod plain;
pub mod title;

/// An article ready to be spoken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// The article's title.
    pub title: String,
    /// Its author(s), when the source says.
    pub author: Option<String>,
    /// Its publication date, when the source says (as written there, ideally `YYYY-MM-DD`).
    pub date: Option<String>,
    /// Paragraphs in reading order; never empty, none of them empty.
    pub paragraphs: Vec<Paragraph>,
    /// Chapters in order; the first starts at paragraph 0 and starts strictly increase.
    pub chapters: Vec<Chapter>,
    /// Content deliberately not spoken (code blocks), for the manifest.
    pub skipped: Vec<Skipped>,
}

/// One paragraph of the article: a block of text spoken as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph {
    /// The text as written (whitespace normalised): what the transcript shows.
    pub text: String,
    /// What kind of block it is.
    pub kind: BlockKind,
}

impl Paragraph {
    /// A plain paragraph of text.
    pub fn text(text: impl Into<String>) -> Paragraph {
        Paragraph {
            text: text.into(),
            kind: BlockKind::Text,
        }
    }
}

/// The kind of a paragraph, as the source marked it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Running text.
    Text,
    /// A heading of this level (1–6).
    Heading(u8),
    /// An item of a list.
    ListItem,
    /// A block quotation.
    Quote,
    /// Preformatted text that is spoken.
    Preformatted,
}

impl BlockKind {
    /// The name used in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            BlockKind::Text => "text",
            BlockKind::Heading(_) => "heading",
            BlockKind::ListItem => "list-item",
            BlockKind::Quote => "quote",
            BlockKind::Preformatted => "preformatted",
        }
    }
}

/// A chapter: from its first paragraph up to the next chapter's first paragraph (the flat
/// list the WAV and VTT carry); `level` gives the nesting for the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    /// Its title.
    pub title: String,
    /// Index of its first paragraph.
    pub first_paragraph: usize,
    /// Nesting level: 1 for top-level chapters, 2 for their sub-chapters, ...
    pub level: u8,
}

/// Content that was not spoken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// What it was, e.g. `code`.
    pub kind: String,
    /// The paragraph it stood before (the paragraph count when it was last).
    pub before_paragraph: usize,
    /// Its text.
    pub text: String,
}

/// One piece of text handed to an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The paragraph it belongs to.
    pub paragraph: usize,
    /// The text to speak.
    pub text: String,
}

/// Why a file's text cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextError {
    /// The bytes are not UTF-8.
    #[error(
        "the file is not valid UTF-8 (first bad byte at offset {offset}, line {line}); convert it to UTF-8, e.g. with iconv"
    )]
    InvalidUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
        /// 1-based line of that byte.
        line: usize,
    },
    /// Nothing is left to speak once furniture and whitespace are removed.
    #[error(
        "there is nothing to speak in it (it is empty, only whitespace, or only page furniture)"
    )]
    NothingSpeakable,
}

/// Decodes file bytes as UTF-8 (a leading byte-order mark is dropped). Never guesses.
pub fn decode(bytes: &[u8]) -> Result<&str, TextError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        TextError::InvalidUtf8 { offset, line }
    })
}

/// The units an engine speaks for `article`: one per paragraph.
pub fn units(article: &Article) -> Vec<Unit> {
    article
        .paragraphs
        .iter()
        .enumerate()
        .map(|(i, p)| Unit {
            paragraph: i,
            text: p.text.clone(),
        })
        .collect()
}

/// Collapses every run of whitespace (including no-break spaces) to one space and trims.
pub fn normalize_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_strips_a_bom_and_names_the_bad_byte() {
        assert_eq!(decode(b"\xEF\xBB\xBFhi").unwrap(), "hi");
        assert_eq!(
            decode(b"ok\nfine\nbad \xFF here").unwrap_err(),
            TextError::InvalidUtf8 {
                offset: 12,
                line: 3
            }
        );
    }

    #[test]
    fn whitespace_is_collapsed() {
        assert_eq!(normalize_whitespace(" a\u{a0}\tb \n c "), "a b c");
    }
}
