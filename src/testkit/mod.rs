//! Test and demo tooling that is part of the library: a packet synthesiser that writes
//! realistic MSNP2 sessions as pcap/pcapng ([`synth`]), and the scripted sample session that
//! `captures/msnp2-two-users.pcap` is made from ([`sample`]).

pub mod sample;
pub mod synth;
