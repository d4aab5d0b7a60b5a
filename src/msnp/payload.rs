//! MSG payloads: MIME-style header lines, an empty line, then the body ([D §8.8], facts §7).

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
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let Some(nl) = super::wire::memchr(b'\n', rest) else {
            break;
        };
        let line = &rest[..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Mime { headers, body: &rest[nl + 1..], has_blank_line: true };
        }
        let Ok(text) = std::str::from_utf8(line) else {
            break;
        };
        let Some((name, value)) = text.split_once(':') else {
            break;
        };
        if name.is_empty() || name.contains(' ') {
            break;
        }
        headers.push((name, value.trim()));
        pos += nl + 1;
    }
    Mime { headers, body: &bytes[pos..], has_blank_line: false }
}
