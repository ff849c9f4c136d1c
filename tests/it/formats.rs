//! Every reader against hand-checked expectations: for each fixture (and each sample in
//! `input/`), the title, metadata, chapters, spoken paragraphs and skipped blocks must be
//! exactly those in its `.expected` file beside the fixtures.

use aloud::text::{Article, TextOptions, Unit};
use std::path::{Path, PathBuf};

/// The article as the `.expected` files write it.
fn render(a: &Article, units: &[Unit]) -> String {
    let mut out = format!("title: {}\n", a.title);
    if let Some(x) = &a.author {
        out += &format!("author: {x}\n");
    }
    if let Some(x) = &a.date {
        out += &format!("date: {x}\n");
    }
    for (i, p) in a.paragraphs.iter().enumerate() {
        for s in a.skipped.iter().filter(|s| s.before_paragraph == i) {
            out += &format!(
                "(skipped {}: {})\n",
                s.kind,
                s.text.lines().next().unwrap_or("")
            );
        }
        if let Some(c) = a.chapters.iter().find(|c| c.first_paragraph == i) {
            out += &format!("{} {}\n", "#".repeat(usize::from(c.level)), c.title);
        }
        out += &format!("[{}] {}\n", p.kind.name(), p.text);
        for u in units
            .iter()
            .filter(|u| u.paragraph == i && u.text != p.text)
        {
            out += &format!("  > {}\n", u.text);
        }
    }
    for s in a
        .skipped
        .iter()
        .filter(|s| s.before_paragraph >= a.paragraphs.len())
    {
        out += &format!(
            "(skipped {}: {})\n",
            s.kind,
            s.text.lines().next().unwrap_or("")
        );
    }
    out
}

fn fixtures() -> Vec<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/fixtures/text");
    let mut out = Vec::new();
    for sample in std::fs::read_dir(root.join("input")).unwrap() {
        let p = sample.unwrap().path();
        let expected = dir.join(format!(
            "{}.expected",
            p.file_name().unwrap().to_string_lossy()
        ));
        out.push((p, expected));
    }
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e != "expected") {
            let expected = PathBuf::from(format!("{}.expected", p.display()));
            out.push((p, expected));
        }
    }
    out.sort();
    out
}

#[test]
fn every_format_yields_exactly_the_expected_paragraphs() {
    let options = TextOptions::default();
    let mut failures = Vec::new();
    let fixtures = fixtures();
    assert!(fixtures.len() >= 10, "{fixtures:?}");
    for (source, expected) in fixtures {
        let bytes = std::fs::read(&source).unwrap();
        let (article, units) = options
            .read(&bytes, &source)
            .unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        let got = render(&article, &units);
        if std::env::var_os("ALOUD_PRINT_FIXTURES").is_some() {
            println!("=== {}\n{got}", expected.display());
        }
        let want = std::fs::read_to_string(&expected).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- expected\n{want}--- got\n{got}",
                source.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_html_sample_speaks_none_of_its_page_furniture() {
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("input/city-library-audio-archive.html");
    let (article, units) = TextOptions::default()
        .read(&std::fs::read(&source).unwrap(), &source)
        .unwrap();
    let spoken: String = units.iter().map(|u| u.text.to_lowercase() + "\n").collect();
    for never in [
        "browser",
        "download",
        "share",
        "cookie",
        "subscribe",
        "newsletter",
        "related",
        "skip to",
        "all rights",
        "tips@",
        "search",
        "listen to this",
        "morning briefing",
        "flood memorial",
        "tags:",
        "datalayer",
        "maya okafor",
        "october 14",
    ] {
        assert!(!spoken.contains(never), "{never:?} was spoken:\n{spoken}");
    }
    assert_eq!(article.author.as_deref(), Some("Maya Okafor"));
    assert_eq!(article.paragraphs.len(), 12);
}

#[test]
fn long_paragraphs_are_split_into_units_that_map_back() {
    let sentence = "The committee met again on Tuesday to review the proposal in detail. ";
    let text = sentence.repeat(40);
    let options = TextOptions {
        max_chars: 300,
        ..TextOptions::default()
    };
    let (article, units) = options
        .read(text.as_bytes(), Path::new("long.txt"))
        .unwrap();
    assert_eq!(article.paragraphs.len(), 1);
    assert!(units.len() >= 10);
    assert!(
        units
            .iter()
            .all(|u| u.paragraph == 0 && u.text.chars().count() <= 300)
    );
    assert_eq!(
        units
            .iter()
            .map(|u| u.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        text.trim()
    );
}

mod never_panics {
    use aloud::text::{Format, TextOptions};
    use proptest::prelude::*;
    use std::path::Path;

    fn all_formats(bytes: &[u8]) {
        for format in [Format::Text, Format::Markdown, Format::Html] {
            let options = TextOptions {
                format: Some(format),
                max_chars: 60,
                ..TextOptions::default()
            };
            // Ok or a clean error; never a panic. Whatever comes out is well-formed.
            if let Ok((article, units)) = options.read(bytes, Path::new("x")) {
                assert!(!article.paragraphs.is_empty());
                assert!(!units.is_empty());
                assert!(units.iter().all(|u| u.paragraph < article.paragraphs.len()));
                assert_eq!(article.chapters[0].first_paragraph, 0);
            }
        }
    }

    fn tag_soup() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "<p>",
            "</p>",
            "<div>",
            "</div>",
            "<ul>",
            "<li>",
            "</li>",
            "</ul>",
            "<h1>",
            "</h1>",
            "<h2>",
            "<h3>",
            "</h2>",
            "<br>",
            "<blockquote>",
            "</blockquote>",
            "<pre>",
            "</pre>",
            "<table><tr><td>",
            "</td></tr></table>",
            "<audio>",
            "</audio>",
            "<script>",
            "</script>",
            "<article>",
            "</article>",
            "<nav>",
            "</nav>",
            "&amp;",
            "&nbsp;",
            "&#x1F600;",
            "&bogus;",
            "<a href='x'>",
            "</a>",
            "<!--",
            "-->",
            "<b>",
            "</i>",
            "text ",
            "More words. ",
            "\u{202e}",
            "<img alt='x'>",
            "<p class='share'>",
            "<header>",
            "</footer>",
            "<",
            ">",
            "\"",
        ]);
        prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
    }

    fn markdown_soup() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "# ",
            "## ",
            "###### ",
            "\n",
            "\n\n",
            "- ",
            "* ",
            "1. ",
            "> ",
            ">> ",
            "```",
            "~~~",
            "    ",
            "`",
            "**",
            "_",
            "[",
            "](",
            ")",
            "![",
            "|",
            "---",
            "+++",
            "title: x",
            "<div>",
            "word ",
            "Sentence. ",
            "\\",
            "&amp;",
            "[^1]",
            "- [ ] ",
            "\t",
            "\u{1F600}",
        ]);
        prop::collection::vec(piece, 0..80).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            all_formats(&bytes);
        }

        #[test]
        fn arbitrary_html(html in tag_soup()) {
            all_formats(html.as_bytes());
        }

        #[test]
        fn arbitrary_markdown(md in markdown_soup()) {
            all_formats(md.as_bytes());
        }
    }
}
