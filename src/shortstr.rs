//! A string that stores up to 15 bytes inline: command verbs and error codes are three bytes,
//! and allocating for each of millions of events showed up in profiles.

use serde::{Serialize, Serializer};
use std::fmt;
use std::ops::Deref;

/// An immutable string, inline when short.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum ShortStr {
    /// Up to 15 bytes, with the length.
    Inline([u8; 15], u8),
    /// Anything longer.
    Heap(Box<str>),
}

impl ShortStr {
    /// Makes one from `s`.
    pub fn new(s: &str) -> Self {
        if s.len() <= 15 {
            let mut b = [0u8; 15];
            b[..s.len()].copy_from_slice(s.as_bytes());
            ShortStr::Inline(b, s.len() as u8)
        } else {
            ShortStr::Heap(s.into())
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
