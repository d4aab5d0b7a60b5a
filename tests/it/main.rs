//! The integration test crate (one binary, modules by theme).

mod captures;
mod check;
mod cli;
mod common;
mod dialects;
mod hostile;
mod ladder;
mod layout;
mod proxy;
mod reassembly;
mod regressions;
mod report;
mod rules;
mod shards;
mod sniff;
