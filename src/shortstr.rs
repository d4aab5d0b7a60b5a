//! A string that stores up to 22 bytes inline: verbs, error codes and most arguments (handles,
//! addresses, TrIDs, states) are that short, and allocating for each of millions of events
//! showed up in profiles.

use serde::{Serialize, Serializer};
use std::fmt;
use std::ops::Deref;

/// The longest string stored inline.
pub const INLINE: usize = 22;

/// An immutable string, inline when short (24 bytes in all).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum ShortStr {
    /// Up to [`INLINE`] bytes, with the length.
    Inline([u8; INLINE], u8),
    /// Anything longer.
    Heap(Box<str>),
}

impl ShortStr {
    /// Makes one from `s`.
    pub fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut b = [0u8; INLINE];
            b[..s.len()].copy_from_slice(s.as_bytes());
            ShortStr::Inline(b, s.len() as u8)
        } else {
            ShortStr::Heap(s.into())
        }
    }

    /// The text's bytes (UTF-8, as it was made from a `&str`), without checking them again.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ShortStr::Inline(b, n) => &b[..(*n as usize).min(INLINE)],
            ShortStr::Heap(s) => s.as_bytes(),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            // The bytes were copied from a `&str` on a char boundary (the whole string).
            ShortStr::Inline(b, n) => std::str::from_utf8(&b[..*n as usize]).unwrap_or(""),
            ShortStr::Heap(s) => s,
        }
    }
}

impl Deref for ShortStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ShortStr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for ShortStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ShortStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl AsRef<str> for ShortStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for ShortStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for ShortStr {
    fn from(s: &str) -> Self {
        ShortStr::new(s)
    }
}

impl From<String> for ShortStr {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            ShortStr::new(&s)
        } else {
            ShortStr::Heap(s.into_boxed_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_round_trip() {
        assert_eq!(std::mem::size_of::<ShortStr>(), 24);
        for s in ["", "MSG", "exactly-twenty-two-by", "twenty-three-bytes-long", "ünïcødé"] {
            let v = ShortStr::new(s);
            assert_eq!(v.as_str(), s);
            assert_eq!(ShortStr::from(s.to_string()), v);
            assert_eq!(matches!(v, ShortStr::Inline(..)), s.len() <= INLINE);
        }
    }
}
