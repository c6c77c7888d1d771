//! What the targets whose input is several header values share: taking
//! one line (a header value never holds a `\n`) off the front of the input.

/// The next line of `rest`, which moves past it and its `\n`.
pub fn next_line<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    if rest.is_empty() {
        return None;
    }
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = &rest[..end];
    *rest = rest.get(end + 1..).unwrap_or_default();
    Some(line)
}
