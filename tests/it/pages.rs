//! The player pages and the index as files, without a browser: what is written, when, and
//! how the index is rebuilt from the manifests on disk.

use crate::support::TestEnv;
use predicates::prelude::*;

/// The titles the index lists, in order.
fn index_titles(env: &TestEnv, rel: &str) -> Vec<String> {
    let html = String::from_utf8(env.read(rel)).unwrap();
    let re = regex::Regex::new(r"<h2>(?:<a href=[^>]*>)?([^<]*)").unwrap();
    re.captures_iter(&html).map(|c| c[1].to_string()).collect()
}

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

#[test]
fn runs_into_one_folder_give_one_complete_index() {
    let env = TestEnv::new();
    env.write("shard1/zeta.txt", "Zeta.");
    env.write("shard1/sub/alpha.txt", "Alpha.");
    env.write("shard2/beta.txt", "Beta.");
    env.mock_convert(&["shard1", "-o", "out"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "index out/index.html lists 2 articles",
        ));
    assert_eq!(index_titles(&env, "out/index.html"), ["alpha", "zeta"]);
    // A second run (another shard) into the same folder: the index has all three, by path.
    env.mock_convert(&["shard2", "-o", "out"])
        .assert()
        .success();
    assert_eq!(
        index_titles(&env, "out/index.html"),
        ["beta", "alpha", "zeta"] // beta.json, sub/alpha.json, zeta.json
    );
    let index = String::from_utf8(env.read("out/index.html")).unwrap();
    assert!(index.contains("<a href=\"sub/alpha.html\">alpha</a>"));
    assert!(index.contains("<a href=\"sub/alpha.wav\" type=\"audio/wav\">WAV</a>"));

    // Published like the other outputs (a web server can read it), not as a private temp file.
    let mode = |rel: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(env.path().join(rel))
            .unwrap()
            .permissions()
            .mode()
    };
    assert_eq!(mode("out/index.html"), mode("out/beta.wav"));

    // `aloud index` rebuilds exactly the same page from the manifests.
    std::fs::remove_file(env.path().join("out/index.html")).unwrap();
    env.aloud().args(["index", "out"]).assert().success();
    assert_eq!(
        String::from_utf8(env.read("out/index.html")).unwrap(),
        index
    );
}

#[test]
fn the_index_skips_broken_manifests_by_name_and_ignores_other_files() {
    let env = TestEnv::new();
    env.write("in/good.txt", "Good.");
    env.mock_convert(&["in", "-o", "out", "-q"])
        .assert()
        .success();
    let good = env.read("out/good.json");
    env.write(
        "out/broken.json",
        r#"{"format": "aloud-manifest", "title": 3}"#,
    );
    env.write("out/garbage.json", "not json at all");
    env.write("out/other.json", r#"{"something": "else"}"#);
    env.write("out/.hidden/copy.json", &good);
    env.write("out/.good.json.abc123.tmp", &good);
    let assert = env.aloud().args(["index", "out"]).assert().success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains(
            "aloud: warning: out/broken.json: not in the index, it is not a readable aloud manifest"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("out/garbage.json: not in the index"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("other.json") && !stderr.contains("copy.json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("index out/index.html lists 1 article"),
        "{stderr}"
    );
    assert_eq!(index_titles(&env, "out/index.html"), ["good"]);
}

#[test]
fn the_index_links_only_files_that_exist() {
    let env = TestEnv::new();
    env.write("in/a.txt", "Ay.");
    env.mock_convert(&["in", "-o", "out", "-q"])
        .assert()
        .success();
    std::fs::remove_file(env.path().join("out/a.wav")).unwrap();
    std::fs::remove_file(env.path().join("out/a.html")).unwrap();
    env.aloud().args(["index", "out", "-q"]).assert().success();
    let index = String::from_utf8(env.read("out/index.html")).unwrap();
    assert!(index.contains("<h2>a</h2>"), "{index}");
    assert!(
        !index.contains("a.wav") && !index.contains("a.html"),
        "{index}"
    );
}

#[test]
fn aloud_index_needs_a_folder_with_manifests() {
    let env = TestEnv::new();
    env.aloud()
        .args(["index", "nope"])
        .assert()
        .code(1)
        .stderr("aloud: error: nope: not a folder\n");
    env.write("empty/readme.txt", "x");
    env.aloud()
        .args(["index", "empty"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "empty: no aloud manifests (NAME.json) found in it; nothing to index",
        ));
    assert!(!env.path().join("empty/index.html").exists());
}

#[test]
fn a_run_where_every_article_fails_writes_no_index() {
    let env = TestEnv::new();
    env.write("in/a.txt", "This goes BOOM.");
    env.mock_convert(&["in", "-o", "out", "--mock-fail-on", "BOOM"])
        .assert()
        .code(1);
    assert!(env.files("out").is_empty(), "{:?}", env.files("out"));
}
