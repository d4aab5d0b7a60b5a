//! The integration test crate (one binary, modules by theme).

mod captures;
mod cli;
mod common;
mod dialects;
mod hostile;
mod layout;
mod proxy;
mod reassembly;
mod regressions;
mod rules;
mod sniff;
