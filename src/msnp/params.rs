//! Parameters: what each argument of a command form is called, which ones hold secrets, and
//! the syntax of values (handles, friendly names, states) as the draft defines them.

/// The states a user can be in ([D §7.7]).
pub const STATES: [&str; 9] = ["NLN", "FLN", "HDN", "BSY", "IDL", "BRB", "AWY", "PHN", "LUN"];

/// Whether `s` ends with `suffix`, ignoring ASCII case.
pub fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len() && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Whether `h` is a syntactically valid handle ([D §5.4]).
pub fn valid_handle(h: &str) -> bool {
    if h.is_empty() || h.len() > 129 {
        return false;
    }
    let Some((local, domain)) = h.split_once('@') else {
        return false;
    };
    let ok = |c: u8| c.is_ascii_alphanumeric() || b"._-+!#$&'*/=?^`{|}~".contains(&c);
    !local.is_empty()
        && !domain.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && local.bytes().all(ok)
        && domain.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

/// Checks a URL-encoded friendly name ([D §5.5]); `Err` says what is wrong.
pub fn check_friendly_name(raw: &str) -> Result<(), String> {
    const MAX: usize = 387;
    if raw.len() > MAX {
        return Err(format!("encoded length {} exceeds {MAX}", raw.len()));
    }
    // Decoded on the stack (it is never longer than the encoded form): no allocation.
    let mut decoded = [0u8; MAX];
    let mut n = 0;
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            match (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
                (Some(h), Some(l)) => {
                    i += 3;
                    (h * 16 + l) as u8
                }
                _ => return Err(format!("invalid %-escape at byte {i}")),
            }
        } else {
            i += 1;
            b[i - 1]
        };
        decoded[n] = c;
        n += 1;
    }
    std::str::from_utf8(&decoded[..n]).map(|_| ()).map_err(|_| "decodes to invalid UTF-8".to_string())
}

/// Argument positions that hold secrets (at most two).
#[derive(Debug, Clone, Copy, Default)]
pub struct Secrets(pub [Option<usize>; 2]);

impl Secrets {
    /// Only argument `i`.
    pub fn one(i: usize) -> Self {
        Secrets([Some(i), None])
    }

    /// Whether argument `i` is a secret.
    pub fn contains(&self, i: usize) -> bool {
        self.0.contains(&Some(i))
    }

    /// The positions, in order.
    pub fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().flatten().copied()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0 == [None, None]
    }
}
