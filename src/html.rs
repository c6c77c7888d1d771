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

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
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
});

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
    fn field_values_link_urls_and_escape_text() {
        assert!(field_value_html("https://cras-iwa.org/").contains(">cras-iwa.org</a>"));
        assert_eq!(field_value_html("<b>x</b>"), "&lt;b&gt;x&lt;/b&gt;");
    }
}
