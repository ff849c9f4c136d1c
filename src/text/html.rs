//! A saved web page → the article's blocks, the way reader modes see it.
//!
//! 1. What is never article text is removed from the page: scripts, styles, `noscript`,
//!    forms and buttons, navigation, site headers and footers, asides, the fallback content
//!    inside `<audio>`/`<video>`/`<object>` (where "Your browser doesn't support HTML5" lives),
//!    headings' permalink anchors (`¶`), citation markers (`[1]`), wiki "edit" links,
//!    and short elements whose class or id names them share bars, cookie notices, newsletter
//!    boxes, related stories or ads.
//! 2. The main article is found with `dom_smoothie` (a port of Mozilla's Readability), which
//!    also gives the title (`h1`, `og:title`, `<title>`), byline and date.
//! 3. Its blocks are read in document order: headings, paragraphs, list items, block quotes
//!    and table rows; `pre` is recorded as skipped code. Entities are decoded by the parser;
//!    `<br>` and block boundaries become spaces, inline elements join their text as written.
//!
//! Every walk here is iterative, so deeply nested markup cannot overflow the stack; pages
//! nested deeper than Readability can safely handle skip step 2 and are read whole.

use super::outline::Parsed;
use super::{BlockKind, HtmlReader, Paragraph, Skipped};
use dom_query::{Document, NodeRef};

/// Elements whose content is never spoken.
const NEVER_SPOKEN: &str = "script, style, noscript, template, svg, math, canvas, iframe, object, embed, \
     audio, video, picture, map, form, button, input, select, textarea, nav, aside, dialog, \
     figcaption, [hidden], [aria-hidden=true], [role=navigation], [role=banner], \
     [role=contentinfo], [role=complementary], [role=search], [role=dialog], [role=alert], \
     a.headerlink, a.header-anchor, a.anchor, a.anchorjs-link, sup.reference, .mw-editsection";

/// Class or id words of page chrome; an element matching one and holding little text goes.
const CHROME_WORDS: &[&str] = &[
    "share",
    "sharing",
    "social",
    "cookie",
    "consent",
    "gdpr",
    "newsletter",
    "subscribe",
    "signup",
    "sign-up",
    "related",
    "recommend",
    "promo",
    "advert",
    "ad-slot",
    "ads",
    "sponsor",
    "outbrain",
    "taboola",
    "comments",
    "comment-",
    "breadcrumb",
    "toolbar",
    "paywall",
    "modal",
    "popup",
    "banner",
    "masthead",
    "site-header",
    "site-footer",
    "skip-link",
    "byline",
    "dateline",
    "author",
    "timestamp",
    "published",
    "audio-player",
    "player",
    "tags",
    "more-stories",
];

/// Pages nested deeper than this skip Readability (whose walks recurse) and are read whole.
const MAX_READABILITY_DEPTH: usize = 256;

/// Parses a saved HTML page; `reader` says whether to look for the main article or read the
/// whole page.
pub fn parse(html: &str, reader: HtmlReader) -> Parsed {
    let doc = Document::from(html);
    let mut parsed = Parsed::default();

    let meta = |selector: &str, attr: &str| -> Option<String> {
        doc.select(selector)
            .nodes()
            .iter()
            .find_map(|n| n.attr(attr).map(|v| v.to_string()))
            .filter(|v| !v.trim().is_empty())
    };
    let fallback_date = meta("meta[property='article:published_time']", "content")
        .or_else(|| meta("time[datetime]", "datetime"));
    let fallback_author = meta("meta[name=author]", "content").or_else(|| byline(&doc));
    let og_title = meta("meta[property='og:title']", "content");
    let language = meta("html[lang]", "lang").or_else(|| meta("body[lang]", "lang"));
    let headlines: Vec<String> = doc
        .select("h1")
        .nodes()
        .iter()
        .map(|n| super::normalize_whitespace(&n.text()))
        .filter(|t| !t.is_empty())
        .collect();

    remove_page_chrome(&doc);
    let depth = max_depth(&doc.root());
    let content = if reader == HtmlReader::Article && depth <= MAX_READABILITY_DEPTH {
        let cfg = dom_smoothie::Config {
            char_threshold: 200,
            ..Default::default()
        };
        match dom_smoothie::Readability::with_document(doc.clone(), None, Some(cfg))
            .and_then(|mut r| r.parse())
        {
            Ok(article) => {
                parsed.title = Some(article.title.to_string())
                    .filter(|t| !t.trim().is_empty())
                    .map(|t| whole_headline(t, &headlines));
                parsed.author = article.byline.clone();
                parsed.date = article.published_time.clone();
                Some(Document::from(article.content.to_string()))
            }
            Err(_) => None,
        }
    } else {
        None
    };
    let content = content.unwrap_or(doc);
    if parsed.title.is_none() {
        parsed.title = og_title
            .or_else(|| {
                let t = content.select("title").text().to_string();
                Some(t).filter(|t| !t.trim().is_empty())
            })
            .map(|t| without_site_name(t, &headlines));
    }
    parsed.author = parsed.author.or(fallback_author);
    parsed.date = parsed.date.or(fallback_date);
    parsed.language = language;
    // The document's <title> is metadata, not text.
    content.select("head, title").remove();
    read_blocks(&content.root(), &mut parsed);
    parsed
}

/// Readability cuts a title at what looks like a site-name separator (`|`, `-`, `»`, `/`), and
/// sometimes inside the headline itself (`Fish & chips» yes` → `Fish & chips`): when the page
/// has a headline (`h1`) that starts with the cut title and goes on, that headline is the title.
fn whole_headline(title: String, headlines: &[String]) -> String {
    let cut = super::normalize_whitespace(&title);
    headlines
        .iter()
        .find(|h| h.len() > cut.len() && h.starts_with(&cut))
        .cloned()
        .unwrap_or(title)
}

/// A page's `<title>` is often its headline and the site's name (`The story – Example News`):
/// when the page has a headline (`h1`) that the title starts with, followed by a separator,
/// that headline is the title. (Readability does this for the article reader.)
fn without_site_name(title: String, headlines: &[String]) -> String {
    let whole = super::normalize_whitespace(&title);
    headlines
        .iter()
        .find(|h| {
            whole.strip_prefix(h.as_str()).is_some_and(|rest| {
                rest.trim_start()
                    .starts_with(['|', '-', '–', '—', ':', '·', '•', '»', '/'])
            })
        })
        .cloned()
        .unwrap_or(title)
}

/// The text of a short byline element (`class="byline"`, `rel="author"`, ...), without "By".
fn byline(doc: &Document) -> Option<String> {
    doc.select("[rel=author], [itemprop=author], .byline, .author, #byline")
        .nodes()
        .iter()
        .map(|n| super::normalize_whitespace(&n.text()))
        .find(|t| !t.is_empty() && t.chars().count() <= 100)
        .map(|t| {
            let lower = t.to_lowercase();
            if lower.starts_with("by ") {
                t[3..].trim().to_string()
            } else {
                t
            }
        })
}

fn remove_page_chrome(doc: &Document) {
    doc.select(NEVER_SPOKEN).remove();
    // Site headers and footers; an article's own header (its h1 and standfirst) stays.
    doc.select("footer").remove();
    for header in doc.select("header").nodes() {
        let in_article = header
            .ancestors_it(None)
            .any(|a| matches!(a.node_name().as_deref(), Some("article" | "main")));
        if !in_article {
            header.remove_from_parent();
        }
    }
    let marked: Vec<NodeRef> = doc
        .select("[class], [id]")
        .nodes()
        .iter()
        .filter(|n| {
            !matches!(
                n.node_name().as_deref(),
                Some("html" | "body" | "article" | "main")
            ) && is_chrome(n)
        })
        .cloned()
        .collect();
    for n in marked {
        if n.parent().is_some() && n.text().chars().count() < 400 {
            n.remove_from_parent();
        }
    }
}

fn is_chrome(n: &NodeRef<'_>) -> bool {
    let names = format!(
        "{} {}",
        n.attr("class").unwrap_or_default().to_lowercase(),
        n.attr("id").unwrap_or_default().to_lowercase()
    );
    names.split([' ', '_']).any(|token| {
        CHROME_WORDS.iter().any(|w| {
            if w.ends_with('-') {
                token.starts_with(w)
            } else {
                token == *w || token.split('-').any(|part| part == *w)
            }
        })
    })
}

fn max_depth(root: &NodeRef<'_>) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(*root, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if deepest > MAX_READABILITY_DEPTH {
            break;
        }
        stack.extend(
            node.children_it(false)
                .filter(|c| c.is_element())
                .map(|c| (c, depth + 1)),
        );
    }
    deepest
}

fn name(n: &NodeRef<'_>) -> String {
    n.node_name()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_block(tag: &str) -> bool {
    matches!(
        tag,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "details"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "li"
            | "main"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "table"
            | "tbody"
            | "thead"
            | "tfoot"
            | "tr"
            | "td"
            | "th"
            | "ul"
            | "summary"
            | "body"
            | "html"
            | "caption"
    )
}

fn heading(tag: &str) -> Option<u8> {
    match tag {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Context a block inherits from its ancestors.
#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Text,
    Quote,
    List,
}

impl Ctx {
    fn kind(self) -> BlockKind {
        match self {
            Ctx::Text => BlockKind::Text,
            Ctx::Quote => BlockKind::Quote,
            Ctx::List => BlockKind::ListItem,
        }
    }
}

enum Step<'a> {
    Visit(NodeRef<'a>, Ctx),
    /// Flush the inline text collected for this container.
    Flush(Ctx),
}

/// Walks the content in document order, emitting a block for every run of inline content.
fn read_blocks(root: &NodeRef<'_>, out: &mut Parsed) {
    let mut pending = String::new();
    let mut stack = vec![Step::Visit(*root, Ctx::Text)];
    while let Some(step) = stack.pop() {
        let (node, ctx) = match step {
            Step::Flush(ctx) => {
                push(out, &mut pending, ctx.kind());
                continue;
            }
            Step::Visit(node, ctx) => (node, ctx),
        };
        if node.is_text() {
            pending.push_str(&node.text());
            continue;
        }
        if !(node.is_element() || node.is_document() || node.is_fragment()) {
            continue;
        }
        let tag = name(&node);
        if tag == "br" {
            pending.push(' ');
            continue;
        }
        if !is_block(&tag) && !node.is_document() && !node.is_fragment() {
            // Inline element: its text joins the current run as written.
            pending.push_str(&inline_text(&node));
            continue;
        }
        // A block: what came before it is a block of its own.
        push(out, &mut pending, ctx.kind());
        if let Some(level) = heading(&tag) {
            let text = inline_text(&node);
            push(out, &mut text.clone(), BlockKind::Heading(level));
            continue;
        }
        if tag == "pre" {
            let text = inline_text(&node);
            if !text.trim().is_empty() {
                out.skipped.push(Skipped {
                    kind: "code".into(),
                    before_paragraph: out.blocks.len(),
                    text: text.trim_end().to_string(),
                });
            }
            continue;
        }
        if tag == "hr" {
            continue;
        }
        if tag == "tr" {
            let cells: Vec<String> = node
                .element_children()
                .iter()
                .map(|c| super::normalize_whitespace(&inline_text(c)))
                .filter(|c| !c.is_empty())
                .collect();
            push(out, &mut cells.join(", "), ctx.kind());
            continue;
        }
        let inner = match tag.as_str() {
            "blockquote" => Ctx::Quote,
            "li" | "dd" | "dt" => Ctx::List,
            _ => ctx,
        };
        stack.push(Step::Flush(inner));
        let children: Vec<NodeRef> = node.children_it(true).collect();
        stack.extend(children.into_iter().map(|c| Step::Visit(c, inner)));
    }
    push(out, &mut pending, BlockKind::Text);
}

fn push(out: &mut Parsed, text: &mut String, kind: BlockKind) {
    if !text.trim().is_empty() {
        out.blocks.push(Paragraph {
            text: std::mem::take(text),
            kind,
        });
    }
    text.clear();
}

/// The text of an element as one run: text nodes as written, `<br>` and nested blocks as
/// spaces. Iterative.
fn inline_text(node: &NodeRef<'_>) -> String {
    let mut out = String::new();
    let mut stack: Vec<(NodeRef, bool)> = node.children_it(true).map(|c| (c, false)).collect();
    while let Some((n, closing)) = stack.pop() {
        if closing {
            out.push(' ');
            continue;
        }
        if n.is_text() {
            out.push_str(&n.text());
        } else if n.is_element() {
            let tag = name(&n);
            if tag == "br" {
                out.push(' ');
                continue;
            }
            let block = is_block(&tag);
            if block {
                out.push(' ');
                stack.push((n, true));
            }
            stack.extend(n.children_it(true).map(|c| (c, false)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(html: &str) -> Vec<(String, BlockKind)> {
        parse(html, HtmlReader::Article)
            .blocks
            .into_iter()
            .map(|b| (super::super::normalize_whitespace(&b.text), b.kind))
            .collect()
    }

    #[test]
    fn entities_br_and_inline_elements_are_joined_with_the_right_spacing() {
        let b = blocks(
            "<body><p>Caf&eacute; &amp; bar<br>next&nbsp;line, <b>bold</b>er and <a href=x>a link</a>.</p></body>",
        );
        assert_eq!(
            b,
            [(
                "Caf\u{e9} & bar next line, bolder and a link.".into(),
                BlockKind::Text
            )]
        );
    }

    #[test]
    fn player_fallbacks_scripts_and_chrome_are_never_spoken() {
        let b = blocks(
            r#"<body><nav><a>Home</a></nav><header><p>Site name</p></header>
            <p>First.</p>
            <audio controls><source src=a.mp3>Your browser doesn't support HTML5 audio. <a href=a.mp3>Download</a></audio>
            <video>Your browser does not support the video tag.</video>
            <script>var x = "not text";</script><style>p{}</style><noscript>Enable JS</noscript>
            <div class="share-bar">Share this article</div>
            <div id="cookie-consent">We use cookies</div>
            <form><button>Subscribe</button></form>
            <p>Second.</p><footer>Copyright</footer></body>"#,
        );
        let texts: Vec<&str> = b.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(texts, ["First.", "Second."]);
    }

    #[test]
    fn permalink_anchors_citation_marks_and_edit_links_are_not_spoken() {
        let b = blocks(
            r##"<body><article><h2 id="a">Setup<a class="headerlink" href="#a">¶</a></h2>
            <p>First fact.<sup class="reference"><a href="#c1">[1]</a></sup> Second fact.</p>
            <div class="mw-heading"><h2>History</h2><span class="mw-editsection">[<a href="#">edit</a>]</span></div>
            <h3><a class="anchor" href="#x"></a>Usage<a class="header-anchor" href="#x">#</a></h3></article></body>"##,
        );
        assert_eq!(
            b,
            [
                ("Setup".into(), BlockKind::Heading(2)),
                ("First fact. Second fact.".into(), BlockKind::Text),
                ("History".into(), BlockKind::Heading(2)),
                ("Usage".into(), BlockKind::Heading(3)),
            ]
        );
    }

    #[test]
    fn structure_comes_through_in_order() {
        let b = blocks(
            "<body><h2>Part</h2><p>para</p><ul><li>one</li><li><p>two</p><ul><li>nested</li></ul></li></ul>\
             <blockquote><p>q1</p><p>q2</p></blockquote><blockquote>bare quote</blockquote>\
             <table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>\
             <pre>code here</pre><div>loose text</div></body>",
        );
        assert_eq!(
            b,
            [
                ("Part".into(), BlockKind::Heading(2)),
                ("para".into(), BlockKind::Text),
                ("one".into(), BlockKind::ListItem),
                ("two".into(), BlockKind::ListItem),
                ("nested".into(), BlockKind::ListItem),
                ("q1".into(), BlockKind::Quote),
                ("q2".into(), BlockKind::Quote),
                ("bare quote".into(), BlockKind::Quote),
                ("A, B".into(), BlockKind::Text),
                ("1, 2".into(), BlockKind::Text),
                ("loose text".into(), BlockKind::Text),
            ]
        );
    }

    #[test]
    fn the_page_reader_keeps_every_section_that_the_article_reader_drops() {
        // Short sibling sections: Readability keeps the best one and drops the others.
        let sections: String = (1..=3)
            .map(|i| format!("<div><h2>Part {i}</h2><p>Part {i} has one short paragraph of about twenty words, which is all it says here.</p></div>"))
            .collect();
        let page = format!(
            "<html><head><title>Handout</title></head><body><nav><a href=/>Home</a></nav>\
             {sections}<footer>School address</footer></body></html>"
        );
        let headings = |reader| -> Vec<String> {
            parse(&page, reader)
                .blocks
                .into_iter()
                .filter(|b| matches!(b.kind, BlockKind::Heading(_)))
                .map(|b| b.text)
                .collect()
        };
        assert!(headings(HtmlReader::Article).len() < 3);
        assert_eq!(headings(HtmlReader::Page), ["Part 1", "Part 2", "Part 3"]);
        let texts: Vec<String> = parse(&page, HtmlReader::Page)
            .blocks
            .into_iter()
            .map(|b| b.text)
            .collect();
        assert_eq!(texts.len(), 6, "{texts:?}");
        assert!(
            !texts
                .iter()
                .any(|t| t.contains("Home") || t.contains("School"))
        );
    }

    #[test]
    fn the_page_reader_titles_a_page_by_its_headline_without_the_site_name() {
        let title = |t: &str, h1: &str| {
            parse(
                &format!("<html><head><title>{t}</title></head><body><main><h1>{h1}</h1><p>Text.</p></main></body></html>"),
                HtmlReader::Page,
            )
            .title
        };
        assert_eq!(
            title("The Story – Example News", "The Story").as_deref(),
            Some("The Story")
        );
        assert_eq!(
            title("The Story | Example", "The Story").as_deref(),
            Some("The Story")
        );
        // Not a separator: the title stays whole.
        assert_eq!(
            title("The Story Continues", "The Story").as_deref(),
            Some("The Story Continues")
        );
    }

    #[test]
    fn deeply_nested_markup_does_not_overflow() {
        let html = format!(
            "{}<p>deep</p>{}",
            "<div>".repeat(10_000),
            "</div>".repeat(10_000)
        );
        let b = blocks(&html);
        assert_eq!(b, [("deep".into(), BlockKind::Text)]);
    }

    #[test]
    fn title_byline_and_date_come_from_the_page() {
        let p = parse(
            r#"<html><head><title>Story | Example News</title>
            <meta property="og:title" content="Story">
            <meta name="author" content="Jane Roe">
            <meta property="article:published_time" content="2024-05-01T10:00:00Z"></head>
            <body><article><h1>Story</h1><p>Body text of the story, long enough to count as an article for the reader.</p></article></body></html>"#,
            HtmlReader::Article,
        );
        assert!(
            p.title.as_deref().is_some_and(|t| t.starts_with("Story")),
            "{:?}",
            p.title
        );
        assert_eq!(p.author.as_deref(), Some("Jane Roe"));
        assert_eq!(p.date.as_deref(), Some("2024-05-01T10:00:00Z"));
    }

    #[test]
    fn a_headline_with_a_separator_in_it_is_not_cut() {
        let page = |title: &str, h1: &str| {
            parse(&format!(
                "<html><head><title>{title}</title></head><body><article><h1>{h1}</h1>\
                 <p>Premier paragraphe assez long pour être un article, avec une deuxième phrase ici.</p>\
                 <p>Another paragraph with enough words to be kept by the reader mode.</p></article></body></html>"
            ), HtmlReader::Article)
            .title
        };
        let lang = parse(
            "<html lang=\"fr-CA\"><body><p>Bonjour.</p></body></html>",
            HtmlReader::Article,
        )
        .language;
        assert_eq!(lang.as_deref(), Some("fr-CA"));
        let t = "L'été &amp; «la mer» &lt;3";
        assert_eq!(page(t, t).as_deref(), Some("L'été & «la mer» <3"));
        let t = "Fish &amp; chips» yes";
        assert_eq!(page(t, t).as_deref(), Some("Fish & chips» yes"));
        // A site name after a separator still goes when the headline does not carry it.
        assert_eq!(
            page(
                "The Long Story Of It | Example News",
                "The Long Story Of It"
            )
            .as_deref(),
            Some("The Long Story Of It")
        );
    }
}
