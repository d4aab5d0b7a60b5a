//! What the user sees: a coloured transcript ([`text`]) and the annotated JSON document
//! ([`json`]), both implementing [`crate::analyzer::Report`]. Renderers take an explicit colour
//! flag (no global state), and every byte that came off the wire is printed through
//! [`sanitize`], so a peer cannot drive the reader's terminal.

pub mod compact;
pub mod filter;
pub mod json;
pub mod ndjson;
pub mod reindent;
pub mod spool;
pub mod text;

use crate::analyzer::{Link, Links, Report, Summary};
use crate::session::Connection;

/// Makes wire text safe for a terminal: control characters (C0, DEL, C1) become escapes.
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_control) {
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

/// Sends results to several reports.
pub struct Tee<'a>(pub Vec<&'a mut dyn Report>);

impl Report for Tee<'_> {
    fn begin(&mut self, first_ts_ns: i64) {
        for r in self.0.iter_mut() {
            r.begin(first_ts_ns);
        }
    }

    fn opened(&mut self, conn: &Connection) {
        for r in self.0.iter_mut() {
            r.opened(conn);
        }
    }

    fn events(&mut self, conn: &Connection, from: usize) {
        for r in self.0.iter_mut() {
            r.events(conn, from);
        }
    }

    fn settled(&mut self, conn: &Connection, txns: &[crate::session::Transaction]) {
        for r in self.0.iter_mut() {
            r.settled(conn, txns);
        }
    }

    fn failure(&mut self, f: &crate::analyzer::Failure) {
        for r in self.0.iter_mut() {
            r.failure(f);
        }
    }

    fn connection(&mut self, conn: &Connection, links: Links<'_>) {
        for r in self.0.iter_mut() {
            r.connection(conn, links);
        }
    }

    fn finish(&mut self, summary: &Summary, links: Links<'_>) {
        for r in self.0.iter_mut() {
            r.finish(summary, links);
        }
    }

    fn retired(&mut self, index: usize, link: &Link) {
        for r in self.0.iter_mut() {
            r.retired(index, link);
        }
    }
}
