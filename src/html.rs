//! The player page (`NAME.html`) and the output folder's index (`index.html`). Pure: data in,
//! `String` out.
//!
//! The article page is one self-contained file (inline CSS and JS, no external asset, no
//! network) that works opened from disk and served over HTTP:
//! - `<audio controls preload="metadata">` with one `<source>` per audio file, smallest first,
//!   each with its exact `type`, and a `<track kind="chapters">` for the WebVTT file;
//! - fallback twice: inside `<audio>` (shown only by browsers without `<audio>`) and a download
//!   list outside it that everyone sees;
//! - the chapter list and the transcript as plain links to media fragments (`NAME.wav#t=12.345`),
//!   so they work with JavaScript off; the script turns those clicks into seeks and highlights
//!   the current chapter and paragraph from chapter and paragraph times embedded in the page
//!   (Chromium will not fetch a `.vtt` from `file://`).
//!
//! Every piece of article text is escaped for where it lands: HTML text and attributes
//! ([`escape`]), URLs ([`url_path`]), and the JSON inside `<script>` ([`script_json`], where `<`
//! becomes `\u003c` so nothing can close the script). Times come from the manifest's frames and
//! become seconds only here, rounded to the millisecond like every other text format.

use crate::audio::frames_to_ms;
use crate::config::ChapterFormat;
use crate::manifest::{ChapterRecord, Manifest, ParagraphRecord};
use crate::report::clock;
use crate::timing::Precision;
use serde::Serialize;
use std::fmt::Write as _;

/// One audio file of an article, as a page offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFile {
    /// Its path relative to the page, `/`-separated (a bare file name for an article page).
    pub name: String,
    /// Its exact MIME type, with `codecs=` where the container allows several
    /// (`audio/ogg; codecs=opus`); `audio/wav` for our PCM WAV.
    pub mime: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Duration in milliseconds.
    pub duration_ms: u64,
}

/// The MIME type of the WAV files `aloud` writes.
pub const WAV_MIME: &str = "audio/wav";

impl AudioFile {
    /// A short name for the format, for link text: `WAV`, `MP3`, `Opus`, ...
    pub fn label(&self) -> &str {
        let base = self.mime.split(';').next().unwrap_or("").trim();
        match base {
            "audio/wav" | "audio/wave" | "audio/x-wav" => "WAV",
            "audio/mpeg" => "MP3",
            "audio/ogg" | "audio/webm" if self.mime.contains("opus") => "Opus",
            "audio/ogg" => "Ogg",
            "audio/mp4" if self.name.to_ascii_lowercase().ends_with(".m4b") => "M4B",
            "audio/mp4" | "audio/aac" => "AAC",
            "audio/flac" => "FLAC",
            _ => base,
        }
    }
}

/// One article on the index page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The manifest's path relative to the index, `/`-separated: the sort key, and shown.
    pub path: String,
    /// The article's title.
    pub title: String,
    /// Its author(s), when known.
    pub author: Option<String>,
    /// Its date, when known.
    pub date: Option<String>,
    /// Total duration in milliseconds.
    pub duration_ms: u64,
    /// Number of chapters.
    pub chapters: usize,
    /// Its player page relative to the index, when there is one.
    pub page: Option<String>,
    /// Its audio files, names relative to the index.
    pub audio: Vec<AudioFile>,
}

/// The player page for one article. `audio` lists the article's audio files (names relative to
/// the page); they are offered smallest first. The page's links to media fragments use the WAV
/// when there is one (every browser plays it), else the largest file.
pub fn article_page(m: &Manifest, audio: &[AudioFile]) -> String {
    let mut audio: Vec<&AudioFile> = audio.iter().collect();
    audio.sort_by_key(|a| a.bytes);
    let fragment_target = audio
        .iter()
        .find(|a| a.label() == "WAV")
        .or(audio.last())
        .map(|a| url_path(&a.name))
        .unwrap_or_default();
    let rate = m.sample_rate;
    let secs = |frames: u64| crate::manifest::seconds(frames, rate);
    let total_ms = frames_to_ms(m.total_frames, rate);
    let title = escape(&m.title);

    let mut h = String::with_capacity(32 * 1024 + m.paragraphs.len() * 600);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"generator\" content=\"{generator}\">\n\
         <title>{title} · audio</title>\n<style>\n{PAGE_CSS}</style>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#transcript\">Skip to the transcript</a>\n\
         <header class=\"top\">\n<h1{lang}>{title}</h1>\n",
        lang = lang_attr(m),
        generator = escape(&m.generator),
    );
    let byline = byline(m.author.as_deref(), m.date.as_deref());
    if !byline.is_empty() {
        let _ = writeln!(h, "<p class=\"byline\">{byline}</p>");
    }
    let _ = writeln!(
        h,
        "<p class=\"meta\">{duration} · {chapters} · {engine}</p>\n</header>",
        duration = duration_html(total_ms),
        chapters = plural(m.chapters.len(), "chapter", "chapters"),
        engine = engine_note(m),
    );

    // The player, with the fallback for browsers that have no <audio> at all inside it.
    h.push_str("<main>\n<div class=\"side\">\n<section class=\"player\" aria-label=\"Player\">\n");
    h.push_str("<audio id=\"player\" controls preload=\"metadata\">\n");
    for a in &audio {
        let _ = writeln!(
            h,
            "<source src=\"{}\" type=\"{}\">",
            url_path(&a.name),
            escape(&a.mime)
        );
    }
    let srclang = escape(m.language.as_deref().unwrap_or("en"));
    if let Some(vtt) = &m.files.chapters_vtt {
        let _ = writeln!(
            h,
            "<track id=\"chapters-track\" kind=\"chapters\" src=\"{}\" srclang=\"{srclang}\" label=\"Chapters\" default>",
            url_path(vtt)
        );
    }
    if let Some(vtt) = &m.files.captions_vtt {
        let _ = writeln!(
            h,
            "<track kind=\"captions\" src=\"{}\" srclang=\"{srclang}\" label=\"Captions\">",
            url_path(vtt)
        );
    }
    h.push_str("<p>Your browser cannot play audio in the page. Download it instead:");
    for (i, a) in audio.iter().enumerate() {
        let _ = write!(
            h,
            "{} <a href=\"{}\" download>{}</a>",
            if i == 0 { "" } else { "," },
            url_path(&a.name),
            escape(a.label())
        );
    }
    h.push_str(".</p>\n</audio>\n");
    h.push_str(
        "<p class=\"now\" id=\"now\" hidden>Now: <span id=\"now-title\"></span></p>\n\
         <p class=\"note\" id=\"no-seek\" role=\"status\" hidden>This server does not let the browser \
         jump around in the audio (it ignores HTTP Range requests), so chapters and paragraphs \
         cannot start playback where they are. Open the page from disk, or serve the folder with \
         a server that supports ranges.</p>\n</section>\n",
    );

    // The same links outside <audio>, which everyone sees.
    h.push_str("<section class=\"downloads\" aria-labelledby=\"downloads-h\">\n<h2 id=\"downloads-h\">Download</h2>\n<ul>\n");
    for a in &audio {
        let _ = writeln!(
            h,
            "<li><a href=\"{href}\" download type=\"{mime}\">{label} audio</a> <span class=\"muted\">{size} · {duration}</span></li>",
            href = url_path(&a.name),
            mime = escape(&a.mime),
            label = escape(a.label()),
            size = human_size(a.bytes),
            duration = clock(a.duration_ms),
        );
    }
    for format in ChapterFormat::ALL {
        if let Some(name) = m.files.chapter_file(format) {
            let _ = writeln!(
                h,
                "<li><a href=\"{}\" download>Chapters</a> <span class=\"muted\">{}</span></li>",
                url_path(name),
                chapter_format_label(format)
            );
        }
    }
    if let Some(vtt) = &m.files.captions_vtt {
        let _ = writeln!(
            h,
            "<li><a href=\"{}\" download>Captions</a> <span class=\"muted\">WebVTT, {}</span></li>",
            url_path(vtt),
            match m.timing {
                Precision::Word => "one cue per sentence, with word times",
                Precision::Sentence => "one cue per sentence",
                Precision::Paragraph => "sentences timed within their paragraph",
            }
        );
    }
    h.push_str("</ul>\n</section>\n");

    // The chapter list: nested by level, plain links to media fragments.
    h.push_str("<nav class=\"chapters\" aria-labelledby=\"chapters-h\">\n<h2 id=\"chapters-h\">Chapters</h2>\n");
    chapter_list(&mut h, &m.chapters, &fragment_target, rate, &lang_attr(m));
    h.push_str("</nav>\n</div>\n");

    // The transcript: the article as written, one anchor per paragraph.
    h.push_str("<section class=\"transcript\" id=\"transcript\" aria-labelledby=\"transcript-h\" tabindex=\"-1\">\n<h2 id=\"transcript-h\">Transcript</h2>\n");
    // Each paragraph's words as written, for the transcript's spans and the page's data.
    let words: Vec<Vec<PageWord>> = m.paragraphs.iter().map(page_words).collect();
    transcript(&mut h, m, &words, &fragment_target);
    h.push_str("</section>\n</main>\n");
    let _ = writeln!(
        h,
        "<footer>Made by {} from <code>{}</code>. The voice is synthetic.</footer>",
        escape(&m.generator),
        escape(&m.source)
    );

    let data = PageData {
        duration: secs(m.total_frames),
        chapters: m
            .chapters
            .iter()
            .map(|c| ChapterData {
                title: &c.title,
                level: c.level,
                start: secs(c.start_frame),
                end: secs(c.end_frame),
            })
            .collect(),
        paragraphs: m
            .paragraphs
            .iter()
            .map(|p| Span {
                start: secs(p.start_frame),
                end: secs(p.end_frame),
            })
            .collect(),
        words: words
            .iter()
            .flatten()
            .map(|w| [secs(w.start), secs(w.end)])
            .collect(),
    };
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"aloud-data\">{}</script>\n<script>\n{PAGE_JS}</script>\n</body>\n</html>\n",
        script_json(&data)
    );
    h
}

/// The index of an output folder: every article, sorted by manifest path.
pub fn index_page(entries: &[IndexEntry]) -> String {
    let mut entries: Vec<&IndexEntry> = entries.iter().collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let total_ms: u64 = entries.iter().map(|e| e.duration_ms).sum();
    let mut h = String::with_capacity(8 * 1024 + entries.len() * 500);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"generator\" content=\"aloud {version}\">\n\
         <title>Audio articles</title>\n<style>\n{INDEX_CSS}</style>\n</head>\n<body>\n\
         <header class=\"top\">\n<h1>Audio articles</h1>\n<p class=\"meta\">{count} · {duration} in all</p>\n</header>\n\
         <main>\n<ol class=\"articles\">\n",
        version = env!("CARGO_PKG_VERSION"),
        count = plural(entries.len(), "article", "articles"),
        duration = duration_html(total_ms),
    );
    for e in entries {
        let title = escape(&e.title);
        let heading = match &e.page {
            Some(page) => format!("<a href=\"{}\">{title}</a>", url_path(page)),
            None => title,
        };
        let _ = writeln!(h, "<li>\n<h2>{heading}</h2>");
        let byline = byline(e.author.as_deref(), e.date.as_deref());
        if !byline.is_empty() {
            let _ = writeln!(h, "<p class=\"byline\">{byline}</p>");
        }
        let _ = write!(
            h,
            "<p class=\"meta\">{} · {}",
            duration_html(e.duration_ms),
            plural(e.chapters, "chapter", "chapters")
        );
        for a in &e.audio {
            let _ = write!(
                h,
                " · <a href=\"{}\" type=\"{}\">{}</a> <span class=\"muted\">{}</span>",
                url_path(&a.name),
                escape(&a.mime),
                escape(a.label()),
                human_size(a.bytes)
            );
        }
        let _ = writeln!(
            h,
            "</p>\n<p class=\"path muted\"><code>{}</code></p>\n</li>",
            escape(e.path.strip_suffix(".json").unwrap_or(&e.path))
        );
    }
    h.push_str("</ol>\n</main>\n</body>\n</html>\n");
    h
}

/// Nested `<ol>`s of chapter links. A deeper level opens a list inside the chapter before it;
/// a level that jumps back to one in between stays a sibling there.
/// `lang` is the article's ` lang="..."` attribute for the titles (or empty).
fn chapter_list(h: &mut String, chapters: &[ChapterRecord], target: &str, rate: u32, lang: &str) {
    h.push_str("<ol id=\"chapter-list\">\n");
    let mut open: Vec<u8> = vec![chapters.first().map_or(1, |c| c.level)];
    for (i, c) in chapters.iter().enumerate() {
        if i > 0 {
            if c.level > *open.last().expect("never empty") {
                h.push_str("\n<ol>\n");
                open.push(c.level);
            } else {
                h.push_str("</li>\n");
                while open.len() > 1 && c.level <= open[open.len() - 2] {
                    open.pop();
                    h.push_str("</ol>\n</li>\n");
                }
                *open.last_mut().expect("never empty") = c.level;
            }
        }
        let ms = frames_to_ms(c.start_frame, rate);
        let _ = write!(
            h,
            "<li><a href=\"{target}#t={s}\" data-start=\"{s}\" data-chapter=\"{i}\">\
             <span class=\"time\">{clock}</span> <span class=\"title\"{lang}>{title}</span></a>",
            s = seconds(ms),
            clock = clock(ms),
            title = escape(&c.title)
        );
    }
    if !chapters.is_empty() {
        h.push_str("</li>\n");
    }
    while open.len() > 1 {
        open.pop();
        h.push_str("</ol>\n</li>\n");
    }
    h.push_str("</ol>\n");
}

/// The paragraphs as written: headings as headings, quotes as blockquotes, runs of list items
/// as a list, preformatted text as `<pre>`; each with its anchor and a play control.
fn transcript(h: &mut String, m: &Manifest, words: &[Vec<PageWord>], target: &str) {
    let lang = lang_attr(m);
    let mut in_list = false;
    let mut next_word = 0;
    for (p, words) in m.paragraphs.iter().zip(words) {
        let is_item = p.kind == "list-item";
        if is_item && !in_list {
            h.push_str("<ul class=\"items\">\n");
        } else if !is_item && in_list {
            h.push_str("</ul>\n");
        }
        in_list = is_item;
        let n = p.index + 1;
        let ms = frames_to_ms(p.start_frame, m.sample_rate);
        let wrapper = if is_item { "li" } else { "div" };
        let _ = write!(
            h,
            "<{wrapper} class=\"para\" id=\"p{n}\"><a class=\"play\" href=\"{target}#t={s}\" data-start=\"{s}\" \
             aria-label=\"Play from paragraph {n}, at {clock}\">{clock}</a>",
            s = seconds(ms),
            clock = clock(ms),
        );
        let text = words_html(&p.text, words, &mut next_word);
        match p.kind.as_str() {
            "heading" => {
                let level = heading_level(m, p);
                let _ = write!(h, "<h{level}{lang}>{text}</h{level}>");
            }
            "quote" => {
                let _ = write!(h, "<blockquote{lang}><p>{text}</p></blockquote>");
            }
            "preformatted" => {
                let _ = write!(h, "<pre{lang}>{text}</pre>");
            }
            _ => {
                let _ = write!(h, "<p{lang}>{text}</p>");
            }
        }
        let _ = writeln!(h, "</{wrapper}>");
    }
    if in_list {
        h.push_str("</ul>\n");
    }
}

/// A written word of a paragraph with its time: where the transcript marks it.
struct PageWord {
    text: std::ops::Range<usize>,
    start: u64,
    end: u64,
}

/// The paragraph's words as written, in order and without overlaps; a written word said as
/// several spoken words (a lexicon entry) runs from the first one's start to the last's end.
fn page_words(p: &ParagraphRecord) -> Vec<PageWord> {
    let mut out: Vec<PageWord> = Vec::new();
    for w in &p.words {
        let Some([a, b]) = w.text else { continue };
        if b > p.text.len() || !p.text.is_char_boundary(a) || !p.text.is_char_boundary(b) {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.text == (a..b) => last.end = w.end_frame,
            Some(last) if a < last.text.end => {}
            _ => out.push(PageWord {
                text: a..b,
                start: w.start_frame,
                end: w.end_frame,
            }),
        }
    }
    out
}

/// The paragraph's text, escaped, each timed word in a `<span class="w" data-w="K">`
/// numbered from `next` on.
fn words_html(text: &str, words: &[PageWord], next: &mut usize) -> String {
    let mut out = String::with_capacity(text.len() + words.len() * 32);
    let mut at = 0;
    for w in words {
        out.push_str(&escape(&text[at..w.text.start]));
        let _ = write!(
            out,
            "<span class=\"w\" data-w=\"{}\">{}</span>",
            *next,
            escape(&text[w.text.clone()])
        );
        *next += 1;
        at = w.text.end;
    }
    out.push_str(&escape(&text[at..]));
    out
}

/// A heading that opens a chapter of level L sits under the page's h1 and the transcript's h2:
/// `h{L+2}`, at most h6.
fn heading_level(m: &Manifest, p: &ParagraphRecord) -> u8 {
    let level = m
        .chapters
        .get(p.chapter)
        .filter(|c| c.paragraphs[0] == p.index)
        .map_or(1, |c| c.level);
    (level.saturating_add(2)).clamp(3, 6)
}

/// ` lang="fr"` for the elements that hold the article's own text, when its language is known.
/// The page's own words (headings, labels) are English, so `<html lang="en">` stays.
fn lang_attr(m: &Manifest) -> String {
    m.language
        .as_deref()
        .map(|l| format!(" lang=\"{}\"", escape(l)))
        .unwrap_or_default()
}

/// How the download list names a chapter file.
fn chapter_format_label(format: ChapterFormat) -> &'static str {
    match format {
        ChapterFormat::Vtt => "WebVTT",
        ChapterFormat::Json => "JSON",
        ChapterFormat::Ffmetadata => "FFmetadata",
        ChapterFormat::Podcast => "Podcasting 2.0 JSON",
        ChapterFormat::Cue => "CUE sheet",
    }
}

/// Milliseconds as exact decimal seconds for attributes and media fragments: `12.345`.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn byline(author: Option<&str>, date: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(a) = author.filter(|a| !a.trim().is_empty()) {
        parts.push(format!("By {}", escape(a)));
    }
    if let Some(d) = date.filter(|d| !d.trim().is_empty()) {
        // A date-time (`2026-10-14T09:30:00-05:00`) shows its date; `datetime` keeps it whole.
        if let Some(day) = crate::text::iso_day(d) {
            parts.push(format!("<time datetime=\"{}\">{day}</time>", escape(d)));
        } else {
            parts.push(escape(d));
        }
    }
    parts.join(" · ")
}

/// "Spoken by espeak-ng 1.51 (voice en-us, rate 175, pitch 50)".
fn engine_note(m: &Manifest) -> String {
    let mut note = format!(
        "Spoken by {} {}",
        escape(&m.engine.name),
        escape(&m.engine.version)
    );
    let mut settings: Vec<(&String, &String)> = m.engine.settings.iter().collect();
    // The voice first: it is what a listener hears.
    settings.sort_by_key(|(k, _)| *k != "voice");
    if !settings.is_empty() {
        let list: Vec<String> = settings
            .iter()
            .map(|(k, v)| format!("{} {}", escape(&k.replace('_', " ")), escape(v)))
            .collect();
        let _ = write!(note, " ({})", list.join(", "));
    }
    note
}

fn duration_html(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "<time datetime=\"PT{}H{}M{}S\">{}</time>",
        s / 3600,
        s / 60 % 60,
        s % 60,
        clock(ms)
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `812 bytes`, `14 kB`, `6.7 MB`, `1.24 GB` (decimal units, as file managers show them).
pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1000 {
        format!("{bytes} bytes")
    } else if bytes < 1_000_000 {
        format!("{:.0} kB", b / 1e3)
    } else if bytes < 1_000_000_000 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

/// Escapes text for HTML text content and for double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A relative path as a URL path, ready for an attribute: every byte outside the unreserved
/// set (and `/`) is percent-encoded, so `#`, `?`, `%`, spaces, quotes and markup in file names
/// cannot change the link's meaning.
pub fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// JSON for a `<script type="application/json">` element: `<`, `>` and `&` become `\u003c`,
/// `\u003e` and `\u0026` (valid JSON escapes, and `<` can occur only inside strings), so the
/// text can never contain `</script>` or `<!--`.
pub fn script_json<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value).expect("page data always serializes");
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

/// What the page's script reads: times in seconds, rounded to the millisecond.
#[derive(Serialize)]
struct PageData<'a> {
    duration: f64,
    chapters: Vec<ChapterData<'a>>,
    paragraphs: Vec<Span>,
    /// Each marked word's start and end, in the order of the transcript's `data-w`.
    words: Vec<[f64; 2]>,
}

#[derive(Serialize)]
struct ChapterData<'a> {
    title: &'a str,
    level: u8,
    start: f64,
    end: f64,
}

#[derive(Serialize)]
struct Span {
    start: f64,
    end: f64,
}

const PAGE_CSS: &str = include_str!("html/page.css");
const PAGE_JS: &str = include_str!("html/page.js");
const INDEX_CSS: &str = include_str!("html/index.css");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{EngineRecord, Files, ParagraphRecord};

    /// A manifest with one chapter and paragraph per `(level, kind, text)`, one second each.
    fn manifest(title: &str, items: &[(u8, &str, &str)]) -> Manifest {
        let rate = 1000;
        let chapters = items
            .iter()
            .enumerate()
            .map(|(i, (level, _, text))| ChapterRecord {
                index: i,
                title: text.to_string(),
                start_frame: i as u64 * 1000,
                end_frame: (i as u64 + 1) * 1000,
                start_seconds: i as f64,
                level: *level,
                parent: None,
                paragraphs: [i, i],
                audio_blake3: String::new(),
            })
            .collect();
        let paragraphs = items
            .iter()
            .enumerate()
            .map(|(i, (_, kind, text))| ParagraphRecord {
                index: i,
                chapter: i,
                kind: kind.to_string(),
                title: text.to_string(),
                text: text.to_string(),
                spoken_sha256: String::new(),
                start_frame: i as u64 * 1000,
                end_frame: i as u64 * 1000 + 800,
                duration_frames: 800,
                start_seconds: i as f64,
                duration_seconds: 0.8,
                units: Vec::new(),
                sentences: Vec::new(),
                words: Vec::new(),
            })
            .collect();
        Manifest {
            format: crate::manifest::FORMAT.into(),
            format_version: crate::manifest::FORMAT_VERSION,
            generator: "aloud 0.0.0".into(),
            source: "a.txt".into(),
            input_sha256: String::new(),
            settings_sha256: String::new(),
            title: title.into(),
            author: None,
            date: None,
            language: None,
            engine: EngineRecord {
                name: "espeak-ng".into(),
                version: "1.51".into(),
                sample_rate: rate,
                settings: [("rate", "175"), ("voice", "en-us")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            sample_rate: rate,
            channels: 1,
            gap_ms: 200,
            chapter_gap_ms: 200,
            total_frames: items.len() as u64 * 1000,
            timing: Default::default(),
            duration_seconds: items.len() as f64,
            loudness: None,
            encoder: None,
            files: Files {
                wav: Some("a.wav".into()),
                chapters_vtt: Some("a.chapters.vtt".into()),
                page: Some("a.html".into()),
                ..Files::default()
            },
            chapters,
            paragraphs,
            skipped: Vec::new(),
        }
    }

    fn wav(bytes: u64) -> AudioFile {
        AudioFile {
            name: "a.wav".into(),
            mime: WAV_MIME.into(),
            bytes,
            duration_ms: 3000,
        }
    }

    #[test]
    fn escape_covers_text_and_both_attribute_quotes() {
        assert_eq!(
            escape(r#"<a href='x' title="y">&amp;</a>"#),
            "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn url_paths_percent_encode_everything_but_plain_names() {
        assert_eq!(url_path("a/b-c_d.e~1.wav"), "a/b-c_d.e~1.wav");
        assert_eq!(
            url_path("x #1?<\"é\">.wav"),
            "x%20%231%3F%3C%22%C3%A9%22%3E.wav"
        );
    }

    #[test]
    fn script_json_cannot_close_the_script_and_still_parses() {
        let s = "</script><!-- & \u{2028}";
        let json = script_json(&s);
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), s);
    }

    #[test]
    fn a_title_and_text_with_markup_appear_only_escaped() {
        let evil = "</script><img src=x onerror=alert(1)>";
        let mut m = manifest(evil, &[(1, "text", evil)]);
        m.author = Some("<b>Mallory</b>".into());
        m.date = Some("\"><script>".into());
        m.engine.settings.insert("voice".into(), "<i>".into());
        let page = article_page(&m, &[wav(10)]);
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>") && !page.contains("<i>"));
        // Only the page's own two scripts are opened and closed.
        assert_eq!(page.matches("<script").count(), 2);
        assert_eq!(page.matches("</script>").count(), 2);
        assert!(page.contains("<h1>&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</h1>"));
        assert!(
            page.contains(
                "<title>&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; · audio</title>"
            )
        );
        assert!(page.contains("\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e"));
        let index = index_page(&[IndexEntry {
            path: "a.json".into(),
            title: evil.into(),
            author: None,
            date: None,
            duration_ms: 0,
            chapters: 1,
            page: Some("a\".html".into()),
            audio: vec![],
        }]);
        assert!(!index.contains("<img") && !index.contains("a\".html"));
        assert!(index.contains("href=\"a%22.html\""));
    }

    #[test]
    fn sources_are_listed_smallest_first_and_fragments_use_the_wav() {
        let files = [
            wav(1000),
            AudioFile {
                name: "a.opus".into(),
                mime: "audio/ogg; codecs=opus".into(),
                bytes: 10,
                duration_ms: 3000,
            },
            AudioFile {
                name: "a.mp3".into(),
                mime: "audio/mpeg".into(),
                bytes: 100,
                duration_ms: 3000,
            },
        ];
        let page = article_page(&manifest("t", &[(1, "text", "x")]), &files);
        let sources: Vec<&str> = page.lines().filter(|l| l.starts_with("<source ")).collect();
        assert_eq!(
            sources,
            [
                "<source src=\"a.opus\" type=\"audio/ogg; codecs=opus\">",
                "<source src=\"a.mp3\" type=\"audio/mpeg\">",
                "<source src=\"a.wav\" type=\"audio/wav\">",
            ]
        );
        assert!(page.contains("download>Opus</a>, <a href=\"a.mp3\" download>MP3</a>, <a href=\"a.wav\" download>WAV</a>.</p>\n</audio>"));
        assert!(page.contains("href=\"a.wav#t=0.000\" data-start=\"0.000\""));
        assert!(page.contains(">Opus audio</a> <span class=\"muted\">10 bytes · 0:03</span>"));
    }

    #[test]
    fn a_byline_shows_a_date_time_as_its_date() {
        assert_eq!(
            byline(Some("Ann"), Some("2026-10-14T09:30:00-05:00")),
            "By Ann · <time datetime=\"2026-10-14T09:30:00-05:00\">2026-10-14</time>"
        );
        assert_eq!(
            byline(None, Some("2026-10-14")),
            "<time datetime=\"2026-10-14\">2026-10-14</time>"
        );
        assert_eq!(byline(None, Some("May 1, 2024")), "May 1, 2024");
        assert_eq!(byline(None, Some("2026-10-14 or so")), "2026-10-14 or so");
    }

    #[test]
    fn the_article_text_carries_its_language_and_the_page_stays_english() {
        let mut m = manifest("Été", &[(1, "text", "Bonjour tout le monde.")]);
        m.files.captions_vtt = Some("a.captions.vtt".into());
        let english = article_page(&m, &[wav(10)]);
        assert!(english.contains("<h1>Été</h1>") && !english.contains(" lang=\"fr\""));
        m.language = Some("fr".into());
        let page = article_page(&m, &[wav(10)]);
        assert!(
            page.contains("<html lang=\"en\">"),
            "the page's own words are English"
        );
        assert!(page.contains("<h1 lang=\"fr\">Été</h1>"));
        assert!(page.contains("<p lang=\"fr\">"));
        assert!(page.contains("<span class=\"title\" lang=\"fr\">"));
        assert!(page.contains("kind=\"chapters\" src=\"a.chapters.vtt\" srclang=\"fr\""));
        assert!(page.contains("kind=\"captions\" src=\"a.captions.vtt\" srclang=\"fr\""));
    }

    #[test]
    fn nested_chapters_become_nested_lists() {
        let m = manifest(
            "t",
            &[
                (1, "heading", "A"),
                (2, "heading", "A.1"),
                (3, "heading", "A.1.a"),
                (2, "heading", "A.2"),
                (1, "heading", "B"),
            ],
        );
        let mut h = String::new();
        chapter_list(&mut h, &m.chapters, "a.wav", m.sample_rate, "");
        let shape: String = h
            .split(['<', '>'])
            .filter_map(|t| match t {
                "ol" | "ol id=\"chapter-list\"" => Some("("),
                "/ol" => Some(")"),
                t if t.starts_with("span class=\"title\"") => Some("*"),
                _ => None,
            })
            .collect();
        assert_eq!(shape, "(*(*(*)*)*)");
        assert_eq!(h.matches("<li>").count(), h.matches("</li>").count());
        // Headings sit under the page's h1 and the transcript's h2.
        let page = article_page(&m, &[wav(1)]);
        assert!(page.contains("<h3>A</h3>") && page.contains("<h4>A.1</h4>"));
        assert!(page.contains("<h5>A.1.a</h5>"));
    }

    #[test]
    fn the_transcript_keeps_the_kinds_of_blocks() {
        let m = manifest(
            "t",
            &[
                (1, "text", "Plain."),
                (1, "list-item", "One"),
                (1, "list-item", "Two"),
                (1, "quote", "Said."),
                (1, "preformatted", "a  b"),
            ],
        );
        let page = article_page(&m, &[wav(1)]);
        assert!(page.contains("<div class=\"para\" id=\"p1\"><a class=\"play\" href=\"a.wav#t=0.000\" data-start=\"0.000\" aria-label=\"Play from paragraph 1, at 0:00\">0:00</a><p>Plain.</p></div>"));
        assert_eq!(page.matches("<ul class=\"items\">").count(), 1);
        assert!(page.contains("<li class=\"para\" id=\"p3\">"));
        assert!(page.contains("<blockquote><p>Said.</p></blockquote>"));
        assert!(page.contains("<pre>a  b</pre>"));
        assert!(page.contains("data-start=\"4.000\""));
    }

    #[test]
    fn the_header_names_author_date_duration_and_voice() {
        let mut m = manifest("T", &[(1, "text", "x"), (1, "text", "y")]);
        m.author = Some("Ann".into());
        m.date = Some("2024-05-01".into());
        let page = article_page(&m, &[wav(1)]);
        assert!(page.contains(
            "<p class=\"byline\">By Ann · <time datetime=\"2024-05-01\">2024-05-01</time></p>"
        ));
        assert!(page.contains(
            "<time datetime=\"PT0H0M2S\">0:02</time> · 2 chapters · Spoken by espeak-ng 1.51 (voice en-us, rate 175)"
        ));
        m.author = None;
        m.date = Some("Spring 2024".into());
        assert!(article_page(&m, &[wav(1)]).contains("<p class=\"byline\">Spring 2024</p>"));
    }

    #[test]
    fn the_embedded_data_has_every_start_and_end_in_seconds() {
        let page = article_page(
            &manifest("t", &[(1, "text", "x"), (2, "text", "y")]),
            &[wav(1)],
        );
        assert!(page.contains(
            r#"{"duration":2.0,"chapters":[{"title":"x","level":1,"start":0.0,"end":1.0},{"title":"y","level":2,"start":1.0,"end":2.0}],"paragraphs":[{"start":0.0,"end":0.8},{"start":1.0,"end":1.8}],"words":[]}"#
        ), "{page}");
    }

    #[test]
    fn timed_words_are_marked_in_the_transcript_in_order() {
        use crate::manifest::WordRecord;
        let mut m = manifest(
            "t",
            &[(1, "text", "Say <UNAMI> & go."), (1, "text", "Then.")],
        );
        let word = |start, end, spoken: &str, text| WordRecord {
            start_frame: start,
            end_frame: end,
            spoken: spoken.into(),
            text,
        };
        m.paragraphs[0].words = vec![
            word(0, 100, "Say", Some([0, 3])),
            word(100, 150, "you", Some([5, 10])),
            word(150, 200, "nah", Some([5, 10])),
            word(250, 300, "and", None),
            word(300, 400, "go", Some([14, 16])),
        ];
        m.paragraphs[1].words = vec![word(1000, 1500, "Then", Some([0, 4]))];
        let page = article_page(&m, &[wav(1)]);
        assert!(page.contains(
            "<p><span class=\"w\" data-w=\"0\">Say</span> &lt;<span class=\"w\" data-w=\"1\">UNAMI</span>&gt; &amp; <span class=\"w\" data-w=\"2\">go</span>.</p>"
        ), "{page}");
        assert!(page.contains("<p><span class=\"w\" data-w=\"3\">Then</span>.</p>"));
        assert!(
            page.contains(r#""words":[[0.0,0.1],[0.1,0.2],[0.3,0.4],[1.0,1.5]]"#),
            "{page}"
        );
    }

    #[test]
    fn the_index_is_sorted_by_path_and_links_what_exists() {
        let entry = |path: &str, title: &str| IndexEntry {
            path: path.into(),
            title: title.into(),
            author: None,
            date: None,
            duration_ms: 61_000,
            chapters: 1,
            page: Some(path.replace(".json", ".html")),
            audio: vec![AudioFile {
                name: path.replace(".json", ".wav"),
                mime: WAV_MIME.into(),
                bytes: 2_500_000,
                duration_ms: 61_000,
            }],
        };
        let mut no_page = entry("c.json", "Cee");
        no_page.page = None;
        let index = index_page(&[entry("b/a.json", "Bee"), entry("a.json", "Ay"), no_page]);
        let ay = index.find(">Ay<").unwrap();
        let bee = index.find(">Bee<").unwrap();
        assert!(ay < bee);
        assert!(index.contains("<h2><a href=\"b/a.html\">Bee</a></h2>"));
        assert!(index.contains("<h2>Cee</h2>"));
        assert!(index.contains(
            "<a href=\"b/a.wav\" type=\"audio/wav\">WAV</a> <span class=\"muted\">2.5 MB</span>"
        ));
        assert!(index.contains("3 articles · <time datetime=\"PT0H3M3S\">3:03</time> in all"));
    }

    #[test]
    fn sizes_read_like_a_file_manager() {
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(14_200), "14 kB");
        assert_eq!(human_size(6_737_372), "6.7 MB");
        assert_eq!(human_size(1_240_000_000), "1.24 GB");
    }
}
