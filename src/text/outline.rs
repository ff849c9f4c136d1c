//! Blocks (from any reader) → an [`Article`] with a title and chapters.
//!
//! The rules, shared by every format:
//! - Blocks are whitespace-normalised; empty blocks and page furniture are dropped.
//! - The article's own title is its single top heading when that heading comes first (a
//!   Markdown `# Title` at the top, the page's `h1`), or a heading that repeats the title the
//!   source declares. It names the article and is not spoken or made a chapter.
//! - With section headings, each heading starts a chapter titled by it; chapters nest by
//!   heading level (the manifest keeps the levels, the WAV and VTT the flat list). Paragraphs
//!   before the first section heading form a chapter named after the article.
//! - Without section headings, each paragraph is a chapter titled by its opening words.

use super::furniture::FurnitureFilter;
use super::title::{MAX_TITLE_CHARS, opening_words};
use super::{Article, BlockKind, Chapter, Paragraph, Skipped, TextError, normalize_whitespace};

/// What a reader found before outlining.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// A title the source declares (front matter, `<title>`/`og:title`); not a heading.
    pub title: Option<String>,
    /// Author(s).
    pub author: Option<String>,
    /// Publication date.
    pub date: Option<String>,
    /// The language the source declares (`<html lang>`, front matter `lang`), as a BCP 47 tag.
    pub language: Option<String>,
    /// Blocks in document order; headings are blocks of kind [`BlockKind::Heading`].
    pub blocks: Vec<Paragraph>,
    /// Content not spoken; `before_paragraph` counts blocks of `blocks`.
    pub skipped: Vec<Skipped>,
}

/// Builds the article. `fallback_title` names it when the source has no title (the file name).
pub fn outline(
    parsed: Parsed,
    fallback_title: &str,
    furniture: &FurnitureFilter,
) -> Result<Article, TextError> {
    // Clean the blocks, remembering where each old index went for the skipped content.
    let mut new_index = Vec::with_capacity(parsed.blocks.len() + 1);
    let mut blocks: Vec<Paragraph> = Vec::with_capacity(parsed.blocks.len());
    for b in parsed.blocks {
        new_index.push(blocks.len());
        let text = normalize_whitespace(&b.text);
        if !text.is_empty() && !furniture.is_furniture(&text) {
            blocks.push(Paragraph { text, kind: b.kind });
        }
    }
    new_index.push(blocks.len());

    let declared = parsed
        .title
        .map(|t| normalize_whitespace(&t))
        .filter(|t| !t.is_empty());
    let heading_levels: Vec<u8> = blocks
        .iter()
        .filter_map(|b| match b.kind {
            BlockKind::Heading(l) => Some(l),
            _ => None,
        })
        .collect();
    let title_at = blocks
        .iter()
        .position(|b| matches!(b.kind, BlockKind::Heading(_)))
        .filter(|&i| {
            let BlockKind::Heading(level) = blocks[i].kind else {
                return false;
            };
            let unique_top = i == 0 && heading_levels.iter().filter(|&&l| l <= level).count() == 1;
            let repeats_declared = declared
                .as_deref()
                .is_some_and(|d| same_title(d, &blocks[i].text));
            unique_top || repeats_declared
        });
    let mut title = declared;
    let mut removed = None;
    if let Some(i) = title_at {
        let heading = blocks.remove(i);
        title.get_or_insert(heading.text);
        removed = Some(i);
    }
    let title = title.unwrap_or_else(|| fallback_title.to_string());
    if blocks.is_empty() {
        return Err(TextError::NothingSpeakable);
    }

    let skipped = parsed
        .skipped
        .into_iter()
        .map(|s| {
            let mut at = new_index[s.before_paragraph.min(new_index.len() - 1)];
            if removed.is_some_and(|r| at > r) {
                at -= 1;
            }
            Skipped {
                before_paragraph: at,
                ..s
            }
        })
        .collect();

    let sections: Vec<(usize, u8)> = blocks
        .iter()
        .enumerate()
        .filter_map(|(i, b)| match b.kind {
            BlockKind::Heading(l) => Some((i, l)),
            _ => None,
        })
        .collect();
    let chapters = if sections.is_empty() {
        blocks
            .iter()
            .enumerate()
            .map(|(i, p)| Chapter {
                title: opening_words(&p.text, MAX_TITLE_CHARS),
                first_paragraph: i,
                level: 1,
            })
            .collect()
    } else {
        let top = sections.iter().map(|&(_, l)| l).min().unwrap_or(1);
        let mut chapters = Vec::with_capacity(sections.len() + 1);
        if sections[0].0 > 0 {
            chapters.push(Chapter {
                title: opening_words(&title, MAX_TITLE_CHARS),
                first_paragraph: 0,
                level: 1,
            });
        }
        for &(i, level) in &sections {
            chapters.push(Chapter {
                title: opening_words(&blocks[i].text, MAX_TITLE_CHARS),
                first_paragraph: i,
                level: level - top + 1,
            });
        }
        chapters
    };

    Ok(Article {
        title,
        author: parsed
            .author
            .map(|a| normalize_whitespace(&a))
            .filter(|a| !a.is_empty()),
        date: parsed
            .date
            .map(|d| normalize_whitespace(&d))
            .filter(|d| !d.is_empty()),
        language: parsed.language.as_deref().and_then(super::language_tag),
        paragraphs: blocks,
        chapters,
        skipped,
    })
}

/// Whether a heading repeats a declared title ("Headline" vs "Headline | Site").
fn same_title(declared: &str, heading: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let (d, h) = (norm(declared), norm(heading));
    !h.is_empty() && (d == h || (h.len() >= 12 && d.starts_with(&h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(level: u8, t: &str) -> Paragraph {
        Paragraph {
            text: t.into(),
            kind: BlockKind::Heading(level),
        }
    }

    fn p(t: &str) -> Paragraph {
        Paragraph::text(t)
    }

    fn chapters(a: &Article) -> Vec<(String, usize, u8)> {
        a.chapters
            .iter()
            .map(|c| (c.title.clone(), c.first_paragraph, c.level))
            .collect()
    }

    fn run(blocks: Vec<Paragraph>, title: Option<&str>) -> Article {
        outline(
            Parsed {
                title: title.map(Into::into),
                blocks,
                ..Parsed::default()
            },
            "file",
            FurnitureFilter::builtin(),
        )
        .unwrap()
    }

    #[test]
    fn a_top_heading_names_the_article_and_sections_make_nested_chapters() {
        let a = run(
            vec![
                h(1, "Title"),
                p("intro"),
                h(2, "A"),
                p("a1"),
                h(3, "A.1"),
                p("a11"),
                h(2, "B"),
                p("b1"),
            ],
            None,
        );
        assert_eq!(a.title, "Title");
        assert_eq!(
            chapters(&a),
            [
                ("Title".into(), 0, 1),
                ("A".into(), 1, 1),
                ("A.1".into(), 3, 2),
                ("B".into(), 5, 1)
            ]
        );
        assert_eq!(a.paragraphs[1].kind, BlockKind::Heading(2));
    }

    #[test]
    fn a_document_whose_only_heading_is_its_title_gets_a_chapter_per_paragraph() {
        let a = run(vec![h(1, "Title"), p("one"), p("two")], None);
        assert_eq!(a.title, "Title");
        assert_eq!(chapters(&a), [("one".into(), 0, 1), ("two".into(), 1, 1)]);
    }

    #[test]
    fn headings_of_one_level_are_all_sections() {
        let a = run(vec![h(2, "A"), p("a"), h(2, "B"), p("b")], None);
        assert_eq!(a.title, "file");
        assert_eq!(chapters(&a), [("A".into(), 0, 1), ("B".into(), 2, 1)]);
    }

    #[test]
    fn a_heading_that_repeats_the_declared_title_is_not_spoken() {
        let a = run(
            vec![p("byline-less lead"), h(1, "Big News Today"), p("body")],
            Some("Big News Today | The Daily Example"),
        );
        assert_eq!(a.title, "Big News Today | The Daily Example");
        assert_eq!(a.paragraphs.len(), 2);
    }

    #[test]
    fn nothing_but_a_title_is_nothing_to_speak() {
        let err = outline(
            Parsed {
                blocks: vec![h(1, "Only a title")],
                ..Parsed::default()
            },
            "f",
            FurnitureFilter::builtin(),
        )
        .unwrap_err();
        assert_eq!(err, TextError::NothingSpeakable);
    }
}
