//! msntap: shows exactly what an MSN Messenger client and server say to each other. The
//! library holds the whole pipeline: packets from a capture ([`capture`]) are sliced ([`net`])
//! and reassembled ([`reassembly`]) into streams, which meet the proxy's relays ([`proxy`]) at
//! the seam ([`flow`]); the analysis ([`analysis`]) runs one [`session`] per connection, which
//! decodes the protocol ([`msnp`]) and checks the [`rules`]; printers ([`output`]) show the
//! result. [`app`] has one function per subcommand; [`testkit`] holds the test servers,
//! clients and synthesiser. The `msntap` binary is a thin command line over [`app`].

#![deny(unsafe_code)]
#![warn(missing_docs)]
// The module docs are for msntap's developers and name private parts: CI builds them with
// `--document-private-items`, where such links resolve.
#![allow(rustdoc::private_intra_doc_links)]

/// Gives a fieldless enum its one spelling: `as_str`, and a `Serialize` that writes it.
macro_rules! spelled {
    ($ty:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            /// The spelling used in every output.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),*
                }
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

pub mod analysis;
pub mod app;
pub mod capture;
pub mod check;
pub mod escape;
pub mod fasthash;
pub mod flow;

pub mod msnp;
pub mod net;
pub mod output;
pub mod proxy;
pub mod reassembly;
pub mod rules;
pub mod session;
pub mod shortstr;
pub mod testkit;

pub use analysis::{Analyzer, Report, Summary};
pub use session::Options;
