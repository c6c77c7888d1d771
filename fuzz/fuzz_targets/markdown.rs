//! A statement's Markdown, rendered for the federated copy and for its web
//! page, and the same text taken as remote HTML by the sanitiser. Nothing
//! may panic, and no output may hold `<script` in any case.

#![no_main]

use broadside::html;
use libfuzzer_sys::fuzz_target;

fn no_script(what: &str, input: &str, output: &str) {
    assert!(
        !output.to_ascii_lowercase().contains("<script"),
        "{what} let `<script` through\ninput:  {input:?}\noutput: {output:?}"
    );
}

fuzz_target!(|markdown: &str| {
    no_script(
        "markdown_to_html",
        markdown,
        &html::markdown_to_html(markdown),
    );
    no_script(
        "markdown_to_page_html",
        markdown,
        &html::markdown_to_page_html(markdown),
    );
    no_script("sanitize", markdown, &html::sanitize(markdown));
    let text = html::plain_text(markdown);
    let _ = html::excerpt(&text, 200);
});
