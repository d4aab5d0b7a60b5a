//! Test and demo tooling that is part of the library: a packet synthesiser that writes
//! realistic MSNP2 sessions as pcap/pcapng ([`synth`]), the scripted sample session that
//! `captures/msnp2-two-users.pcap` is made from ([`sample`]), and a live MSNP2 server
//! ([`server`]) with scripted clients ([`client`]) over a logging line connection ([`conn`]).

pub mod client;
pub mod conn;
pub mod gen;
pub mod sample;
pub mod server;
pub mod synth;
