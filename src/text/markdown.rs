//! Markdown (CommonMark, with tables and front matter) → blocks.
//!
//! Headings, paragraphs, list items, block quotes and table rows are spoken; links speak their
//! text; inline code is read as text; images speak nothing unless their alt text is asked for;
//! code blocks are not spoken but recorded as skipped; raw HTML is dropped, and so is what is
//! between inline `<script>`, `<style>` or `<template>` tags. YAML (`---`) or
//! TOML (`+++`) front matter gives the title, author and date and is not spoken.

use super::outline::Parsed;
use super::{BlockKind, Paragraph, Skipped};
use pulldown_cmark::{Event, HeadingLevel, MetadataBlockKind, Options, Parser, Tag, TagEnd};

/// Parses Markdown. `image_alt`: speak images' alt text.
pub fn parse(src: &str, image_alt: bool) -> Parsed {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS;
    let mut out = Parsed::default();
    // The block being collected, and what kind it will be.
    let mut text = String::new();
    let mut kind: Option<BlockKind> = None;
    let mut quote_depth = 0usize;
    let mut item_depth = 0usize;
    let mut in_image = 0usize;
    let mut in_footnote = 0usize;
    let mut code: Option<String> = None;
    let mut metadata: Option<(MetadataBlockKind, String)> = None;
    let mut cells: Vec<String> = Vec::new();
    // Inside inline `<script>` or `<style>`: the closing tag that ends it.
    let mut hidden_until: Option<&str> = None;

    let flush = |text: &mut String, kind: &mut Option<BlockKind>, out: &mut Parsed| {
        let k = kind.take().unwrap_or(BlockKind::Text);
        if !text.trim().is_empty() {
            out.blocks.push(Paragraph {
                text: std::mem::take(text),
                kind: k,
            });
        }
        text.clear();
    };
    let body_kind = |quote_depth: usize, item_depth: usize| {
        if item_depth > 0 {
            BlockKind::ListItem
        } else if quote_depth > 0 {
            BlockKind::Quote
        } else {
            BlockKind::Text
        }
    };

    for event in Parser::new_ext(src, options) {
        if let Some(code_text) = code.as_mut() {
            match event {
                Event::Text(t) => code_text.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    out.skipped.push(Skipped {
                        kind: "code".into(),
                        before_paragraph: out.blocks.len(),
                        text: code.take().unwrap_or_default().trim_end().to_string(),
                    });
                }
                _ => {}
            }
            continue;
        }
        if let Some((_, meta)) = metadata.as_mut() {
            match event {
                Event::Text(t) => meta.push_str(&t),
                Event::End(TagEnd::MetadataBlock(_)) => {
                    if let Some((k, m)) = metadata.take() {
                        front_matter(k, &m, &mut out);
                    }
                }
                _ => {}
            }
            continue;
        }
        // Inline HTML lives inside a block: an unclosed `<script>` hides no more than its own.
        if matches!(
            event,
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::TableCell | TagEnd::Item)
        ) {
            hidden_until = None;
        }
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&mut text, &mut kind, &mut out);
                kind = Some(BlockKind::Heading(heading_level(level)));
            }
            Event::Start(Tag::Paragraph) => {
                flush(&mut text, &mut kind, &mut out);
                kind = Some(body_kind(quote_depth, item_depth));
            }
            Event::End(TagEnd::Heading(_) | TagEnd::Paragraph) => {
                flush(&mut text, &mut kind, &mut out)
            }
            Event::Start(Tag::BlockQuote(_)) => {
                flush(&mut text, &mut kind, &mut out);
                quote_depth += 1;
            }
            Event::End(TagEnd::BlockQuote(_)) => {
                flush(&mut text, &mut kind, &mut out);
                quote_depth = quote_depth.saturating_sub(1);
            }
            Event::Start(Tag::Item) => {
                flush(&mut text, &mut kind, &mut out);
                item_depth += 1;
                kind = Some(BlockKind::ListItem);
            }
            Event::End(TagEnd::Item) => {
                flush(&mut text, &mut kind, &mut out);
                item_depth = item_depth.saturating_sub(1);
            }
            // An item's own text ends where a nested list begins.
            Event::Start(Tag::List(_)) => flush(&mut text, &mut kind, &mut out),
            Event::Start(Tag::CodeBlock(_)) => {
                flush(&mut text, &mut kind, &mut out);
                code = Some(String::new());
            }
            Event::Start(Tag::MetadataBlock(k)) => metadata = Some((k, String::new())),
            Event::Start(Tag::Image { .. }) => in_image += 1,
            Event::End(TagEnd::Image) => in_image = in_image.saturating_sub(1),
            Event::Start(Tag::FootnoteDefinition(_)) => {
                flush(&mut text, &mut kind, &mut out);
                in_footnote += 1;
            }
            Event::End(TagEnd::FootnoteDefinition) => {
                flush(&mut text, &mut kind, &mut out);
                in_footnote = in_footnote.saturating_sub(1);
            }
            Event::Start(Tag::TableCell) => text.clear(),
            Event::End(TagEnd::TableCell) => cells.push(std::mem::take(&mut text)),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                let row: Vec<String> = cells
                    .drain(..)
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect();
                if !row.is_empty() {
                    out.blocks.push(Paragraph {
                        text: row.join(", "),
                        kind: body_kind(quote_depth, item_depth),
                    });
                }
            }
            Event::InlineHtml(tag) => {
                let tag = tag.trim().to_ascii_lowercase();
                match hidden_until {
                    Some(close) if tag.starts_with(close) => hidden_until = None,
                    Some(_) => {}
                    None => {
                        hidden_until = ["script", "style", "template"]
                            .into_iter()
                            .find(|name| {
                                tag.strip_prefix('<')
                                    .and_then(|t| t.strip_prefix(name))
                                    .is_some_and(|rest| rest.starts_with(['>', ' ', '\t', '\n']))
                                    && !tag.ends_with("/>")
                            })
                            .map(|name| match name {
                                "script" => "</script",
                                "style" => "</style",
                                _ => "</template",
                            })
                    }
                }
            }
            Event::Text(_) | Event::Code(_) if hidden_until.is_some() => {}
            Event::Text(t) | Event::Code(t) if (in_image == 0 || image_alt) && in_footnote == 0 => {
                if in_image > 0 && !text.is_empty() && !text.ends_with(' ') {
                    text.push(' ');
                }
                text.push_str(&t);
            }
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            // Raw HTML, rules, footnote markers, task boxes, math: nothing to say.
            _ => {}
        }
    }
    flush(&mut text, &mut kind, &mut out);
    out
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Reads `title`, `author` (or `authors`), `date` and `lang` (or `language`) from front matter. A list of authors is
/// joined with commas (an author given as a table gives its `name`); front matter that does
/// not parse gives nothing, and the article is titled as if it had none.
fn front_matter(kind: MetadataBlockKind, src: &str, out: &mut Parsed) {
    let pairs: Vec<(String, String)> = match kind {
        MetadataBlockKind::PlusesStyle => src
            .parse::<toml::Table>()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_lowercase(), toml_text(&v)?)))
            .collect(),
        MetadataBlockKind::YamlStyle => {
            use yaml_rust2::{Yaml, YamlLoader};
            let docs = YamlLoader::load_from_str(src).unwrap_or_default();
            match docs.into_iter().next() {
                Some(Yaml::Hash(h)) => h
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_lowercase(), yaml_text(v)?)))
                    .collect(),
                _ => Vec::new(),
            }
        }
    };
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.trim().is_empty())
    };
    out.title = get("title");
    out.author = get("author").or_else(|| get("authors"));
    out.date = get("date");
    out.language = get("lang").or_else(|| get("language"));
}

/// A TOML front-matter value as text: strings, dates and numbers as written, lists joined with
/// commas, a table by its `name`.
fn toml_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        toml::Value::Array(a) => joined(a.iter().filter_map(toml_text)),
        toml::Value::Table(t) => t.get("name").and_then(toml_text),
        toml::Value::Boolean(_) => None,
    }
}

/// A YAML front-matter value as text, like [`toml_text`].
fn yaml_text(v: &yaml_rust2::Yaml) -> Option<String> {
    use yaml_rust2::Yaml;
    match v {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Array(a) => joined(a.iter().filter_map(yaml_text)),
        Yaml::Hash(h) => h.get(&Yaml::String("name".into())).and_then(yaml_text),
        Yaml::Boolean(_) | Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => None,
    }
}

fn joined(parts: impl Iterator<Item = String>) -> Option<String> {
    let parts: Vec<String> = parts.filter(|p| !p.trim().is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(src: &str) -> Vec<(String, BlockKind)> {
        parse(src, false)
            .blocks
            .into_iter()
            .map(|b| (super::super::normalize_whitespace(&b.text), b.kind))
            .collect()
    }

    #[test]
    fn headings_paragraphs_lists_and_quotes() {
        let b = blocks(
            "# Title\n\nSome *emphasis* and a [link](http://x.test) here.\n\n## Part\n\n- one\n- two\n  - nested\n\n> quoted\n> text\n",
        );
        assert_eq!(
            b,
            [
                ("Title".into(), BlockKind::Heading(1)),
                ("Some emphasis and a link here.".into(), BlockKind::Text),
                ("Part".into(), BlockKind::Heading(2)),
                ("one".into(), BlockKind::ListItem),
                ("two".into(), BlockKind::ListItem),
                ("nested".into(), BlockKind::ListItem),
                ("quoted text".into(), BlockKind::Quote),
            ]
        );
    }

    #[test]
    fn code_blocks_are_skipped_but_recorded() {
        let p = parse(
            "Before.\n\n```rust\nfn main() {}\n```\n\nAfter `inline` code.\n",
            false,
        );
        let texts: Vec<_> = p.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(texts, ["Before.", "After inline code."]);
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.skipped[0].kind, "code");
        assert_eq!(p.skipped[0].text, "fn main() {}");
        assert_eq!(p.skipped[0].before_paragraph, 1);
    }

    #[test]
    fn images_are_silent_unless_asked_and_html_is_dropped() {
        let src = "A ![a chart of sales](chart.png) here.\n\n<div>raw html</div>\n";
        assert_eq!(blocks(src), [("A here.".into(), BlockKind::Text)]);
        let with_alt: Vec<_> = parse(src, true)
            .blocks
            .into_iter()
            .map(|b| b.text)
            .collect();
        assert_eq!(
            super::super::normalize_whitespace(&with_alt[0]),
            "A a chart of sales here."
        );
    }

    #[test]
    fn inline_scripts_and_styles_are_not_spoken() {
        let src = "Hello <script>alert(1)</script> world.\n\n\
                   A <STYLE type=\"text/css\">p { color: red }</style>styled <em>word</em>.\n\n\
                   A <scripted>tag</scripted> is text, and <b>bold</b> too.\n\n\
                   Unclosed <style>p {}\n\nThe next paragraph is spoken.\n";
        let texts: Vec<String> = blocks(src)
            .into_iter()
            .map(|(t, _)| super::super::normalize_whitespace(&t))
            .collect();
        assert_eq!(
            texts,
            [
                "Hello world.",
                "A styled word.",
                "A tag is text, and bold too.",
                "Unclosed",
                "The next paragraph is spoken."
            ]
        );
    }

    #[test]
    fn yaml_and_toml_front_matter_give_metadata_and_are_not_spoken() {
        let p = parse(
            "---\ntitle: \"A Title\"\nauthor: Jane Roe\ndate: 2024-05-01\ntags: [a, b]\n---\n\nBody.\n",
            false,
        );
        assert_eq!(p.title.as_deref(), Some("A Title"));
        assert_eq!(p.author.as_deref(), Some("Jane Roe"));
        assert_eq!(p.date.as_deref(), Some("2024-05-01"));
        assert_eq!(p.blocks.len(), 1);
        let p = parse(
            "+++\ntitle = \"T\"\nauthors = [\"A\", \"B\"]\ndate = 2024-05-01\n+++\n\nBody.\n",
            false,
        );
        assert_eq!(
            (p.title.as_deref(), p.author.as_deref(), p.date.as_deref()),
            (Some("T"), Some("A, B"), Some("2024-05-01"))
        );
    }

    #[test]
    fn yaml_front_matter_is_read_as_yaml() {
        let meta = |yaml: &str| {
            let p = parse(&format!("---\n{yaml}\n---\n\nBody.\n"), false);
            (p.title, p.author)
        };
        let title = |yaml: &str| meta(yaml).0;
        assert_eq!(
            title(r#"title: "He said \"hi\"""#).as_deref(),
            Some(r#"He said "hi""#)
        );
        assert_eq!(title("title: 'It''s fine'").as_deref(), Some("It's fine"));
        assert_eq!(
            title(r#"title: "Hello, 'world'""#).as_deref(),
            Some("Hello, 'world'")
        );
        assert_eq!(title("title: Say \"hi\"").as_deref(), Some("Say \"hi\""));
        assert_eq!(
            title("title: >\n  A folded\n  title").as_deref(),
            Some("A folded title\n")
        );
        assert_eq!(title("title: 2024").as_deref(), Some("2024"));
        assert_eq!(
            meta("title: T\nauthors:\n  - Ann\n  - name: Bob\n    url: x")
                .1
                .as_deref(),
            Some("Ann, Bob")
        );
        assert_eq!(
            meta("author: [\"Roe, Jane\", Doe]").1.as_deref(),
            Some("Roe, Jane, Doe")
        );
        let lang = |yaml: &str| parse(&format!("---\n{yaml}\n---\n\nCorps.\n"), false).language;
        assert_eq!(lang("lang: fr").as_deref(), Some("fr"));
        assert_eq!(lang("language: pt-BR").as_deref(), Some("pt-BR"));
        // Not YAML: no metadata, and still not spoken.
        let p = parse("---\ntitle: [unclosed\n---\n\nBody.\n", false);
        assert_eq!((p.title, p.blocks.len()), (None, 1));
    }

    #[test]
    fn table_rows_are_spoken_cell_by_cell() {
        let b = blocks("| City | Pop |\n|---|---|\n| Oslo | 700k |\n");
        assert_eq!(
            b,
            [
                ("City, Pop".into(), BlockKind::Text),
                ("Oslo, 700k".into(), BlockKind::Text)
            ]
        );
    }
}
