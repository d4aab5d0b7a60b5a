//! Test, demo and benchmark tooling that is part of the library: a capture synthesiser
//! ([`synth`]), the scripted sample session that `captures/msnp2-two-users.pcap` is made from
//! ([`sample`]) and its sisters in the other dialects, the benchmark capture generator
//! ([`gen`]), and a live server ([`server`]) with scripted clients ([`client`]) over a logging
//! line connection ([`conn`]), speaking the dialects of [`flavor`]. No production module uses
//! it.

pub mod client;
pub mod conn;
pub mod demo;
pub mod flavor;
pub mod fuzzing;
pub mod gen;
pub mod sample;
pub mod server;
pub mod synth;

/// The `p`-th percentile (0-100) of `v`, which it sorts; `None` when `v` is empty.
pub fn percentile(v: &mut [f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((v.len() as f64 * p / 100.0).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_of_no_values_and_of_some() {
        assert_eq!(super::percentile(&mut [], 50.0), None);
        assert_eq!(super::percentile(&mut [3.0, 1.0, 2.0], 50.0), Some(2.0));
        assert_eq!(super::percentile(&mut [3.0, 1.0, 2.0], 99.9), Some(3.0));
        assert_eq!(super::percentile(&mut [3.0], 0.0), Some(3.0));
    }
}
