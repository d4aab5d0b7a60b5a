//! MSG payloads: MIME-style header lines, an empty line, then the body ([D §8.8], facts §7).

use super::scan::equal_bytes;

/// A payload split into headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mime<'a> {
    /// Header names and values, in order, values trimmed.
    pub headers: Vec<(&'a str, &'a str)>,
    /// Bytes after the empty line.
    pub body: &'a [u8],
    /// Whether an empty line ended the header block.
    pub has_blank_line: bool,
}

impl Mime<'_> {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// The content type without parameters, lower-cased.
    pub fn content_type(&self) -> Option<String> {
        self.header("Content-Type").map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
}

/// Splits a payload. Lines end in CRLF (bare LF tolerated); a header line without a colon
/// ends the header block as if it were the body.
pub fn parse(bytes: &[u8]) -> Mime<'_> {
    let mut headers = Vec::with_capacity(4);
    let (pos, has_blank_line) = walk(bytes, |line, colon| {
        let Ok(text) = std::str::from_utf8(line) else { return false };
        // The colon is ASCII, so both cuts fall on character boundaries.
        headers.push((text.get(..colon).unwrap_or(""), trim(text.get(colon + 1..).unwrap_or(""))));
        true
    });
    Mime { headers, body: &bytes[pos..], has_blank_line }
}

/// Whether an empty line ends the payload's header block: [`parse`]'s `has_blank_line`,
/// without collecting the headers (what the checks need when no output shows payloads).
pub fn header_block_ends(bytes: &[u8]) -> bool {
    walk(bytes, |line, _| line.is_ascii() || std::str::from_utf8(line).is_ok()).1
}

/// Walks the header block, handing each header line (without its ending) and the position of
/// its colon to `header`, which says whether the line is one (it is not when it is not UTF-8);
/// returns where the body starts and whether an empty line ended the block.
fn walk<'a>(bytes: &'a [u8], mut header: impl FnMut(&'a [u8], usize) -> bool) -> (usize, bool) {
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let Some(nl) = super::wire::memchr(b'\n', rest) else {
            break;
        };
        let line = &rest[..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return (pos + nl + 1, true);
        }
        // Each of these ends the header block alike, so the cheap byte checks come first.
        let (Some(colon), false) = colon_and_space(line) else {
            break;
        };
        if colon == 0 || !header(line, colon) {
            break;
        }
        pos += nl + 1;
    }
    (pos, false)
}

/// The first `:` in `line`, and whether a space comes before it (before the line's end when
/// there is none), eight bytes at a time.
fn colon_and_space(line: &[u8]) -> (Option<usize>, bool) {
    let mut space = false;
    let mut i = 0;
    while let Some(word) = line.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let x = u64::from_le_bytes(word);
        let (colons, spaces) = (equal_bytes(x, b':'), equal_bytes(x, b' '));
        if colons != 0 {
            // A space flag below the first colon's is a true one (see `equal_bytes`).
            let below = (colons & colons.wrapping_neg()) - 1;
            return (Some(i + (colons.trailing_zeros() / 8) as usize), space || spaces & below != 0);
        }
        space |= spaces != 0;
        i += 8;
    }
    for (k, &c) in line.iter().enumerate().skip(i) {
        if c == b':' {
            return (Some(k), space);
        }
        space |= c == b' ';
    }
    (None, space)
}

/// `str::trim`, with ASCII ends settled byte by byte (a header value usually starts with one
/// space and ends in a letter).
fn trim(s: &str) -> &str {
    // The ASCII characters `char::is_whitespace` accepts.
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let b = s.as_bytes();
    let mut start = 0;
    while start < b.len() && ws(b[start]) {
        start += 1;
    }
    let mut end = b.len();
    while end > start && ws(b[end - 1]) {
        end -= 1;
    }
    let inner = s.get(start..end).unwrap_or("");
    // A non-ASCII end may be Unicode white space: `str::trim` decides it.
    if inner.as_bytes().first().is_some_and(|c| !c.is_ascii()) || inner.as_bytes().last().is_some_and(|c| !c.is_ascii())
    {
        return inner.trim();
    }
    inner
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The parser as first written (string splitting), which the byte checks must equal.
    fn reference(bytes: &[u8]) -> Mime<'_> {
        let mut headers = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            let Some(nl) = rest.iter().position(|c| *c == b'\n') else { break };
            let line = &rest[..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return Mime { headers, body: &rest[nl + 1..], has_blank_line: true };
            }
            let Ok(text) = std::str::from_utf8(line) else { break };
            let Some((name, value)) = text.split_once(':') else { break };
            if name.is_empty() || name.contains(' ') {
                break;
            }
            headers.push((name, value.trim()));
            pos += nl + 1;
        }
        Mime { headers, body: &bytes[pos..], has_blank_line: false }
    }

    proptest! {
        /// Header blocks built from colons, spaces, white space of every kind (Unicode too),
        /// line ends, invalid UTF-8 and letters.
        #[test]
        fn parse_equals_reference(parts in proptest::collection::vec(prop_oneof![
            Just(&b":"[..]), Just(&b" "[..]), Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"\t"[..]),
            Just(&b"\x0b"[..]), Just(&b"\x0c"[..]), Just("\u{3000}".as_bytes()), Just("\u{a0}".as_bytes()),
            Just(&b"\xff"[..]), Just(&b"MIME-Version"[..]), Just(&b"a"[..]), Just("é".as_bytes()),
        ], 0..40)) {
            let bytes = parts.concat();
            prop_assert_eq!(parse(&bytes), reference(&bytes));
            prop_assert_eq!(header_block_ends(&bytes), reference(&bytes).has_blank_line);
        }
    }

    #[test]
    fn values_are_trimmed_of_unicode_space_too() {
        let m = parse("X-A: \u{3000} v \u{a0}\r\nX-B:\tw\u{2003}x\r\n\r\nbody".as_bytes());
        assert_eq!(m.headers, vec![("X-A", "v"), ("X-B", "w\u{2003}x")]);
        assert_eq!(m.body, b"body");
    }
}
