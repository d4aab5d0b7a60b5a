//! A string that stores up to 22 bytes inline: verbs, error codes and most arguments (handles,
//! addresses, TrIDs, states) are that short, and allocating for each of millions of events
//! showed up in profiles.

use serde::{Serialize, Serializer};
use std::fmt;
use std::ops::Deref;

/// The longest string stored inline.
pub const INLINE: usize = 22;

/// An immutable string, inline when short (24 bytes in all). Equality and hashing are the
/// text's, so a map keyed by `ShortStr` can be searched with a `&str`.
#[derive(Clone)]
pub struct ShortStr(Repr);

/// Only [`ShortStr::new`] makes these, so an inline length never exceeds [`INLINE`] and the
/// bytes are always a whole `&str`.
#[derive(Clone)]
enum Repr {
    Inline([u8; INLINE], u8),
    Heap(Box<str>),
}

impl ShortStr {
    /// Makes one from `s`.
    pub fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut b = [0u8; INLINE];
            b[..s.len()].copy_from_slice(s.as_bytes());
            ShortStr(Repr::Inline(b, s.len() as u8))
        } else {
            ShortStr(Repr::Heap(s.into()))
        }
    }

    /// Whether the text is stored inline.
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline(..))
    }

    /// The text's bytes (UTF-8, as it was made from a `&str`), without checking them again.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(b, n) => &b[..(*n as usize).min(INLINE)],
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The bytes were copied from a whole `&str`, so this never fails.
            Repr::Inline(..) => std::str::from_utf8(self.as_bytes()).unwrap_or(""),
            Repr::Heap(s) => s,
        }
    }
}

impl PartialEq for ShortStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ShortStr {}

impl std::hash::Hash for ShortStr {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // As `str` hashes, as `Borrow<str>` requires.
        self.as_str().hash(h);
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
            ShortStr(Repr::Heap(s.into_boxed_str()))
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
            assert_eq!(v.is_inline(), s.len() <= INLINE);
        }
    }

    #[test]
    fn maps_keyed_by_short_strings_find_str_keys() {
        use std::hash::{BuildHasher, RandomState};
        let state = RandomState::new();
        for s in ["MSG", "twenty-three-bytes-long"] {
            assert_eq!(state.hash_one(ShortStr::new(s)), state.hash_one(s), "{s}");
        }
        let mut m = std::collections::HashMap::new();
        m.insert(ShortStr::new("USR"), 1);
        m.insert(ShortStr::new("a-handle-of-thirty-bytes@x.com"), 2);
        assert_eq!(m.get("USR"), Some(&1));
        assert_eq!(m.get("a-handle-of-thirty-bytes@x.com"), Some(&2));
    }
}
