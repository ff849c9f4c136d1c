//! Article text → paragraphs, chapters and spoken units. Pure functions, no I/O.
//!
//! [`TextOptions::read`] is the whole path: bytes are decoded ([`decode`]), read by the
//! format's reader ([`plain`], [`markdown`], [`html`]) into blocks, outlined into an
//! [`Article`] ([`outline`]: title, paragraphs as written, chapters), and cut into the
//! [`Unit`]s an engine speaks ([`units`]: normalised for engines, the lexicon applied, long
//! paragraphs split at sentences). The transcript always keeps the text as written.

pub mod furniture;
pub mod html;
pub mod markdown;
pub mod outline;
pub mod plain;
pub mod sentences;
pub mod speech;
pub mod title;

use std::path::Path;

/// The article formats `aloud` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain text.
    Text,
    /// CommonMark Markdown.
    Markdown,
    /// An HTML page.
    Html,
}

impl Format {
    /// The format a file name's extension says, if it is one `aloud` reads.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" | "mdown" | "mkd" => Some(Format::Markdown),
            "html" | "htm" | "xhtml" => Some(Format::Html),
            _ => None,
        }
    }

    /// The format of a file: by extension, else HTML if it starts like a page or a piece of
    /// one (after any `<?xml ?>` prolog and comments), else text.
    pub fn detect(path: &Path, text: &str) -> Format {
        Format::from_extension(path).unwrap_or_else(|| {
            if starts_like_html(text) {
                Format::Html
            } else {
                Format::Text
            }
        })
    }
}

/// Whether text starts like an HTML page or fragment: a doctype, or one of the elements a page
/// or a piece of one starts with, after any XML prolog, comments and whitespace.
fn starts_like_html(text: &str) -> bool {
    const STARTS: &[&str] = &[
        "html",
        "head",
        "body",
        "meta",
        "title",
        "link",
        "style",
        "script",
        "div",
        "p",
        "main",
        "article",
        "section",
        "header",
        "nav",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "table",
        "blockquote",
    ];
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        let skipped = if rest.starts_with("<?") {
            rest.find("?>").map(|end| &rest[end + 2..])
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|end| &rest[end + 3..])
        } else {
            None
        };
        match skipped {
            Some(after) => rest = after.trim_start(),
            None => break,
        }
    }
    let head: String = rest
        .chars()
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with("<!doctype html") {
        return true;
    }
    let Some(tag) = head.strip_prefix('<') else {
        return false;
    };
    let name: String = tag
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let ends_name = tag[name.len()..].starts_with(['>', ' ', '/', '\t', '\n', '\r']);
    STARTS.contains(&name.as_str()) && ends_name
}

/// How an HTML page is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HtmlReader {
    /// The main article, found the way reader modes find it (Readability).
    #[default]
    Article,
    /// Every block of the page, once navigation, headers, footers, asides, forms and the
    /// like are removed: for simple pages whose sections Readability drops.
    Page,
}

/// How text is read and cut into units.
#[derive(Debug, Clone)]
pub struct TextOptions {
    /// Force a format instead of detecting it.
    pub format: Option<Format>,
    /// Longest unit handed to an engine, in characters.
    pub max_chars: usize,
    /// Speak images' alt text (Markdown).
    pub image_alt: bool,
    /// How HTML pages are read.
    pub html_reader: HtmlReader,
    /// Pronunciations, applied to spoken text only.
    pub lexicon: speech::Lexicon,
    /// Lines that are never article text.
    pub furniture: furniture::FurnitureFilter,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            format: None,
            max_chars: DEFAULT_MAX_CHARS,
            image_alt: false,
            html_reader: HtmlReader::Article,
            lexicon: speech::Lexicon::default(),
            furniture: furniture::FurnitureFilter::builtin().clone(),
        }
    }
}

/// The default longest unit, in characters.
pub const DEFAULT_MAX_CHARS: usize = 1000;

impl TextOptions {
    /// Every option as text, for the fingerprint that decides whether outputs are up to date.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "format={:?}\nmax_chars={}\nimage_alt={}\nhtml_reader={:?}\n",
            self.format, self.max_chars, self.image_alt, self.html_reader
        );
        for (word, say, case_sensitive) in self.lexicon.entries() {
            out += &format!("lexicon={word:?}={say:?}/{case_sensitive}\n");
        }
        for p in self.furniture.patterns() {
            out += &format!("furniture={p:?}\n");
        }
        out
    }

    /// Reads a file's bytes into an article and its units. `path` chooses the format and, by
    /// its stem, names an article that has no title of its own.
    pub fn read(&self, bytes: &[u8], path: &Path) -> Result<(Article, Vec<Unit>), TextError> {
        let text = without_controls(decode(bytes)?);
        let format = self.format.unwrap_or_else(|| Format::detect(path, &text));
        let parsed = match format {
            Format::Text => plain::parse(&text, &self.furniture),
            Format::Markdown => markdown::parse(&text, self.image_alt),
            Format::Html => html::parse(&text, self.html_reader),
        };
        let fallback = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "article".into());
        let mut article = outline::outline(parsed, &fallback, &self.furniture)?;
        let mut units = units(&article, self);
        if units.is_empty() {
            return Err(TextError::NothingSpeakable);
        }
        // A paragraph with no words to speak (a scene break `* * *`, a lone `—` or emoji)
        // gets no unit; it is recorded as skipped rather than spoken as nothing.
        let spoken = units_by_paragraph(article.paragraphs.len(), &units);
        if spoken.iter().any(|r| r.is_empty()) {
            let keep: Vec<bool> = spoken.iter().map(|r| !r.is_empty()).collect();
            let new_index = article.retain_paragraphs(&keep, "no-words");
            for u in &mut units {
                u.paragraph = new_index[u.paragraph];
            }
        }
        Ok((article, units))
    }
}

/// An article ready to be spoken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// The article's title.
    pub title: String,
    /// Its author(s), when the source says.
    pub author: Option<String>,
    /// Its publication date, when the source says (as written there, ideally `YYYY-MM-DD`).
    pub date: Option<String>,
    /// Its language, when the source declares one: a BCP 47 tag (`fr`, `en-GB`).
    pub language: Option<String>,
    /// Paragraphs in reading order; never empty, none of them empty.
    pub paragraphs: Vec<Paragraph>,
    /// Chapters in order; the first starts at paragraph 0 and starts strictly increase.
    pub chapters: Vec<Chapter>,
    /// Content deliberately not spoken, for the manifest: code blocks, and paragraphs with no
    /// words (a scene break `* * *`).
    pub skipped: Vec<Skipped>,
}

impl Article {
    /// For each paragraph, the index of the (innermost) chapter it belongs to.
    pub fn chapter_of_paragraphs(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.paragraphs.len());
        let mut chapter = 0;
        for p in 0..self.paragraphs.len() {
            while self
                .chapters
                .get(chapter + 1)
                .is_some_and(|c| c.first_paragraph <= p)
            {
                chapter += 1;
            }
            out.push(chapter);
        }
        out
    }

    /// For each paragraph, whether a chapter starts there.
    pub fn chapter_starts(&self) -> Vec<bool> {
        let mut out = vec![false; self.paragraphs.len()];
        for c in &self.chapters {
            if let Some(s) = out.get_mut(c.first_paragraph) {
                *s = true;
            }
        }
        out
    }

    /// Keeps the paragraphs whose `keep` is true; the others are recorded as skipped content
    /// of `kind`. Chapters keep their place (one left with no paragraph is dropped), and the
    /// first starts at paragraph 0 again. Returns each old paragraph's new index (for a
    /// dropped one, that of the paragraph after it). `keep` must hold at least one `true`.
    pub fn retain_paragraphs(&mut self, keep: &[bool], kind: &str) -> Vec<usize> {
        debug_assert!(keep.len() == self.paragraphs.len() && keep.contains(&true));
        let mut new_index = Vec::with_capacity(keep.len() + 1);
        let mut kept = 0;
        for &k in keep {
            new_index.push(kept);
            kept += usize::from(k);
        }
        new_index.push(kept);
        let old = std::mem::take(&mut self.paragraphs);
        let mut dropped = Vec::new();
        for (i, (p, &k)) in old.into_iter().zip(keep).enumerate() {
            if k {
                self.paragraphs.push(p);
            } else {
                dropped.push(Skipped {
                    kind: kind.to_string(),
                    before_paragraph: new_index[i],
                    text: p.text,
                });
            }
        }
        for s in &mut self.skipped {
            s.before_paragraph = new_index[s.before_paragraph.min(keep.len())];
        }
        // In order of position; at one position, what the reader skipped comes first.
        self.skipped.extend(dropped);
        self.skipped.sort_by_key(|s| s.before_paragraph);
        for c in &mut self.chapters {
            c.first_paragraph = new_index[c.first_paragraph];
        }
        // A chapter that now starts where the next one does, or past the end, has nothing.
        let starts: Vec<usize> = self.chapters.iter().map(|c| c.first_paragraph).collect();
        let mut i = 0;
        self.chapters.retain(|c| {
            i += 1;
            c.first_paragraph < kept && starts.get(i).is_none_or(|&next| next > c.first_paragraph)
        });
        if let Some(first) = self.chapters.first_mut() {
            first.first_paragraph = 0;
        }
        new_index
    }

    /// For each chapter, the chapter it is nested in (the nearest earlier one of a lower
    /// level).
    pub fn chapter_parents(&self) -> Vec<Option<usize>> {
        parents_by_level(self.chapters.iter().map(|c| c.level))
    }
}

/// For each item of a list of nesting levels, the index of the item it is nested in: the
/// nearest earlier one of a lower level. One pass, with a stack of the open ancestors.
pub fn parents_by_level(levels: impl IntoIterator<Item = u8>) -> Vec<Option<usize>> {
    let mut stack: Vec<(usize, u8)> = Vec::new();
    levels
        .into_iter()
        .enumerate()
        .map(|(i, level)| {
            while stack.last().is_some_and(|&(_, l)| l >= level) {
                stack.pop();
            }
            let parent = stack.last().map(|&(j, _)| j);
            stack.push((i, level));
            parent
        })
        .collect()
}

/// For each paragraph, the range of its units in `units` (units come in paragraph order).
pub fn units_by_paragraph(paragraphs: usize, units: &[Unit]) -> Vec<std::ops::Range<usize>> {
    let mut out = vec![0..0; paragraphs];
    let mut i = 0;
    while i < units.len() {
        let p = units[i].paragraph;
        let start = i;
        while i < units.len() && units[i].paragraph == p {
            i += 1;
        }
        if let Some(r) = out.get_mut(p) {
            *r = start..i;
        }
    }
    out
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
    /// What it was, `code`, or `no-words` for a paragraph with nothing to speak (`* * *`).
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
    /// The bytes decode as UTF-8 but are not text: UTF-32 (by its byte-order mark), or many NUL
    /// bytes (UTF-16 or UTF-32 without a byte-order mark, or a binary file).
    #[error(
        "{0}; convert it to UTF-8, e.g. with iconv -f UTF-16LE -t UTF-8 (or the encoding it is in)"
    )]
    NotText(String),
    /// A UTF-16 file (it has a UTF-16 byte-order mark) holds an invalid sequence.
    #[error(
        "the file is not valid UTF-16 (it starts with a UTF-16 byte-order mark; first bad byte at offset {offset})"
    )]
    InvalidUtf16 {
        /// Byte offset of the first invalid code unit.
        offset: usize,
    },
    /// Nothing is left to speak once furniture and whitespace are removed.
    #[error(
        "there is nothing to speak in it (it is empty, only whitespace, or only page furniture)"
    )]
    NothingSpeakable,
}

/// Decodes file bytes: UTF-8 (a byte-order mark is dropped), or UTF-16 when a byte-order
/// mark says so. Never guesses: UTF-32, and UTF-8 that is more than an eighth NUL bytes (UTF-16
/// without a byte-order mark), are refused.
pub fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, TextError> {
    if bytes.starts_with(b"\xFF\xFE\0\0") || bytes.starts_with(b"\0\0\xFE\xFF") {
        return Err(TextError::NotText(
            "the file is UTF-32 (it starts with a UTF-32 byte-order mark), which aloud does not read"
                .into(),
        ));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return decode_utf16(rest, u16::from_le_bytes).map(Into::into);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return decode_utf16(rest, u16::from_be_bytes).map(Into::into);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        TextError::InvalidUtf8 { offset, line }
    })?;
    // A stray NUL is junk (it becomes a space); more than one byte in eight is not text: UTF-16
    // without a byte-order mark is half NULs for Latin text, and valid UTF-8 all the same.
    let nuls = bytes.iter().filter(|&&b| b == 0).count();
    if nuls * 8 > bytes.len() {
        return Err(TextError::NotText(format!(
            "the file is not text: {nuls} of its {} bytes are NUL, as in UTF-16 or UTF-32 without a byte-order mark, or a binary file",
            bytes.len()
        )));
    }
    Ok(text.into())
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, TextError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(TextError::InvalidUtf16 {
            offset: bytes.len() + 1,
        });
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
    let mut out = String::with_capacity(units.len());
    for (i, r) in char::decode_utf16(units.iter().copied()).enumerate() {
        match r {
            Ok(c) => out.push(c),
            // +2 for the byte-order mark.
            Err(_) => return Err(TextError::InvalidUtf16 { offset: 2 + 2 * i }),
        }
    }
    Ok(out)
}

/// Control characters other than line ends and tabs (NUL, escape sequences, ...) carry no text:
/// they become spaces, in the transcript as in the spoken text.
fn without_controls(text: std::borrow::Cow<'_, str>) -> std::borrow::Cow<'_, str> {
    let is_junk = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t');
    if text.contains(is_junk) {
        text.replace(is_junk, " ").into()
    } else {
        text
    }
}

/// The units an engine speaks for `article`: each paragraph normalised for engines, the
/// lexicon applied, and split at sentences into units of at most `max_chars` characters.
pub fn units(article: &Article, options: &TextOptions) -> Vec<Unit> {
    let mut out = Vec::with_capacity(article.paragraphs.len());
    for (i, p) in article.paragraphs.iter().enumerate() {
        let spoken = options.lexicon.apply(&speech::normalize(&p.text));
        for text in sentences::pack(&spoken, options.max_chars) {
            if text.chars().any(char::is_alphanumeric) {
                out.push(Unit { paragraph: i, text });
            }
        }
    }
    out
}

/// `tag` as a BCP 47 language tag (`fr`, `en-GB`, `zh-Hant-TW`) when it has that shape: a
/// primary language of 2 or 3 letters, then subtags of 1 to 8 letters or digits, joined by
/// `-` (or `_`, as in `en_US`). Case is normalised the usual way: language lower case, a
/// 4-letter script title case, a 2-letter region upper case. Anything else gives `None`.
pub fn language_tag(tag: &str) -> Option<String> {
    let mut parts = tag.trim().split(['-', '_']);
    let primary = parts.next()?;
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = primary.to_ascii_lowercase();
    for part in parts {
        if part.is_empty() || part.len() > 8 || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        out.push('-');
        match part.len() {
            2 if part.chars().all(|c| c.is_ascii_alphabetic()) => {
                out.push_str(&part.to_ascii_uppercase())
            }
            4 if part.chars().all(|c| c.is_ascii_alphabetic()) => {
                out.push_str(&part[..1].to_ascii_uppercase());
                out.push_str(&part[1..].to_ascii_lowercase());
            }
            _ => out.push_str(&part.to_ascii_lowercase()),
        }
    }
    Some(out)
}

/// The day (`YYYY-MM-DD`) of an ISO date or date-time (`2026-10-14`,
/// `2026-10-14T09:30:00-05:00`); `None` for anything else ("May 1, 2024").
pub fn iso_day(date: &str) -> Option<&str> {
    let day = date.get(..10)?;
    let is_day = day.bytes().enumerate().all(|(i, c)| match i {
        4 | 7 => c == b'-',
        _ => c.is_ascii_digit(),
    });
    (is_day && (date.len() == 10 || date[10..].starts_with('T'))).then_some(day)
}

/// Collapses every run of whitespace (including no-break spaces) to one space and trims.
pub fn normalize_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_without_an_extension_is_known_by_its_start() {
        let detect = |text: &str| Format::detect(Path::new("stdin"), text);
        for page in [
            "<!DOCTYPE html><html><body><p>x</p></body></html>",
            "  <html lang=\"en\"><p>x</p></html>",
            "<!-- saved page --><html><p>x</p></html>",
            "<?xml version=\"1.0\"?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\"></html>",
            "\u{feff}<head><title>T</title></head><p>x</p>",
            "<div class=\"post\"><p>A fragment.</p></div>",
            "<p>A fragment.</p>",
        ] {
            assert_eq!(detect(page), Format::Html, "{page}");
        }
        for text in [
            "Plain text.",
            "<3 is a heart, not a tag.",
            "<pre-order> now",
            "<!-- a comment that never ends",
            "<paragraph>?",
        ] {
            assert_eq!(detect(text), Format::Text, "{text}");
        }
        // An extension wins over the content.
        assert_eq!(Format::detect(Path::new("a.txt"), "<p>x</p>"), Format::Text);
    }

    #[test]
    fn decode_strips_a_bom_and_names_the_bad_byte() {
        assert_eq!(decode(b"\xEF\xBB\xBFhi").unwrap(), "hi");
        assert_eq!(decode(b"\xFF\xFEh\0i\0").unwrap(), "hi");
        assert_eq!(decode(b"\xFE\xFF\0h\0i").unwrap(), "hi");
        assert_eq!(
            decode(b"\xFF\xFE\x00\xD8a\0").unwrap_err(),
            TextError::InvalidUtf16 { offset: 2 }
        );
        assert_eq!(
            decode(b"ok\nfine\nbad \xFF here").unwrap_err(),
            TextError::InvalidUtf8 {
                offset: 12,
                line: 3
            }
        );
    }

    #[test]
    fn paragraphs_with_no_words_are_skipped_not_spoken() {
        let read =
            |text: &str, name: &str| TextOptions::default().read(text.as_bytes(), Path::new(name));
        // Plain text: every paragraph is a chapter; the scene breaks go, with their chapters.
        let (article, units) = read(
            "* * *\n\nFirst one.\n\n* * *\n\n⁂\n\nLast one.\n\n—\n",
            "a.txt",
        )
        .unwrap();
        let texts: Vec<&str> = article.paragraphs.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["First one.", "Last one."]);
        let chapters = |a: &Article| -> Vec<(String, usize)> {
            a.chapters
                .iter()
                .map(|c| (c.title.clone(), c.first_paragraph))
                .collect()
        };
        assert_eq!(
            chapters(&article),
            [("First one.".into(), 0), ("Last one.".into(), 1)]
        );
        let skipped: Vec<(&str, usize)> = article
            .skipped
            .iter()
            .map(|s| (s.text.as_str(), s.before_paragraph))
            .collect();
        assert_eq!(skipped, [("* * *", 0), ("* * *", 1), ("⁂", 1), ("—", 2)]);
        assert!(article.skipped.iter().all(|s| s.kind == "no-words"));
        let unit_paragraphs: Vec<usize> = units.iter().map(|u| u.paragraph).collect();
        assert_eq!(unit_paragraphs, [0, 1]);
        // Markdown: a scene break inside a chapter leaves the chapter where it is.
        let (article, units) = read(
            "# T\n\n## One\n\nAlpha.\n\n⁂\n\n§\n\nBeta.\n\n## Two\n\nGamma.\n",
            "b.md",
        )
        .unwrap();
        assert_eq!(chapters(&article), [("One".into(), 0), ("Two".into(), 3)]);
        assert_eq!(
            units.last().unwrap().paragraph,
            article.paragraphs.len() - 1
        );
        assert_eq!(
            read("* * *\n\n—\n", "c.txt").unwrap_err(),
            TextError::NothingSpeakable
        );
    }

    #[test]
    fn utf16_without_a_bom_utf32_and_binary_are_refused_not_spelled_out() {
        let utf16le: Vec<u8> = "Hello world.\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let utf32: Vec<u8> = [0xFEFFu32, 'H' as u32, 'i' as u32]
            .iter()
            .flat_map(|c| c.to_le_bytes())
            .collect();
        for bytes in [
            &utf16le[..],
            &utf32[..],
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
        ] {
            let err = decode(bytes).unwrap_err();
            assert!(matches!(err, TextError::NotText(_)), "{err}");
            assert!(err.to_string().contains("iconv"), "{err}");
        }
        // One stray NUL in real text is junk, not a different encoding.
        assert!(decode(b"A line of text with one\0 NUL in it.").is_ok());
    }

    #[test]
    fn the_day_of_an_iso_date_or_date_time() {
        assert_eq!(iso_day("2026-10-14"), Some("2026-10-14"));
        assert_eq!(iso_day("2026-10-14T09:30:00-05:00"), Some("2026-10-14"));
        for other in [
            "May 1, 2024",
            "2026-10-14 or so",
            "2026/10/14",
            "2026-1-14",
            "",
        ] {
            assert_eq!(iso_day(other), None, "{other}");
        }
    }

    #[test]
    fn language_tags_are_checked_and_normalised() {
        let tag = |t: &str| language_tag(t);
        assert_eq!(tag("fr").as_deref(), Some("fr"));
        assert_eq!(tag(" EN-us ").as_deref(), Some("en-US"));
        assert_eq!(tag("en_GB").as_deref(), Some("en-GB"));
        assert_eq!(tag("zh-hant-tw").as_deref(), Some("zh-Hant-TW"));
        assert_eq!(tag("es-419").as_deref(), Some("es-419"));
        for bad in [
            "",
            "english",
            "e",
            "en--us",
            "en-<script>",
            "fr-toolongsubtag",
        ] {
            assert_eq!(tag(bad), None, "{bad}");
        }
    }

    #[test]
    fn control_characters_become_spaces() {
        let (article, units) = TextOptions::default()
            .read(b"a\0b\x1b[31mred\x7f.\r\nnext", Path::new("x.txt"))
            .unwrap();
        assert_eq!(article.paragraphs[0].text, "a b [31mred .");
        assert_eq!(units[1].text, "next");
    }

    #[test]
    fn whitespace_is_collapsed() {
        assert_eq!(normalize_whitespace(" a\u{a0}\tb \n c "), "a b c");
    }
}
