//! The protocol as pure functions over bytes: framing ([`wire`], and what follows a line,
//! [`framing`]), dialects ([`dialect`]), the command catalog with every verb's forms in every
//! dialect ([`catalog`]), command parsing ([`command`]), parameters and their syntax ([`params`]), error
//! codes ([`errors`]), server roles ([`role`]), referrals ([`referral`]), addresses
//! ([`address`]), authentication ([`auth`]), MSG payloads ([`payload`]) and the XML lists of
//! later dialects ([`xml`]). No I/O, and nothing of how bytes arrive.

pub mod address;
pub mod auth;
pub mod catalog;
pub mod command;
pub mod dialect;
pub mod errors;
pub mod framing;
pub mod params;
pub mod payload;
pub mod referral;
pub mod role;
pub mod scan;
pub mod verbs;
pub mod wire;
pub mod xml;

pub use role::Role;

#[cfg(test)]
mod tests;
