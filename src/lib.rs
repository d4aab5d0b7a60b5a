//! msntap: shows exactly what an MSN Messenger client and server say to each other under
//! MSNP2. The library holds the whole pipeline (capture → net → reassembly → msnp → session →
//! rules → output); the `msntap` binary is a thin command line over it.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod analyzer;
pub mod capture;
pub mod fasthash;
pub mod fuzzing;
pub mod msnp;
pub mod net;
pub mod output;
pub mod proxy;
pub mod reassembly;
pub mod rules;
pub mod session;
pub mod shortstr;
pub mod testkit;

pub use analyzer::{Analyzer, Report, Summary};
pub use session::Options;
