//! Authentication arithmetic: what a correct response to a challenge is.

/// `md5(challenge || password)` in lower-case hex ([D §7.3]).
pub fn md5_response(challenge: &str, password: &str) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(password.as_bytes());
    hex::encode(h.finalize())
}
