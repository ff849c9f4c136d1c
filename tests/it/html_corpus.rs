//! How aloud reads 42 pages written like real sites' markup (`tests/fixtures/html-corpus/`:
//! blogs, news, docs, wikis, forums, recipes, shops, handouts, FAQs, hidden-while-loading
//! pages), as one snapshot: the title, and each block's kind and opening words, for both HTML
//! readers. It pins today's reading, known faults included (the README lists them), so that a
//! change to the HTML rules shows every page it changes, for better or worse.

use aloud::text::{HtmlReader, TextOptions};
use std::fmt::Write;
use std::path::Path;

/// The title and blocks of one page, one line each.
fn outline(path: &Path, reader: HtmlReader) -> String {
    let options = TextOptions {
        html_reader: reader,
        ..TextOptions::default()
    };
    let bytes = std::fs::read(path).unwrap();
    let mut out = String::new();
    match options.read(&bytes, path) {
        Ok((article, _)) => {
            writeln!(out, "  title: {}", article.title).unwrap();
            for p in &article.paragraphs {
                let opening: String = p.text.chars().take(60).collect();
                let opening = opening.trim_end();
                writeln!(out, "  [{}] {opening}", p.kind.name()).unwrap();
            }
        }
        Err(e) => writeln!(out, "  error: {e}").unwrap(),
    }
    out
}

#[test]
fn the_html_corpus_reads_as_recorded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html-corpus");
    let mut pages: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    pages.sort();
    assert_eq!(pages.len(), 42);
    let mut snapshot = String::new();
    for page in &pages {
        let name = page.file_name().unwrap().to_string_lossy();
        for (label, reader) in [("article", HtmlReader::Article), ("page", HtmlReader::Page)] {
            writeln!(snapshot, "== {name} ({label})").unwrap();
            snapshot += &outline(page, reader);
        }
    }
    insta::assert_snapshot!("html_corpus", snapshot);
}
