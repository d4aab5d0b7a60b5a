//! Short strings for the event model: verbs, error codes and most arguments (handles,
//! addresses, TrIDs, states) fit in 24 bytes, and allocating for each of millions of events
//! showed up in profiles. compact_str keeps up to 24 bytes inline in a 24-byte value and,
//! unlike the hand-written type it replaced, reads them back without validating UTF-8 again.

/// An immutable string, inline when at most 24 bytes. Equality and hashing are the text's, so
/// a map keyed by `ShortStr` can be searched with a `&str`.
pub type ShortStr = compact_str::CompactString;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_round_trip() {
        assert_eq!(std::mem::size_of::<ShortStr>(), 24);
        for s in ["", "MSG", "exactly-twenty-four-byte", "twenty-five-bytes-is-long", "ünïcødé"] {
            let v = ShortStr::new(s);
            assert_eq!(v.as_str(), s);
            assert_eq!(ShortStr::from(s.to_string()), v);
            assert_eq!(!v.is_heap_allocated(), s.len() <= 24, "{s}");
        }
    }

    #[test]
    fn maps_keyed_by_short_strings_find_str_keys() {
        use std::hash::{BuildHasher, RandomState};
        let state = RandomState::new();
        for s in ["MSG", "twenty-five-bytes-is-long"] {
            assert_eq!(state.hash_one(ShortStr::new(s)), state.hash_one(s), "{s}");
        }
        let mut m = std::collections::HashMap::new();
        m.insert(ShortStr::new("USR"), 1);
        m.insert(ShortStr::new("a-handle-of-thirty-bytes@x.com"), 2);
        assert_eq!(m.get("USR"), Some(&1));
        assert_eq!(m.get("a-handle-of-thirty-bytes@x.com"), Some(&2));
    }
}
