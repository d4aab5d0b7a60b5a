//! The protocol as pure functions over bytes: framing ([`wire`]), the command catalog
//! ([`catalog`]), command parsing ([`command`]), parameters and their syntax ([`params`]), error
//! codes ([`errors`]), server roles ([`role`]), referrals ([`referral`]), addresses
//! ([`address`]), authentication ([`auth`]) and MSG payloads ([`payload`]). No I/O, and nothing of how bytes arrive.

pub mod address;
pub mod auth;
pub mod catalog;
pub mod command;
pub mod errors;
pub mod params;
pub mod payload;
pub mod referral;
pub mod role;
pub mod wire;

pub use role::Role;

#[cfg(test)]
mod tests;
