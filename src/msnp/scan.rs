//! Byte searches eight bytes at a time, in plain `u64` arithmetic: the lines, handles, names
//! and header blocks they serve are tens of bytes long, too short for a vector search's setup
//! (the `memchr` crate took more instructions on them, docs/dependencies.md) and long enough
//! that a byte at a time shows in the profile.

const ONES: u64 = u64::from_le_bytes([1; 8]);
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// The bytes at or below the space (0x20) in `word` (eight bytes, little-endian): the top
/// bit of each such byte set, exactly (no borrow or carry crosses a byte). Bytes from 0x80 up
/// are not flagged.
#[inline]
pub fn low_bytes(word: u64) -> u64 {
    const LOW7: u64 = u64::from_le_bytes([0x7f; 8]);
    const TO_TOP: u64 = u64::from_le_bytes([0x80 - 0x21; 8]);
    // A byte's seven low bits plus 0x5f reach its top bit from 0x21 on, and stay below 0x100.
    let at_least_0x21 = (word & LOW7) + TO_TOP;
    !(at_least_0x21 | word) & HIGH
}

/// The top bit of each byte of `word` equal to `needle`: the lowest one exact, those above it
/// possibly not (a borrow from a lower equal byte can reach them). So the lowest flag is the
/// first such byte, and a flag below any bit is a true one.
#[inline]
pub fn equal_bytes(word: u64, needle: u8) -> u64 {
    // A byte equal to `needle` is a zero byte of `y`, which borrows into its top bit.
    let y = word ^ (ONES * u64::from(needle));
    y.wrapping_sub(ONES) & !y & HIGH
}

/// The index of the first `needle` in `b`.
#[inline]
pub fn find_byte(b: &[u8], needle: u8) -> Option<usize> {
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let flags = equal_bytes(u64::from_le_bytes(word), needle);
        if flags != 0 {
            return Some(i + (flags.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?.iter().position(|c| *c == needle).map(|k| i + k)
}

/// The classes of `b`'s bytes in `table` (bit sets), or-ed together: four or eight bytes a step, no
/// branch a byte. A part's last step overlaps the one before it instead of a byte loop (or-ing
/// a class twice changes nothing).
#[inline]
pub fn or_classes(b: &[u8], table: &[u8; 256]) -> u8 {
    let of4 = |w: &[u8; 4]| table[w[0] as usize] | table[w[1] as usize] | table[w[2] as usize] | table[w[3] as usize];
    let of8 = |w: &[u8; 8]| {
        (table[w[0] as usize] | table[w[1] as usize] | table[w[2] as usize] | table[w[3] as usize])
            | (table[w[4] as usize] | table[w[5] as usize] | table[w[6] as usize] | table[w[7] as usize])
    };
    if let Some(last) = b.last_chunk::<8>() {
        let mut m = of8(last);
        let mut rest = b;
        while let Some((w, tail)) = rest.split_first_chunk::<8>() {
            m |= of8(w);
            rest = tail;
        }
        m
    } else if let (Some(head), Some(last)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        of4(head) | of4(last)
    } else {
        b.iter().fold(0, |m, c| m | table[*c as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bytes next to the ones a search looks for: equal ones, one above and below, the top bit.
    fn near() -> impl Strategy<Value = u8> {
        prop_oneof![
            Just(b' '),
            Just(b'!'),
            Just(0x1f_u8),
            Just(b':'),
            Just(b';'),
            Just(b'\n'),
            Just(0x80_u8),
            Just(0xff_u8),
            any::<u8>()
        ]
    }

    proptest! {
        /// The word test flags exactly the bytes at or below the space, as a byte loop does.
        #[test]
        fn low_bytes_are_those_at_or_below_the_space(b in proptest::array::uniform8(near())) {
            let want = b.iter().enumerate().fold(0u64, |m, (k, &c)| if c <= b' ' { m | 0x80 << (8 * k) } else { m });
            prop_assert_eq!(low_bytes(u64::from_le_bytes(b)), want, "{:?}", b);
        }

        /// The lowest flag of a needle is its first occurrence, and every flag below a bit is a
        /// true one; the search finds what a byte loop finds.
        #[test]
        fn equal_bytes_flag_the_first_needle(b in proptest::collection::vec(near(), 0..40), needle in near()) {
            if let Some(w) = b.first_chunk::<8>() {
                let flags = equal_bytes(u64::from_le_bytes(*w), needle);
                let first = w.iter().position(|c| *c == needle);
                prop_assert_eq!((flags != 0).then(|| (flags.trailing_zeros() / 8) as usize), first);
                for k in 0..8 {
                    if flags & (0x80 << (8 * k)) != 0 && w[k] != needle {
                        prop_assert!(w[..k].contains(&needle), "a false flag at {} with no needle below: {:?}", k, w);
                    }
                }
            }
            prop_assert_eq!(find_byte(&b, needle), b.iter().position(|c| *c == needle));
        }

        /// The or of a table's classes over four- and eight-byte steps (the last one overlapping)
        /// is the or a byte at a time gives, at every length.
        #[test]
        fn classes_or_as_bytes_do(b in proptest::collection::vec(near(), 0..40), marks in proptest::array::uniform8(any::<u8>())) {
            let mut table = [0u8; 256];
            for (k, c) in [b' ', b'!', 0x1f, b':', b';', b'\n', 0x80, 0xff].into_iter().enumerate() {
                table[c as usize] = 1 << (marks[k] % 8);
            }
            let want = b.iter().fold(0, |m, c| m | table[*c as usize]);
            prop_assert_eq!(or_classes(&b, &table), want, "{:?}", b);
        }
    }
}
