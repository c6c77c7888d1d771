//! HTML we publish: Markdown rendered with pulldown-cmark, then sanitised with
//! ammonia down to the subset Mastodon keeps (docs/interop.md §4). Headings become
//! `<p><strong>` because Mastodon would do that anyway, and images and tables
//! are dropped because Mastodon strips them.
//!
//! Nesting is capped before anything reaches the sanitiser: html5ever's tree
//! builder walks the stack of open elements for each tag, so a document
//! nested n deep costs O(n²) — 30,000 levels of `> ` (60 KB) took 6 s. Our
//! own Markdown is cut at [`MAX_NESTING`] while rendering; HTML from other
//! servers whose nesting is deeper than [`MAX_HTML_NESTING`] keeps its text
//! only. Both make sanitising linear in the input.

use std::{collections::HashSet, sync::LazyLock};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

/// Tags that survive Mastodon's sanitizer (`lib/sanitize_ext/sanitize_config.rb`).
const MASTODON_TAGS: &[&str] = &[
    "p",
    "br",
    "span",
    "a",
    "del",
    "s",
    "pre",
    "blockquote",
    "code",
    "b",
    "strong",
    "u",
    "i",
    "em",
    "ul",
    "ol",
    "li",
];

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(mastodon_subset);

fn mastodon_subset() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(MASTODON_TAGS.iter().copied().collect::<HashSet<_>>())
        .tag_attributes(
            [("a", ["href"].into_iter().collect::<HashSet<_>>())]
                .into_iter()
                .collect(),
        )
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("nofollow noopener noreferrer"))
        .strip_comments(true);
    builder
}

/// How deep rendered Markdown may nest (blockquotes, lists, emphasis…):
/// deeper elements give up their tags and keep their text.
pub const MAX_NESTING: usize = 24;

/// How deep HTML we sanitise may nest before it is reduced to its text.
pub const MAX_HTML_NESTING: usize = 64;

/// Markdown's events with every element deeper than [`MAX_NESTING`]
/// unwrapped: its start and end dropped, its contents kept.
fn capped<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    // For each open element, whether its start was let through.
    let mut open: Vec<bool> = Vec::new();
    let mut kept = 0usize;
    events.filter(move |event| match event {
        Event::Start(_) => {
            let keep = kept < MAX_NESTING;
            kept += usize::from(keep);
            open.push(keep);
            keep
        }
        Event::End(_) => {
            let keep = open.pop().unwrap_or(false);
            kept -= usize::from(keep);
            keep
        }
        _ => true,
    })
}

fn parse(markdown: &str) -> impl Iterator<Item = Event<'_>> {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    capped(Parser::new_ext(markdown, options))
}

/// Markdown to HTML in Mastodon's subset. Raw HTML in the input is sanitised
/// like the rest; images keep their alt text as plain text.
pub fn markdown_to_html(markdown: &str) -> String {
    let events = parse(markdown).map(|event| match event {
        Event::Start(Tag::Heading { .. }) => Event::Html("<p><strong>".into()),
        Event::End(TagEnd::Heading(_)) => Event::Html("</strong></p>".into()),
        // Code blocks are already `<pre><code>`; rules have no equivalent.
        Event::Rule => Event::Html("<p>⁂</p>".into()),
        other => other,
    });
    let mut raw = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut raw, events);
    sanitize(&raw)
}

/// Tags our own pages keep beyond Mastodon's subset: real headings (from
/// `h2`: the page's `h1` is the statement's title) and rules.
const PAGE_TAGS: &[&str] = &["h2", "h3", "h4", "h5", "h6", "hr"];

static PAGE_SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = mastodon_subset();
    builder.add_tags(PAGE_TAGS.iter().copied());
    builder
});

/// Markdown to HTML for a statement's web page: the same text as the
/// federated copy, with headings kept as headings, one level below the
/// page's title (`#` becomes `h2`), and rules as `hr`.
pub fn markdown_to_page_html(markdown: &str) -> String {
    use pulldown_cmark::HeadingLevel::*;
    let below = |level| match level {
        H1 => H2,
        H2 => H3,
        H3 => H4,
        H4 => H5,
        _ => H6,
    };
    let events = parse(markdown).map(|event| match event {
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: below(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(below(level))),
        other => other,
    });
    let mut raw = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut raw, events);
    clean(&PAGE_SANITIZER, &raw)
}

/// Markdown as plain text, paragraphs joined by spaces: for descriptions
/// (`og:description`, feed summaries) and the first lines on a card. Raw
/// HTML in the input is dropped, not shown.
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for event in Parser::new(markdown) {
        match event {
            Event::Text(text) | Event::Code(text) => out.push_str(&text),
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The start of `text`, at most `max` characters, cut at a word boundary
/// with an ellipsis when anything was left out.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(space) if space > max / 2 => &cut[..space],
        _ => &cut[..],
    };
    format!(
        "{}…",
        cut.trim_end_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
    )
}

/// Sanitises HTML to Mastodon's subset.
pub fn sanitize(html: &str) -> String {
    clean(&SANITIZER, html)
}

fn clean(sanitizer: &ammonia::Builder<'static>, html: &str) -> String {
    if nesting(html) > MAX_HTML_NESTING {
        // Too deep to build a tree of cheaply: keep the words, not the markup.
        return format!("<p>{}</p>", escape(&text_of_html(html)));
    }
    sanitizer.clean(html).to_string().trim().to_string()
}

/// An upper bound on how deep `html` nests, in one pass: start tags minus
/// end tags, void elements not counted. Unclosed `<p>`s count as open,
/// which only errs towards the safe side.
fn nesting(html: &str) -> usize {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    let bytes = html.as_bytes();
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'<') {
        i += offset + 1;
        let closing = bytes.get(i) == Some(&b'/');
        let name_start = i + usize::from(closing);
        let name_len = bytes[name_start.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        // A tag name starts with a letter (`1<2` is text).
        if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() {
            continue;
        }
        let name = &html[name_start..name_start + name_len];
        if closing {
            depth = depth.saturating_sub(1);
        } else if !VOID.iter().any(|v| v.eq_ignore_ascii_case(name)) {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

/// The text of HTML with every tag removed (entities left as written, then
/// escaped again by the caller: shown literally, never interpreted).
fn text_of_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes text for an HTML text node or attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A profile field's value as HTML: links for URLs (shown without the scheme,
/// as Mastodon does, with `rel="me"` for link verification), text otherwise.
pub fn field_value_html(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            let shown = value
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/');
            format!(
                r#"<a href="{href}" target="_blank" rel="nofollow noopener noreferrer me" translate="no">{shown}</a>"#,
                href = escape(url.as_str()),
                shown = escape(shown)
            )
        }
        _ => escape(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_mastodons_subset_only() {
        let html = markdown_to_html(
            "# Title\n\nSome *text* with a [link](https://x.org) and ![img](https://x.org/a.png).\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n",
        );
        assert!(html.starts_with("<p><strong>Title</strong></p>"), "{html}");
        assert!(html.contains("<em>text</em>"));
        assert!(
            html.contains(r#"<a href="https://x.org" rel="nofollow noopener noreferrer">link</a>"#),
            "{html}"
        );
        assert!(!html.contains("<img"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<table"));
        assert!(!html.contains("<h1"));
    }

    #[test]
    fn pages_keep_headings_below_the_title() {
        let html = markdown_to_page_html("# Part one\n\ntext\n\n---\n\n<script>x</script>");
        assert!(html.starts_with("<h2>Part one</h2>"), "{html}");
        assert!(html.contains("<hr>"), "{html}");
        assert!(!html.contains("<script") && !html.contains("<h1"), "{html}");
    }

    #[test]
    fn deep_nesting_is_cut_and_stays_linear() {
        // 30,000 levels took 6 s per page view before the cap.
        let deep = "> ".repeat(30_000) + "deep";
        for html in [markdown_to_html(&deep), markdown_to_page_html(&deep)] {
            assert_eq!(
                html.matches("<blockquote>").count(),
                MAX_NESTING,
                "{}",
                &html[..200]
            );
            assert!(html.contains("deep"));
        }
        let list = "- ".repeat(10_000) + "item";
        assert!(markdown_to_html(&list).matches("<ul>").count() <= MAX_NESTING);
        // Shallow documents are untouched.
        assert_eq!(
            markdown_to_html("> > quoted *twice*"),
            "<blockquote>\n<blockquote>\n<p>quoted <em>twice</em></p>\n</blockquote>\n</blockquote>"
        );
    }

    #[test]
    fn deeply_nested_html_keeps_only_its_text() {
        let hostile = "<b>".repeat(100_000) + "boo" + "<script>x</script>";
        let clean = sanitize(&hostile);
        assert_eq!(clean, "<p>boo x</p>");
        let fine = "<p>one <a href=\"https://x.org\">link</a><br>two</p>".repeat(200);
        assert_eq!(nesting(&fine), 2);
        assert!(sanitize(&fine).contains("<a href"));
        assert_eq!(nesting("<p><b>unclosed</p>"), 2);
        assert_eq!(nesting("a < b and 1<2 </>"), 0);
    }

    #[test]
    fn plain_text_and_excerpts() {
        let text =
            plain_text("# We\n\nexpress our **full** solidarity <b>now</b>.\n\n- one\n- two");
        assert_eq!(text, "We express our full solidarity now. one two");
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(
            excerpt("the working people of Kazakhstan", 20),
            "the working people…"
        );
    }

    #[test]
    fn field_values_link_urls_and_escape_text() {
        assert!(field_value_html("https://cras-iwa.org/").contains(">cras-iwa.org</a>"));
        assert_eq!(field_value_html("<b>x</b>"), "&lt;b&gt;x&lt;/b&gt;");
    }
}
