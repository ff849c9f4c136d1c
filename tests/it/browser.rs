//! The player page and the index in a real browser: headless Chromium driven through
//! chromedriver (WebDriver), against pages made by a mock-backend run, opened from `file://`
//! and from a local HTTP server that honours `Range` requests.
//!
//! Screenshots (desktop 1280 wide, phone 390 wide, light and dark) are saved under
//! `target/screenshots/`.

use crate::http_server::StaticServer;
use crate::support::{SAMPLE, TestEnv, require, sample_run};
use crate::webdriver::Browser;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
/// How far the page may be from the manifest, in seconds.
const TOLERANCE: f64 = 0.05;

fn browser_available() -> bool {
    require("chromium") && require("chromedriver")
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("screenshots")
}

/// The sample article converted with the mock backend into `out/`, plus a second article in
/// a subfolder for the index.
fn sample_site(env: &TestEnv) -> Value {
    env.write("in/us-iraq-dialogue.txt", SAMPLE);
    env.write(
        "in/notes/short.txt",
        "A short second article.\n\nIt has two paragraphs.",
    );
    env.mock_convert(&["in", "-o", "out", "-q"])
        .assert()
        .success();
    env.manifest("out/us-iraq-dialogue.json")
}

fn file_url(path: &Path) -> String {
    format!("file://{}", aloud::html::url_path(path.to_str().unwrap()))
}

fn secs(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn chapter_start(m: &Value, k: usize) -> f64 {
    secs(&m["chapters"][k]["start_seconds"])
}

/// The paragraph's middle, in seconds.
fn paragraph_middle(m: &Value, k: usize) -> f64 {
    let rate = m["sample_rate"].as_f64().unwrap();
    let p = &m["paragraphs"][k];
    (p["start_frame"].as_f64().unwrap() + p["end_frame"].as_f64().unwrap()) / 2.0 / rate
}

/// Waits for `loadedmetadata` and checks the duration against the manifest's.
fn check_duration(b: &mut Browser, m: &Value) {
    b.wait_for(
        "the audio's metadata",
        "document.getElementById('player').readyState >= 1",
        WAIT,
    );
    let duration = secs(&b.eval("document.getElementById('player').duration"));
    let expected = secs(&m["duration_seconds"]);
    assert!(
        (duration - expected).abs() <= TOLERANCE,
        "the player says {duration} s, the manifest {expected} s"
    );
}

/// One entry per chapter, with the manifest's title and start, linking to a media fragment.
fn check_chapter_list(b: &mut Browser, m: &Value) {
    let entries = b.eval(
        "Array.from(document.querySelectorAll('#chapter-list a')).map(a => \
         [a.querySelector('.title').textContent, parseFloat(a.dataset.start), a.getAttribute('href')])",
    );
    let entries = entries.as_array().unwrap();
    let chapters = m["chapters"].as_array().unwrap();
    assert_eq!(entries.len(), chapters.len());
    for (e, c) in entries.iter().zip(chapters) {
        assert_eq!(e[0], c["title"]);
        let start = secs(&c["start_seconds"]);
        assert!((secs(&e[1]) - start).abs() < 0.0005, "{e} vs {c}");
        assert_eq!(
            e[2],
            json!(format!(
                "{}#t={start:.3}",
                m["files"]["wav"].as_str().unwrap()
            ))
        );
    }
}

/// Which chapter link and which paragraph are marked current (0-based; -1 for none), and
/// how many of each are.
fn highlighted(b: &mut Browser) -> (i64, usize, i64, usize) {
    let v = b.eval(
        "(() => { const c = document.querySelectorAll('#chapter-list a[aria-current=\"true\"]'); \
         const p = document.querySelectorAll('.para.current[aria-current=\"true\"]'); \
         return [c.length ? Number(c[0].dataset.chapter) : -1, c.length, \
                 p.length ? Number(p[0].id.slice(1)) - 1 : -1, p.length]; })()",
    );
    (
        v[0].as_i64().unwrap(),
        v[1].as_u64().unwrap() as usize,
        v[2].as_i64().unwrap(),
        v[3].as_u64().unwrap() as usize,
    )
}

fn current_time(b: &mut Browser) -> f64 {
    secs(&b.eval("document.getElementById('player').currentTime"))
}

/// Clicking chapter k seeks to its start, asks the player to play and highlights chapter k;
/// setting the time into paragraph k highlights paragraph k. `play` is stubbed so the time
/// stays put while it is measured.
fn check_seeking_and_highlights(b: &mut Browser, m: &Value) {
    stub_play(b);
    let url_before = b.eval("location.href");
    for k in [4usize, 1, 9] {
        let link = b.find(&format!("#chapter-list a[data-chapter=\"{k}\"]"));
        b.click(&link);
        let t = current_time(b);
        assert!(
            (t - chapter_start(m, k)).abs() <= TOLERANCE,
            "chapter {k}: currentTime {t}, start {}",
            chapter_start(m, k)
        );
        let (chapter, chapters, paragraph, _) = highlighted(b);
        assert_eq!((chapter, chapters), (k as i64, 1), "chapter {k}");
        assert_eq!(paragraph, k as i64, "chapter {k} starts with paragraph {k}");
    }
    assert_eq!(b.eval("window.__plays"), json!(3));
    assert_eq!(b.eval("location.href"), url_before, "a click left the page");

    for k in [6usize, 0, 10] {
        b.exec(
            "document.getElementById('player').currentTime = arguments[0];",
            json!([paragraph_middle(m, k)]),
        );
        b.wait_for(
            &format!("paragraph {k} to be highlighted"),
            &format!(
                "document.getElementById('p{}').classList.contains('current')",
                k + 1
            ),
            WAIT,
        );
        let (chapter, chapters, paragraph, paragraphs) = highlighted(b);
        assert_eq!((paragraph, paragraphs), (k as i64, 1), "paragraph {k}");
        assert_eq!(
            (chapter, chapters),
            (k as i64, 1),
            "paragraph {k}'s chapter"
        );
    }
}

/// Replaces `play()` by a counter, so that the time stays where a seek put it.
fn stub_play(b: &mut Browser) {
    b.exec(
        "window.__plays = 0; HTMLMediaElement.prototype.play = function () { \
         window.__plays += 1; return Promise.resolve(); };",
        json!([]),
    );
}

/// The fallback inside <audio> and the links outside it, all pointing at files that exist.
fn check_fallback_links(b: &mut Browser, out: &Path) {
    let hrefs = b.eval(
        "({inside: Array.from(document.querySelectorAll('audio > p a[href]')).map(a => a.getAttribute('href')), \
          outside: Array.from(document.querySelectorAll('.downloads a[href]')).map(a => a.getAttribute('href')), \
          sources: Array.from(document.querySelectorAll('audio > source')).map(s => [s.getAttribute('src'), s.type]), \
          text: document.querySelector('audio > p').textContent})",
    );
    assert!(
        hrefs["text"].as_str().unwrap().contains("cannot play"),
        "{hrefs}"
    );
    assert_eq!(
        hrefs["sources"],
        json!([["us-iraq-dialogue.wav", "audio/wav"]])
    );
    let inside = hrefs["inside"].as_array().unwrap();
    let outside = hrefs["outside"].as_array().unwrap();
    assert_eq!(inside, &[json!("us-iraq-dialogue.wav")]);
    assert!(outside.contains(&json!("us-iraq-dialogue.wav")), "{hrefs}");
    for href in inside.iter().chain(outside) {
        let file = out.join(href.as_str().unwrap());
        assert!(file.is_file(), "{} does not exist", file.display());
    }
    // Outside the player, visible to everyone.
    let shown = b.eval(
        "Array.from(document.querySelectorAll('.downloads a')).every(a => a.getBoundingClientRect().height > 0)",
    );
    assert_eq!(shown, json!(true));
}

/// Tab reaches the page's controls with a visible focus ring; Enter on a chapter link seeks.
fn check_keyboard(b: &mut Browser, m: &Value, url: &str) {
    b.goto(url); // focus navigation starts from the top again
    check_duration(b, m);
    stub_play(b);
    b.press(&["\u{E004}"]); // Tab
    let first = b.eval(
        "[document.activeElement.className, getComputedStyle(document.activeElement).outlineStyle, \
          getComputedStyle(document.activeElement).outlineWidth]",
    );
    assert_eq!(first, json!(["skip", "solid", "3px"]), "first Tab stop");
    b.exec(
        "document.querySelector('#chapter-list a[data-chapter=\"7\"]').focus();",
        json!([]),
    );
    b.press(&["\u{E007}"]); // Enter
    assert_eq!(b.eval("window.__plays"), json!(1));
    let t = current_time(b);
    assert!((t - chapter_start(m, 7)).abs() <= TOLERANCE, "Enter: {t}");
    assert_eq!(highlighted(b).0, 7);
    // Every paragraph has its own play control, reachable by Tab (a link with a name).
    let controls = b.eval(
        "Array.from(document.querySelectorAll('.para > a.play')).filter(a => a.tabIndex === 0 && a.getAttribute('aria-label')).length",
    );
    assert_eq!(controls, json!(m["paragraphs"].as_array().unwrap().len()));
}

/// The paragraph being spoken is scrolled into view, unless the reader has just scrolled.
fn check_follow_scrolling(b: &mut Browser, m: &Value) {
    let in_view = |k: usize| {
        format!(
            "(() => {{ const r = document.getElementById('p{}').getBoundingClientRect(); \
             return r.top >= 0 && r.bottom <= innerHeight; }})()",
            k + 1
        )
    };
    b.exec("window.scrollTo(0, 0);", json!([]));
    assert_eq!(b.eval(&in_view(10)), json!(false), "p11 starts out of view");
    b.exec(
        "document.getElementById('player').currentTime = arguments[0];",
        json!([paragraph_middle(m, 10)]),
    );
    b.wait_for("p11 to scroll into view", &in_view(10), WAIT);
    let settled = settle(b);

    // The reader scrolls up to read something else: playback moving on does not pull them
    // back.
    b.wheel(900, 400, -400); // over the transcript
    b.wait_for(
        "the wheel to scroll",
        &format!("window.scrollY < {settled}"),
        WAIT,
    );
    let y = settle(b);
    b.exec(
        "document.getElementById('player').currentTime = arguments[0];",
        json!([paragraph_middle(m, 0)]),
    );
    b.wait_for(
        "p1 to be highlighted",
        "document.getElementById('p1').classList.contains('current')",
        WAIT,
    );
    assert_eq!(settle(b), y, "the page moved under the reader");
}

/// Waits for a (smooth) scroll to end and returns the page's scroll position.
fn settle(b: &mut Browser) -> f64 {
    let mut last = f64::NAN;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(150));
        let y = secs(&b.eval("window.scrollY"));
        if y == last {
            return y;
        }
        last = y;
    }
    panic!("the page keeps scrolling");
}

#[test]
fn the_player_page_works_from_a_file_url() {
    if !browser_available() {
        return;
    }
    let env = TestEnv::new();
    let m = sample_site(&env);
    let out = env.path().join("out");
    let mut b = Browser::start(1280, 900);
    let url = file_url(&out.join("us-iraq-dialogue.html"));
    b.goto(&url);
    check_duration(&mut b, &m);
    check_chapter_list(&mut b, &m);
    check_fallback_links(&mut b, &out);
    // The current chapter is known from the embedded data, though file:// blocks the .vtt.
    assert_eq!(
        b.eval("document.getElementById('chapters-track').track.mode"),
        json!("hidden")
    );
    assert_eq!(
        b.eval("document.getElementById('no-seek').hidden"),
        json!(true)
    );
    check_seeking_and_highlights(&mut b, &m);
    check_keyboard(&mut b, &m, &url);
    check_follow_scrolling(&mut b, &m);

    // Screenshots with paragraph 3 being spoken.
    b.exec(
        "window.scrollTo(0, 0); document.activeElement.blur(); \
         document.getElementById('player').currentTime = arguments[0];",
        json!([paragraph_middle(&m, 2)]),
    );
    b.wait_for(
        "paragraph 3",
        "document.getElementById('p3').classList.contains('current')",
        WAIT,
    );
    b.viewport(1280, 800, false);
    b.exec("window.scrollTo(0, 0);", json!([]));
    b.screenshot(&screenshots().join("player-desktop.png"));
    b.viewport(390, 844, true);
    let width = b.eval("[window.innerWidth, document.documentElement.scrollWidth]");
    assert_eq!(width, json!([390, 390]), "no sideways scrolling on a phone");
    b.exec("window.scrollTo(0, 0);", json!([]));
    b.screenshot(&screenshots().join("player-phone.png"));
    // Further down: the player stays on top of the transcript.
    b.exec(
        "document.getElementById('p3').scrollIntoView({block: 'center'});",
        json!([]),
    );
    let covered = b.eval(
        "document.querySelector('.player').getBoundingClientRect().top === 0 && \
         document.elementFromPoint(195, 20).closest('.player') !== null",
    );
    assert_eq!(
        covered,
        json!(true),
        "the player sticks to the top on a phone"
    );
    b.screenshot(&screenshots().join("player-phone-transcript.png"));
    b.exec("window.scrollTo(0, 0);", json!([]));
    b.color_scheme("dark");
    let bg = b.eval("getComputedStyle(document.body).backgroundColor");
    assert_eq!(bg, json!("rgb(18, 18, 18)"), "the dark scheme applies");
    b.screenshot(&screenshots().join("player-phone-dark.png"));
    b.viewport(1280, 800, false);
    b.exec("window.scrollTo(0, 0);", json!([]));
    b.screenshot(&screenshots().join("player-desktop-dark.png"));
}

#[test]
fn the_player_page_works_over_http_with_range_requests() {
    if !browser_available() {
        return;
    }
    let env = TestEnv::new();
    let m = sample_site(&env);
    let server = StaticServer::start(&env.path().join("out"));
    let mut b = Browser::start(1280, 900);
    b.goto(&format!("{}/us-iraq-dialogue.html", server.base));
    check_duration(&mut b, &m);
    assert!(
        server.partial_responses() > 0,
        "the browser did not use Range requests"
    );
    check_chapter_list(&mut b, &m);
    check_fallback_links(&mut b, &env.path().join("out"));
    b.wait_for(
        "the audio to be playable",
        "document.getElementById('player').readyState >= 3",
        WAIT,
    );
    assert_eq!(
        b.eval("document.getElementById('no-seek').hidden"),
        json!(true),
        "the server supports ranges: no warning"
    );

    // Over HTTP the <track> loads too: the same chapters as the page's list.
    b.wait_for(
        "the chapters track",
        "document.getElementById('chapters-track').readyState === 2",
        WAIT,
    );
    let cues = b.eval(
        "Array.from(document.getElementById('chapters-track').track.cues).map(c => [c.text, c.startTime])",
    );
    let cues = cues.as_array().unwrap();
    let chapters = m["chapters"].as_array().unwrap();
    assert_eq!(cues.len(), chapters.len());
    for (cue, c) in cues.iter().zip(chapters) {
        assert_eq!(cue[0], c["title"]);
        assert!((secs(&cue[1]) - secs(&c["start_seconds"])).abs() < 0.0015);
    }

    // Real playback: click chapter 3, and the time moves on from its start with chapter 3
    // highlighted.
    let link = b.find("#chapter-list a[data-chapter=\"3\"]");
    b.click(&link);
    let start = chapter_start(&m, 3);
    b.wait_for(
        "playback to move on",
        &format!(
            "document.getElementById('player').currentTime > {}",
            start + 0.3
        ),
        WAIT,
    );
    assert_eq!(
        b.eval("document.getElementById('player').paused"),
        json!(false)
    );
    let (chapter, _, paragraph, _) = highlighted(&mut b);
    assert_eq!((chapter, paragraph), (3, 3));

    // The index: every link works.
    b.goto(&format!("{}/index.html", server.base));
    let links = b.eval("Array.from(document.querySelectorAll('main a[href]')).map(a => a.href)");
    let links = links.as_array().unwrap();
    assert_eq!(links.len(), 4, "{links:?}"); // two pages, two WAVs
    b.screenshot(&screenshots().join("index-desktop.png"));
    for link in links {
        let status = b.exec(
            "return fetch(arguments[0], {method: 'HEAD'}).then(r => r.status);",
            json!([link]),
        );
        assert_eq!(status, json!(200), "{link}");
    }
}

#[test]
fn over_a_server_without_ranges_the_page_says_why_it_cannot_seek() {
    if !browser_available() {
        return;
    }
    let env = TestEnv::new();
    let m = sample_site(&env);
    let server = StaticServer::start_ignoring_ranges(&env.path().join("out"));
    let mut b = Browser::start(1280, 900);
    b.goto(&format!("{}/us-iraq-dialogue.html", server.base));
    check_duration(&mut b, &m); // the WAV header still gives the duration
    b.wait_for(
        "the note about seeking",
        "!document.getElementById('no-seek').hidden",
        WAIT,
    );
    assert_eq!(server.partial_responses(), 0);
    b.screenshot(&screenshots().join("player-without-ranges.png"));
    // A chapter click does not restart the audio from the beginning.
    stub_play(&mut b);
    let link = b.find("#chapter-list a[data-chapter=\"5\"]");
    b.click(&link);
    assert_eq!(b.eval("window.__plays"), json!(0));
    assert_eq!(b.eval("location.pathname"), json!("/us-iraq-dialogue.html"));
}

#[test]
fn markup_in_titles_and_text_renders_as_text() {
    if !browser_available() {
        return;
    }
    let env = TestEnv::new();
    // A file name can carry markup (no slash, so no `</script>`); the text can carry anything.
    let name = "<img src=x onerror=window.pwned=1> & \"q\"";
    let text = "</script><script>window.pwned=2</script> <b>bold</b> & <img src=y onerror=\"window.pwned=3\"> <!-- c";
    // One paragraph per line: the first line is text, not a title, so the file name titles it.
    env.write(&format!("in/{name}.txt"), format!("{text}\nSecond."));
    env.mock_convert(&["in", "-o", "out", "-q"])
        .assert()
        .success();
    let out = env.path().join("out");
    let page = out.join(format!("{name}.html"));
    assert!(page.is_file());

    // The same page made by the library with a title that tries to close the script.
    let evil_title = "</script><img src=x onerror=window.pwned=4><script>window.pwned=5</script>";
    let mut m: aloud::manifest::Manifest =
        serde_json::from_slice(&env.read(&format!("out/{name}.json"))).unwrap();
    m.title = evil_title.to_string();
    m.chapters[0].title = evil_title.to_string();
    let audio = [aloud::html::AudioFile {
        name: m.files.wav.clone().unwrap(),
        mime: "audio/wav".into(),
        bytes: 1,
        duration_ms: 1,
    }];
    env.write("out/evil.html", aloud::html::article_page(&m, &audio));

    let mut b = Browser::start(1280, 900);
    let check = |b: &mut Browser, url: String, title: &str| {
        b.goto(&url);
        let v = b.eval(
            "({pwned: window.pwned === undefined ? null : window.pwned, \
              img: document.querySelectorAll('img').length, \
              b: document.querySelectorAll('b').length, \
              scripts: document.scripts.length, \
              h1: document.querySelector('h1').textContent, \
              title: document.title, \
              p1: document.querySelector('#p1 p') && document.querySelector('#p1 p').textContent, \
              chapter: document.querySelector('#chapter-list .title') && document.querySelector('#chapter-list .title').textContent})",
        );
        assert_eq!(v["pwned"], Value::Null, "{url}: {v}");
        assert_eq!(v["img"], json!(0), "{url}: {v}");
        assert_eq!(v["b"], json!(0), "{url}: {v}");
        assert_eq!(v["h1"], json!(title), "{url}: {v}");
        v
    };
    let v = check(&mut b, file_url(&page), name);
    assert_eq!(v["scripts"], json!(2), "only the page's data and code: {v}");
    assert_eq!(v["p1"], json!(text));
    let v = check(&mut b, file_url(&out.join("evil.html")), evil_title);
    assert_eq!(v["scripts"], json!(2), "{v}");
    assert_eq!(v["chapter"], json!(evil_title));
    assert!(v["title"].as_str().unwrap().starts_with(evil_title), "{v}");
    // The index carries the title too.
    b.goto(&file_url(&out.join("index.html")));
    let v = b.eval(
        "[document.querySelectorAll('img').length, document.querySelector('main h2').textContent, window.pwned === undefined]",
    );
    assert_eq!(v, json!([0, name, true]));
    // A link to the page with a file name full of markup still leads to the file.
    let href = b.eval("document.querySelector('main h2 a').href");
    let href = href.as_str().unwrap();
    assert!(!href.contains('<') && !href.contains('"'), "{href}");
}

/// The compressed files play in Chromium: each `<source>` type is one it can play, the page
/// offers them smallest first, and each file alone, served with `Range` support, loads with
/// the manifest's duration and plays.
#[test]
fn chromium_plays_the_mp3_opus_and_m4b_sources() {
    if !browser_available() || !require("ffmpeg") {
        return;
    }
    let env = TestEnv::new();
    let out = crate::publish::published_site(&env);
    let m = env.manifest("out/us-iraq-dialogue.json");
    let server = StaticServer::start(&out);
    let mut b = Browser::start(1280, 900);
    b.goto(&format!("{}/us-iraq-dialogue.html", server.base));
    check_duration(&mut b, &m);
    let sources = b.eval(
        "Array.from(document.querySelectorAll('audio > source')).map(s => [s.getAttribute('src'), s.type, document.getElementById('player').canPlayType(s.type)])",
    );
    let sources = sources.as_array().unwrap();
    assert_eq!(sources.len(), 4, "{sources:?}");
    let size = |v: &Value| {
        std::fs::metadata(out.join(v.as_str().unwrap()))
            .unwrap()
            .len()
    };
    for pair in sources.windows(2) {
        assert!(
            size(&pair[0][0]) <= size(&pair[1][0]),
            "smallest first: {sources:?}"
        );
    }
    for s in sources {
        let can = s[2].as_str().unwrap();
        assert!(can == "probably" || can == "maybe", "{s}");
    }
    // The browser takes the first source, the smallest.
    let current = b.eval("document.getElementById('player').currentSrc");
    assert!(
        current
            .as_str()
            .unwrap()
            .ends_with(sources[0][0].as_str().unwrap()),
        "{current}"
    );

    for file in [
        "us-iraq-dialogue.mp3",
        "us-iraq-dialogue.opus",
        "us-iraq-dialogue.m4b",
    ] {
        b.exec(
            "const p = document.getElementById('player'); p.pause(); \
             p.querySelectorAll('source').forEach(s => s.remove()); \
             p.src = arguments[0]; p.muted = true; p.load();",
            json!([file]),
        );
        b.wait_for(
            &format!("{file}'s metadata"),
            "document.getElementById('player').readyState >= 1",
            WAIT,
        );
        let duration = secs(&b.eval("document.getElementById('player').duration"));
        let expected = secs(&m["duration_seconds"]);
        assert!(
            (duration - expected).abs() <= 0.1,
            "{file}: the player says {duration} s, the manifest {expected} s"
        );
        // Seek to chapter 3 and play: the time moves on from there.
        let start = chapter_start(&m, 3);
        b.exec(
            "const p = document.getElementById('player'); p.currentTime = arguments[0]; p.play();",
            json!([start]),
        );
        b.wait_for(
            &format!("{file} to play"),
            &format!(
                "document.getElementById('player').currentTime > {}",
                start + 0.5
            ),
            WAIT,
        );
        assert_eq!(
            b.eval("document.getElementById('player').error"),
            Value::Null,
            "{file}"
        );
    }
    assert!(server.partial_responses() > 0);
}

/// With the library engine's word timings: seeking to a word's start highlights exactly that
/// word in the transcript, and a click on a word plays from its start.
#[test]
fn seeking_to_a_words_start_highlights_that_word() {
    if !(browser_available() && require("espeak-ng")) {
        return;
    }
    let env = TestEnv::new();
    let m = sample_run(&env, &["-q"]);
    assert_eq!(m["timing"], "word");
    let rate = m["sample_rate"].as_f64().unwrap();
    let mut b = Browser::start(1280, 900);
    b.goto(&file_url(&env.path().join("out/us-iraq-dialogue.html")));
    check_duration(&mut b, &m);
    stub_play(&mut b);
    let spans = b.eval("document.querySelectorAll('.transcript span.w').length");
    assert!(spans.as_u64().unwrap() > 100, "{spans}");
    let mut checked = 0;
    for (k, p) in m["paragraphs"].as_array().unwrap().iter().enumerate() {
        if ![1usize, 4, 9].contains(&k) {
            continue;
        }
        let text = p["text"].as_str().unwrap();
        let words: Vec<&Value> = p["words"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["text"].is_array())
            .collect();
        for w in [words[0], words[words.len() / 2], words[words.len() - 1]] {
            let r = w["text"].as_array().unwrap();
            let written = &text[r[0].as_u64().unwrap() as usize..r[1].as_u64().unwrap() as usize];
            let start = frames_to_seconds(w["start_frame"].as_u64().unwrap(), rate);
            b.exec(
                "document.getElementById('player').currentTime = arguments[0];",
                json!([start]),
            );
            b.wait_for(
                &format!("{written:?} to be highlighted"),
                &format!(
                    "(() => {{ const s = document.querySelectorAll('.transcript span.w.spoken'); \
                     return s.length === 1 && s[0].textContent === {} && \
                     s[0].closest('.para').id === 'p{}'; }})()",
                    json!(written),
                    k + 1
                ),
                WAIT,
            );
            checked += 1;
        }
        // A click on the word (the last one, highlighted now) seeks to its start and plays.
        b.exec(
            "document.getElementById('player').currentTime = 0;",
            json!([]),
        );
        let w = words[words.len() - 1];
        let start = frames_to_seconds(w["start_frame"].as_u64().unwrap(), rate);
        let plays = b.eval("window.__plays").as_u64().unwrap();
        b.exec(
            "const s = document.querySelectorAll('.para#p' + arguments[0] + ' span.w'); s[s.length - 1].click();",
            json!([k + 1]),
        );
        assert!((current_time(&mut b) - start).abs() <= 0.002);
        assert_eq!(b.eval("window.__plays").as_u64().unwrap(), plays + 1);
    }
    assert_eq!(checked, 9);
    // The screenshot shows the highlighted word (playback is stubbed, so the page's own
    // follow-scrolling has not moved it into view).
    b.exec(
        "document.querySelector('.transcript span.w.spoken').scrollIntoView({block: 'center'});",
        json!([]),
    );
    b.screenshot(&screenshots().join("player-word-highlight.png"));
}

/// Frames to seconds rounded to the millisecond, as the page does.
fn frames_to_seconds(frames: u64, rate: f64) -> f64 {
    ((frames as f64 * 1000.0 / rate).round()) / 1000.0
}
