//! The protocol as pure functions over bytes: framing ([`wire`]), the command catalog and error
//! codes ([`catalog`]), command parsing ([`command`]) and MSG payloads ([`payload`]). No I/O.

pub mod catalog;
pub mod command;
pub mod payload;
pub mod wire;

#[cfg(test)]
mod tests;
