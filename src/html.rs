//! HTML we publish: Markdown rendered with pulldown-cmark, then sanitised with
//! ammonia down to the subset Mastodon keeps (docs/interop.md §4). Headings become
//! `<p><strong>` because Mastodon would do that anyway, and images and tables
//! are dropped because Mastodon strips them.

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

/// Markdown to HTML in Mastodon's subset. Raw HTML in the input is sanitised
/// like the rest; images keep their alt text as plain text.
pub fn markdown_to_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let events = Parser::new_ext(markdown, options).map(|event| match event {
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
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let below = |level| match level {
        H1 => H2,
        H2 => H3,
        H3 => H4,
        H4 => H5,
        _ => H6,
    };
    let events = Parser::new_ext(markdown, options).map(|event| match event {
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
    PAGE_SANITIZER.clean(&raw).to_string().trim().to_string()
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
    SANITIZER.clean(html).to_string().trim().to_string()
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
