//! Authentication arithmetic: what a correct response to a challenge is.

/// `md5(challenge || password)` in lower-case hex ([D §7.3]).
pub fn md5_response(challenge: &str, password: &str) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(password.as_bytes());
    hex::encode(h.finalize())
}

/// The public product id the official clients of MSNP`dialect` answer challenges (`CHL`) with:
/// `msmsgs@msnmsgr.com` for MSNP6 to 10, then the MSNP11 and MSNP13 clients' ids [Y cmd/qry].
pub fn client_product(dialect: u8) -> Option<&'static str> {
    match dialect {
        ..=5 => None,
        6..=10 => Some("msmsgs@msnmsgr.com"),
        11..=12 => Some("PROD0090YUAUV{2B"),
        _ => Some("PROD01065C%ZFN6F"),
    }
}

/// The Passport ticket msntap's own server issues locally (no Passport service) for a policy
/// string and password, in the form the real service gave (`t=...&p=...`): what `check-server`
/// sends to a server that issues tickets this way.
pub fn local_ticket(policy: &str, password: &str) -> String {
    format!("t={}&p={}", md5_response(policy, password), md5_response(password, policy))
}

/// The algorithm a product's challenge responses use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeAlgorithm {
    /// `md5(challenge || product key)` in lower-case hex (MSNP6 to MSNP10).
    Basic,
    /// The MSNP11 algorithm.
    Advanced,
}

/// The public product ids and keys of official (and well-known) clients: (id, key, algorithm)
/// \[Y files/chal\], \[Y cmd/qry\], \[P h\], \[K\].
pub const PRODUCTS: &[(&str, &str, ChallengeAlgorithm)] = &[
    ("msmsgs@msnmsgr.com", "Q1P7W2E4J9R8U3S5", ChallengeAlgorithm::Basic),
    ("PROD0038W!61ZTF9", "VT6PX?UQTM4WM%YR", ChallengeAlgorithm::Basic),
    ("PROD0058#7IL2{QD", "QHDCY@7R1TB6W?5B", ChallengeAlgorithm::Basic),
    ("PROD0061VRRZH@4F", "JXQ6J@TUOGYV@N0M", ChallengeAlgorithm::Basic),
    ("PROD00504RLUG%WL", "I2EBK%PYNLZL5_J4", ChallengeAlgorithm::Basic),
    ("PROD0076ENE8*@AW", "CEQJ8}OE0!WTSWII", ChallengeAlgorithm::Basic),
    ("PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL", ChallengeAlgorithm::Advanced),
    ("PROD0101{0RM?UBW", "CFHUR$52U_{VIX5T", ChallengeAlgorithm::Advanced),
    ("PROD01065C%ZFN6F", "O4BG@C7BWLYQX?5G", ChallengeAlgorithm::Advanced),
    ("PROD0112J1LW7%NB", "RH96F{PHI8PPX_TJ", ChallengeAlgorithm::Advanced),
    ("PROD0113H11T8$X_", "RG@XY*28Q5QHS%Q5", ChallengeAlgorithm::Advanced),
    ("PROD0114ES4Z%Q5W", "PK}_A_0N_K%O?A9S", ChallengeAlgorithm::Advanced),
    ("PROD0118R6%2WYOS", "YIXPX@5I2P0UT*LK", ChallengeAlgorithm::Advanced),
    ("PROD0119GSJUC$18", "ILTXC!4IXB5FB*PX", ChallengeAlgorithm::Advanced),
    ("PROD0120PW!CCV9@", "C1BX{V4W}Q3*10SM", ChallengeAlgorithm::Advanced),
];

/// The response to `challenge` that the client with public product id `product` must send,
/// when its key is public.
pub fn qry_response(challenge: &str, product: &str) -> Option<String> {
    let &(id, key, algo) = PRODUCTS.iter().find(|(id, _, _)| *id == product)?;
    Some(match algo {
        ChallengeAlgorithm::Basic => md5_response(challenge, key),
        ChallengeAlgorithm::Advanced => advanced_response(challenge, id, key),
    })
}

/// The MSNP11 challenge response [Y cmd/qry, Y files/chal]: the md5 of challenge and key, XORed
/// with a 64-bit key derived from it and from the challenge and product id.
pub fn advanced_response(challenge: &str, product: &str, key: &str) -> String {
    use md5::{Digest, Md5};
    const M: u64 = 0x7FFF_FFFF;
    let h: [u8; 16] = Md5::new().chain_update(challenge).chain_update(key).finalize().into();
    let word = |b: &[u8]| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) & M;
    let k: Vec<u64> = h.chunks_exact(4).map(word).collect();
    let mut s = format!("{challenge}{product}").into_bytes();
    s.resize(s.len() + 8 - s.len() % 8, b'0');
    let p: Vec<u64> = s.chunks_exact(4).map(word).collect();
    let (mut hi, mut lo) = (0u64, 0u128);
    for pair in p.chunks_exact(2) {
        let t = (pair[0] * 0x0E79_A9C1) % M + hi;
        let t = (t * k[0] + k[1]) % M;
        hi = (pair[1] + t) % M;
        hi = (hi * k[2] + k[3]) % M;
        lo += u128::from(hi + t);
    }
    let hi = (hi + k[1]) % M;
    let lo = ((lo + u128::from(k[3])) % u128::from(M)) as u64;
    let mut x = [0u8; 8];
    x[..4].copy_from_slice(&(hi as u32).to_le_bytes());
    x[4..].copy_from_slice(&(lo as u32).to_le_bytes());
    let out: Vec<u8> = h.iter().enumerate().map(|(i, b)| b ^ x[i % 8]).collect();
    hex::encode(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_login_vector() {
        assert_eq!(md5_response("1234567890.123456789", "password"), "f59af8f2fa91d38aff7c870c17f99903");
    }

    #[test]
    fn challenge_vectors_of_the_sources() {
        // [Y ver/msnp6], [Y cmd/qry]: the basic algorithm.
        assert_eq!(
            qry_response("11111111111111111111", "msmsgs@msnmsgr.com").unwrap(),
            "3b6666b60157322b6fc6e41a115968f5"
        );
        assert_eq!(
            qry_response("12345678901234567890", "msmsgs@msnmsgr.com").unwrap(),
            "8ba1bb9d6dbf624fee31a2053af5fdd0"
        );
        // The two published MSNP11 vectors.
        assert_eq!(
            qry_response("22210219642164014968", "PROD0090YUAUV{2B").unwrap(),
            "85ecb0db8f32113df79ce0892b9a102c"
        );
        assert_eq!(
            qry_response("11533365622852247127", "PROD0113H11T8$X_").unwrap(),
            "f086d1ded067186deca8dba2231602cf"
        );
        assert_eq!(qry_response("1", "PROD-unknown"), None);
        // Any challenge, however long, gives an answer (no overflow).
        assert_eq!(advanced_response(&"9".repeat(5000), "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL").len(), 32);
    }
}
