//! The hash maps of the hot paths (connections by flow key and id, open requests by TrID,
//! spooled streams): foldhash with a seed chosen per process. Its keys come from the wire, so
//! the hasher must be one no peer can make degenerate: FxHash, used before, put every TrID
//! that is a multiple of 65,536 in one bucket (50,000 such requests took 20 times as long as
//! sequential ones; `bench/run.sh` keeps the two side by side). No output depends on the
//! maps' iteration order: every walk over them is sorted first.

use std::collections::{HashMap, HashSet};

/// The hasher's builder: foldhash's fast variant, seeded per process.
pub type Seeded = foldhash::fast::RandomState;

/// A `HashMap` with [`Seeded`].
pub type FastMap<K, V> = HashMap<K, V, Seeded>;
/// A `HashSet` with [`Seeded`].
pub type FastSet<K> = HashSet<K, Seeded>;
