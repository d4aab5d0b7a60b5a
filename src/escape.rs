//! Terminal-safe text: what a peer sent may reach a terminal (in the transcript and in log
//! lines) only with its control characters escaped, so wire bytes cannot move the cursor,
//! retitle the window or reorder the text around them.

/// Makes wire text safe for a terminal: control characters (C0, DEL, C1) and the Unicode line
/// separators and bidirectional controls become escapes.
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    // Printable ASCII (nearly every line) is checked a byte at a time, without decoding.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            match c {
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c => out.push_str(&format!("\\x{:02x}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || u == 0x7f
        || (0x80..0xa0).contains(&u)
        || matches!(u, 0x2028 | 0x2029 | 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069)
}
