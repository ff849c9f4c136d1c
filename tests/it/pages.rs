//! The player pages as files, without a browser: what is written, and where it links.

use crate::support::TestEnv;

#[test]
fn every_article_gets_a_page_beside_its_audio() {
    let env = TestEnv::new();
    env.write("in/a b#1.txt", "First paragraph.\n\nSecond <one> & more.");
    env.mock_convert(&["in", "-o", "out"]).assert().success();
    let page = String::from_utf8(env.read("out/a b#1.html")).unwrap();
    let m = env.manifest("out/a b#1.json");
    assert_eq!(m["files"]["page"], "a b#1.html");
    // Links are relative to the page, with the file name percent-encoded.
    assert!(page.contains("<source src=\"a%20b%231.wav\" type=\"audio/wav\">"));
    assert!(page.contains("src=\"a%20b%231.chapters.vtt\""));
    assert!(page.contains("<p>Second &lt;one&gt; &amp; more.</p>"));
    let start = m["paragraphs"][1]["start_seconds"].as_f64().unwrap();
    assert!(page.contains(&format!(
        "<div class=\"para\" id=\"p2\"><a class=\"play\" href=\"a%20b%231.wav#t={start:.3}\""
    )));
    // The WAV's size on the page is the file's.
    let size = std::fs::metadata(env.path().join("out/a b#1.wav"))
        .unwrap()
        .len();
    assert!(page.contains(&format!(
        "<span class=\"muted\">{} · 0:",
        aloud::html::human_size(size)
    )));
}
