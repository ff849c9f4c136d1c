//! `aloud segments`: what would be spoken, without running an engine.
//!
//! It reads articles exactly as `convert` does (discovery, formats, furniture, lexicon,
//! splitting) and prints the title, the chapters and every unit an engine call would get, as
//! text for people or `--json` for programs.

use crate::batch::{StdinSpool, discover};
use crate::config::{self, ConvertRequest};
use crate::exit_codes::ExitCode;
use crate::report;
use crate::text::{Article, Unit};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

#[derive(Serialize)]
struct Doc<'a> {
    articles: Vec<ArticleDoc<'a>>,
    errors: Vec<ErrorDoc>,
}

#[derive(Serialize)]
struct ArticleDoc<'a> {
    source: String,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<&'a str>,
    chapters: Vec<ChapterDoc<'a>>,
    paragraphs: Vec<ParagraphDoc<'a>>,
    skipped: Vec<SkippedDoc<'a>>,
}

#[derive(Serialize)]
struct ChapterDoc<'a> {
    index: usize,
    title: &'a str,
    level: u8,
    first_paragraph: usize,
}

#[derive(Serialize)]
struct ParagraphDoc<'a> {
    index: usize,
    chapter: usize,
    kind: &'static str,
    text: &'a str,
    units: Vec<&'a str>,
}

#[derive(Serialize)]
struct SkippedDoc<'a> {
    kind: &'a str,
    before_paragraph: usize,
    text: &'a str,
}

#[derive(Serialize)]
struct ErrorDoc {
    source: String,
    error: String,
}

/// Runs `aloud segments`.
pub fn run(request: ConvertRequest, json: bool) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let config = match config::resolve(request, &cwd) {
        Ok(c) => c,
        Err(e) => {
            report::error(&e);
            return Ok(ExitCode::Usage);
        }
    };
    let stdin = StdinSpool::read_if_named(&config.inputs)?;
    let found = discover(
        &config.inputs,
        &cwd.join(".aloud-segments-no-output"),
        stdin.as_ref(),
    )?;
    for w in &found.warnings {
        report::warning(w);
    }
    let mut read: Vec<(String, Article, Vec<Unit>)> = Vec::new();
    let mut errors = Vec::new();
    for job in &found.jobs {
        let result = std::fs::read(&job.source)
            .map_err(|e| format!("could not read it: {e}"))
            .and_then(|bytes| {
                config
                    .text
                    .read(&bytes, Path::new(&job.name))
                    .map_err(|e| e.to_string())
            });
        match result {
            Ok((article, units)) => read.push((job.label.clone(), article, units)),
            Err(error) => {
                report::error(format_args!("{}: {error}", job.label));
                errors.push(ErrorDoc {
                    source: job.label.clone(),
                    error,
                });
            }
        }
    }

    let failed = !errors.is_empty();
    let mut out = std::io::stdout().lock();
    let written = if json {
        let doc = Doc {
            articles: read.iter().map(|(s, a, u)| article_doc(s, a, u)).collect(),
            errors,
        };
        let text = serde_json::to_string_pretty(&doc)?;
        writeln!(out, "{text}")
    } else {
        read.iter()
            .try_for_each(|(source, article, units)| write_text(&mut out, source, article, units))
    };
    match written {
        // A closed pipe (`aloud segments x | head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e.into()),
        Ok(()) => {}
    }
    Ok(if failed {
        ExitCode::Failure
    } else {
        ExitCode::Success
    })
}

fn article_doc<'a>(source: &str, a: &'a Article, units: &'a [Unit]) -> ArticleDoc<'a> {
    let chapter_of = a.chapter_of_paragraphs();
    let unit_ranges = crate::text::units_by_paragraph(a.paragraphs.len(), units);
    ArticleDoc {
        source: source.to_string(),
        title: &a.title,
        author: a.author.as_deref(),
        date: a.date.as_deref(),
        chapters: a
            .chapters
            .iter()
            .enumerate()
            .map(|(i, c)| ChapterDoc {
                index: i,
                title: &c.title,
                level: c.level,
                first_paragraph: c.first_paragraph,
            })
            .collect(),
        paragraphs: a
            .paragraphs
            .iter()
            .enumerate()
            .map(|(i, p)| ParagraphDoc {
                index: i,
                chapter: chapter_of[i],
                kind: p.kind.name(),
                text: &p.text,
                units: units[unit_ranges[i].clone()]
                    .iter()
                    .map(|u| u.text.as_str())
                    .collect(),
            })
            .collect(),
        skipped: a
            .skipped
            .iter()
            .map(|s| SkippedDoc {
                kind: &s.kind,
                before_paragraph: s.before_paragraph,
                text: &s.text,
            })
            .collect(),
    }
}

fn write_text(
    out: &mut impl Write,
    source: &str,
    a: &Article,
    units: &[Unit],
) -> std::io::Result<()> {
    let unit_ranges = crate::text::units_by_paragraph(a.paragraphs.len(), units);
    let chapter_of = a.chapter_of_paragraphs();
    let mut skipped_before: std::collections::BTreeMap<usize, Vec<&crate::text::Skipped>> =
        Default::default();
    for s in &a.skipped {
        skipped_before
            .entry(s.before_paragraph)
            .or_default()
            .push(s);
    }
    writeln!(out, "{source}")?;
    writeln!(out, "  title: {}", a.title)?;
    if let Some(author) = &a.author {
        writeln!(out, "  author: {author}")?;
    }
    if let Some(date) = &a.date {
        writeln!(out, "  date: {date}")?;
    }
    writeln!(
        out,
        "  {} chapters, {} paragraphs, {} units",
        a.chapters.len(),
        a.paragraphs.len(),
        units.len()
    )?;
    for (i, p) in a.paragraphs.iter().enumerate() {
        for s in skipped_before.get(&i).into_iter().flatten() {
            write_skipped(out, s)?;
        }
        let k = chapter_of[i];
        if let Some(c) = a.chapters.get(k).filter(|c| c.first_paragraph == i) {
            let indent = "  ".repeat(usize::from(c.level));
            writeln!(out, "{indent}chapter {}: {}", k + 1, c.title)?;
        }
        for (n, u) in units[unit_ranges[i].clone()].iter().enumerate() {
            writeln!(
                out,
                "      p{}.{} [{}] {}",
                i + 1,
                n + 1,
                p.kind.name(),
                u.text
            )?;
        }
    }
    for s in a
        .skipped
        .iter()
        .filter(|s| s.before_paragraph >= a.paragraphs.len())
    {
        write_skipped(out, s)?;
    }
    Ok(())
}

fn write_skipped(out: &mut impl Write, s: &crate::text::Skipped) -> std::io::Result<()> {
    writeln!(
        out,
        "      (not spoken: {} block, {} lines)",
        s.kind,
        s.text.lines().count()
    )
}
