//! A saved web page → the article's blocks, the way reader modes see it.
//!
//! 1. What is never article text is removed from the page: scripts, styles, `noscript`,
//!    forms and buttons, navigation, site headers and footers, asides, the fallback content
//!    inside `<audio>`/`<video>`/`<object>` (where "Your browser doesn't support HTML5" lives),
//!    and short elements whose class or id names them share bars, cookie notices, newsletter
//!    boxes, related stories or ads.
//! 2. The main article is found with `dom_smoothie` (a port of Mozilla's Readability), which
//!    also gives the title (`h1`, `og:title`, `<title>`), byline and date. Sections of the
//!    kept part's shape that Readability dropped are read back in (`with_dropped_sections`).
//! 3. Its blocks are read in document order: headings, paragraphs, list items, block quotes
//!    and table rows; `pre` is recorded as skipped code. Entities are decoded by the parser;
//!    `<br>` and block boundaries become spaces, inline elements join their text as written.
//!
//! Every walk here is iterative, so deeply nested markup cannot overflow the stack; pages
//! nested deeper than Readability can safely handle skip step 2 and are read whole.

use super::outline::Parsed;
use super::{BlockKind, Paragraph, Skipped};
use dom_query::{Document, NodeId, NodeRef};
use std::collections::{HashMap, HashSet};

/// Elements whose content is never spoken.
const NEVER_SPOKEN: &str = "script, style, noscript, template, svg, math, canvas, iframe, object, embed, \
     audio, video, picture, map, form, button, input, select, textarea, nav, aside, dialog, \
     figcaption, [hidden], [aria-hidden=true], [role=navigation], [role=banner], \
     [role=contentinfo], [role=complementary], [role=search], [role=dialog], [role=alert], \
     [style*='display:none'], [style*='display: none'], [style*='visibility:hidden'], \
     [style*='visibility: hidden']";

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

/// Parses a saved HTML page.
pub fn parse(html: &str) -> Parsed {
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
    let article = if depth <= MAX_READABILITY_DEPTH {
        let cfg = dom_smoothie::Config {
            char_threshold: 200,
            ..Default::default()
        };
        // Readability works on a copy: the cleaned page itself is read below too.
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
    if parsed.title.is_none() {
        parsed.title = og_title.or_else(|| {
            let t = doc.select("title").text().to_string();
            Some(t).filter(|t| !t.trim().is_empty())
        });
    }
    parsed.author = parsed.author.or(fallback_author);
    parsed.date = parsed.date.or(fallback_date);
    parsed.language = language;
    // The document's <title> is metadata, not text.
    doc.select("head, title").remove();
    let mut page = Blocks::default();
    read_blocks(&doc.root(), &mut page);
    let blocks = match article {
        Some(article) => {
            article.select("head, title").remove();
            let mut kept = Blocks::default();
            read_blocks(&article.root(), &mut kept);
            with_dropped_sections(kept, page)
        }
        None => page,
    };
    parsed.blocks = blocks.blocks;
    parsed.skipped = blocks.skipped;
    parsed
}

/// Blocks read from a page, each with the element it came from (in the page it was read from).
#[derive(Default)]
struct Blocks<'a> {
    blocks: Vec<Paragraph>,
    skipped: Vec<Skipped>,
    origins: Vec<NodeRef<'a>>,
}

/// Below this share of the page's words, Readability is taken to have kept one section of a
/// page whose sections are alike, rather than an article out of its surroundings.
const KEPT_SHARE_OF_SIMPLE_PAGE: f64 = 2.0 / 3.0;

/// Readability keeps the best-scoring part of a page, and those of its siblings that score
/// well enough. On a simple page whose sections are sibling elements of one shape, each with
/// little text (`<div><h2/><p/></div>` twice, a row of `<section>`s), it keeps one section and
/// drops the others, silently. This puts them back, read from the cleaned `page`, in document
/// order:
/// - a section between two that Readability kept, when it has the same element and class as
///   one of them and is prose (few links);
/// - when what Readability kept is less than two thirds of the page's words: the siblings of
///   the element holding what it kept (or of the nearest ancestor that has such siblings)
///   that have its element and class and are prose, with that element's own dropped blocks
///   (its heading, say).
///
/// Sections of another shape (a comment thread, a list of related stories) stay dropped.
fn with_dropped_sections<'a>(kept: Blocks<'_>, page: Blocks<'a>) -> Blocks<'a> {
    // Where each kept block is in the page: the next page block with the same text.
    let norm = |p: &Paragraph| super::normalize_whitespace(&p.text);
    let mut at: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, b) in page.blocks.iter().enumerate().rev() {
        at.entry(norm(b)).or_default().push(i);
    }
    let mut found: Vec<Option<usize>> = Vec::with_capacity(kept.blocks.len());
    let mut next = 0;
    for b in &kept.blocks {
        let hit = at.get_mut(&norm(b)).and_then(|list| {
            while list.last().is_some_and(|&i| i < next) {
                list.pop();
            }
            list.pop()
        });
        if let Some(i) = hit {
            next = i + 1;
        }
        found.push(hit);
    }
    // How many kept blocks each element of the page holds; the holder holds them all.
    let mut holds: HashMap<NodeId, usize> = HashMap::new();
    let kept_origins = found.iter().flatten().map(|&i| page.origins[i]);
    for origin in kept_origins.clone() {
        for a in self_and_ancestors(origin) {
            *holds.entry(a.id).or_default() += 1;
        }
    }
    let all = kept_origins.clone().count();
    let holds_kept = |n: &NodeRef| holds.contains_key(&n.id);
    let Some(holder) = kept_origins
        .clone()
        .next()
        .and_then(|o| self_and_ancestors(o).find(|a| a.is_element() && holds[&a.id] == all))
    else {
        return adopt(kept);
    };
    let words = |blocks: &[Paragraph]| -> usize {
        blocks
            .iter()
            .map(|b| b.text.split_whitespace().count())
            .sum()
    };
    let small =
        (words(&kept.blocks) as f64) < KEPT_SHARE_OF_SIMPLE_PAGE * words(&page.blocks) as f64;

    // The sections to read back in (their blocks are the page's blocks inside them).
    let mut sections: Vec<NodeRef> = Vec::new();
    let children = holder.element_children();
    let with_kept: Vec<&NodeRef> = children.iter().filter(|c| holds_kept(c)).collect();
    if with_kept.len() >= 2 {
        let (first, last) = (with_kept[0].id, with_kept[with_kept.len() - 1].id);
        let span = children
            .iter()
            .skip_while(|c| c.id != first)
            .take_while(|c| c.id != last);
        sections.extend(span.filter(|c| {
            !holds_kept(c)
                && is_section(c)
                && with_kept.iter().any(|k| same_shape(c, k))
                && is_prose(c)
        }));
    }
    if small {
        let mut level = holder;
        while let Some(parent) = level.parent().filter(|p| p.is_element()) {
            let alike: Vec<NodeRef> = if is_section(&level) {
                let siblings = parent.element_children().into_iter();
                siblings
                    .filter(|s| s.id != level.id && same_shape(s, &level) && is_prose(s))
                    .collect()
            } else {
                Vec::new()
            };
            if !alike.is_empty() {
                sections.push(level);
                sections.extend(alike);
                break;
            }
            if matches!(name(&parent).as_str(), "body" | "html") {
                break;
            }
            level = parent;
        }
    }
    if sections.is_empty() {
        return adopt(kept);
    }

    // Merge: kept blocks where Readability had them, the sections' other blocks where the
    // page has them. A kept block not found in the page stays after the one before it.
    let matched: HashSet<usize> = found.iter().flatten().copied().collect();
    let sections: HashSet<NodeId> = sections.iter().map(|s| s.id).collect();
    let mut order: Vec<((usize, usize), Paragraph, bool)> = Vec::new();
    let (mut last, mut behind) = (0, 0);
    for (b, hit) in kept.blocks.into_iter().zip(&found) {
        match hit {
            Some(i) => (last, behind) = (i + 1, 0),
            None => behind += 1,
        }
        order.push(((last, behind), b, true));
    }
    for (i, (b, origin)) in page.blocks.into_iter().zip(&page.origins).enumerate() {
        let inside = self_and_ancestors(*origin).any(|a| sections.contains(&a.id));
        if inside && !matched.contains(&i) {
            order.push(((i + 1, 0), b, false));
        }
    }
    order.sort_by_key(|(key, _, _)| *key);
    // Skipped content (code) keeps its place before the kept block it came before.
    let mut new_index = Vec::with_capacity(order.len() + 1);
    for (n, (_, _, from_kept)) in order.iter().enumerate() {
        if *from_kept {
            new_index.push(n);
        }
    }
    new_index.push(order.len());
    let skipped = kept
        .skipped
        .into_iter()
        .map(|s| Skipped {
            before_paragraph: new_index[s.before_paragraph],
            ..s
        })
        .collect();
    Blocks {
        blocks: order.into_iter().map(|(_, b, _)| b).collect(),
        skipped,
        origins: Vec::new(),
    }
}

/// Kept blocks as they are (their origins are in another document).
fn adopt<'a>(kept: Blocks<'_>) -> Blocks<'a> {
    Blocks {
        blocks: kept.blocks,
        skipped: kept.skipped,
        origins: Vec::new(),
    }
}

/// `node`, its parent, and so on up to the document.
fn self_and_ancestors<'a>(node: NodeRef<'a>) -> impl Iterator<Item = NodeRef<'a>> {
    std::iter::successors(Some(node), |n| n.parent())
}

/// An element made of blocks (a `div` of a heading and paragraphs), not a paragraph: what
/// Readability drops from inside the part it keeps (an empty or hidden paragraph) stays dropped.
fn is_section(node: &NodeRef<'_>) -> bool {
    node.element_children()
        .iter()
        .any(|c| is_block(&name(c)) && name(c) != "hr")
}

/// Class or id parts of what sits beside an article without being part of it: a section
/// named so is never read back in, however long (short ones are already gone as chrome).
const BESIDE_ARTICLE: &[&str] = &[
    "comment",
    "communit",
    "disqus",
    "repl",
    "remark",
    "discuss",
    "sidebar",
    "footer",
    "header",
    "menu",
    "related",
    "recommend",
    "sponsor",
    "social",
    "share",
    "pagination",
    "pager",
    "popup",
    "banner",
    "promo",
    "advert",
    "newsletter",
    "subscribe",
    "cookie",
    "more-",
];

/// Same element, same classes: sections of one template (and not a comment thread or the
/// like that happens to share the article's bare `<div>`).
fn same_shape(a: &NodeRef<'_>, b: &NodeRef<'_>) -> bool {
    let class = |n: &NodeRef| n.attr("class").unwrap_or_default().trim().to_string();
    let names = format!("{} {}", class(a), a.attr("id").unwrap_or_default()).to_lowercase();
    name(a) == name(b)
        && class(a) == class(b)
        && !is_chrome(a)
        && !BESIDE_ARTICLE.iter().any(|w| names.contains(w))
}

/// Text that is not mostly links: under a quarter of its characters inside `<a>`.
fn is_prose(node: &NodeRef<'_>) -> bool {
    let chars = |n: &NodeRef| super::normalize_whitespace(&n.text()).chars().count();
    let total = chars(node);
    let linked: usize = node
        .descendants_it()
        .filter(|d| name(d) == "a")
        .map(|a| chars(&a))
        .sum();
    total > 0 && linked * 4 < total
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
    Flush(NodeRef<'a>, Ctx),
}

/// Walks the content in document order, emitting a block for every run of inline content.
fn read_blocks<'a>(root: &NodeRef<'a>, out: &mut Blocks<'a>) {
    let mut pending = String::new();
    let mut stack = vec![Step::Visit(*root, Ctx::Text)];
    while let Some(step) = stack.pop() {
        let (node, ctx) = match step {
            Step::Flush(container, ctx) => {
                push(out, &mut pending, ctx.kind(), container);
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
        push(out, &mut pending, ctx.kind(), node.parent().unwrap_or(node));
        if let Some(level) = heading(&tag) {
            let text = inline_text(&node);
            push(out, &mut text.clone(), BlockKind::Heading(level), node);
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
            push(out, &mut cells.join(", "), ctx.kind(), node);
            continue;
        }
        let inner = match tag.as_str() {
            "blockquote" => Ctx::Quote,
            "li" | "dd" | "dt" => Ctx::List,
            _ => ctx,
        };
        stack.push(Step::Flush(node, inner));
        let children: Vec<NodeRef> = node.children_it(true).collect();
        stack.extend(children.into_iter().map(|c| Step::Visit(c, inner)));
    }
    push(out, &mut pending, BlockKind::Text, *root);
}

/// Ends the block collected in `text`, which came from the element `origin`.
fn push<'a>(out: &mut Blocks<'a>, text: &mut String, kind: BlockKind, origin: NodeRef<'a>) {
    if !text.trim().is_empty() {
        out.blocks.push(Paragraph {
            text: std::mem::take(text),
            kind,
        });
        out.origins.push(origin);
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
        parse(html)
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

    /// Words of prose: `n` of them, starting with `tag`, ending a sentence.
    fn prose(tag: &str, n: usize) -> String {
        let words = [
            "quiet", "river", "morning", "lantern", "harbour", "letters", "garden",
        ];
        let body: Vec<&str> = (0..n).map(|i| words[i % words.len()]).collect();
        format!("{tag} {}.", body.join(" "))
    }

    fn texts(html: &str) -> Vec<String> {
        blocks(html).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn short_sibling_sections_of_one_shape_are_all_read() {
        // Readability keeps one of these sections (each scores below its sibling threshold).
        for class in ["", " class=\"part\""] {
            let sections: String = (1..=3)
                .map(|i| {
                    format!(
                        "<div{class}><h2>Part {i}</h2><p>{}</p></div>",
                        prose("Alpha", 18)
                    )
                })
                .collect();
            let page = format!("<html><head><title>T</title></head><body>{sections}</body></html>");
            let b = blocks(&page);
            let headings: Vec<&str> = b
                .iter()
                .filter(|(_, k)| matches!(k, BlockKind::Heading(2)))
                .map(|(t, _)| t.as_str())
                .collect();
            assert_eq!(headings, ["Part 1", "Part 2", "Part 3"], "{class}: {b:?}");
            assert_eq!(b.len(), 6, "{class}: {b:?}");
        }
    }

    #[test]
    fn a_short_section_between_kept_ones_is_read_in_its_place() {
        let long = |h: &str| {
            format!(
                "<div><h2>{h}</h2><p>{}</p><p>{}</p></div>",
                prose("One, two, three,", 70),
                prose("Four, five,", 70)
            )
        };
        let short = format!("<div><h2>Middle</h2><p>{}</p></div>", prose("Brief", 8));
        let page = format!(
            "<html><head><title>T</title></head><body><main>{}{short}{}</main></body></html>",
            long("First"),
            long("Last")
        );
        let t = texts(&page);
        let at = |needle: &str| t.iter().position(|x| x.starts_with(needle));
        assert!(at("Middle").is_some(), "{t:?}");
        assert!(
            at("First") < at("Middle") && at("Brief") < at("Last"),
            "{t:?}"
        );
    }

    #[test]
    fn a_comment_thread_and_link_lists_beside_the_article_stay_dropped() {
        let paragraphs: String = (0..3)
            .map(|i| format!("<p>{}</p>", prose(&format!("Story{i}, and,"), 30)))
            .collect();
        let comments: String = (0..5)
            .map(|i| {
                format!(
                    "<div class=\"note\"><p>{}</p></div>",
                    prose(&format!("Reader{i}"), 30)
                )
            })
            .collect();
        let teasers: String = (0..4)
            .map(|i| {
                format!(
                    "<div class=\"card\"><h3><a href=\"/s{i}\">{}</a></h3></div>",
                    prose("Teaser", 6)
                )
            })
            .collect();
        // Readability keeps the story alone (it strips the replies by their id). The thread is a
        // bare `<div>` like the story's, with more words than the story, and stays dropped.
        let page = format!(
            "<body><div><h1>Headline</h1>{paragraphs}</div>\
             <div id=\"replies\">{comments}</div><div class=\"more\">{teasers}</div></body>"
        );
        let t = texts(&page);
        assert!(t.iter().any(|x| x.starts_with("Story2")), "{t:?}");
        assert!(
            !t.iter()
                .any(|x| x.starts_with("Reader") || x.starts_with("Teaser")),
            "{t:?}"
        );
    }

    #[test]
    fn hidden_paragraphs_are_never_spoken() {
        let t = texts(&format!(
            "<body><article><p>{}</p><p style=\"display: none\">Hidden one.</p>\
             <p style=\"visibility:hidden\">Hidden two.</p><p>{}</p></article></body>",
            prose("Seen,", 40),
            prose("Also seen,", 40)
        ));
        assert_eq!(t.len(), 2, "{t:?}");
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
            ))
            .title
        };
        let lang = parse("<html lang=\"fr-CA\"><body><p>Bonjour.</p></body></html>").language;
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
