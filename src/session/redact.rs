//! Display parts of a command: its parameters by name (friendly names decoded), and the line
//! and arguments with every secret replaced by `<redacted>` unless secrets are revealed.

use super::Connection;
use crate::msnp::catalog::Kind;
use crate::msnp::command::{self, Command};
use crate::msnp::params::Secrets;
use crate::shortstr::ShortStr;

/// What a secret is shown as.
pub const REDACTED: &str = "<redacted>";

impl Connection {
    /// Named, decoded parameters (by the form the line has), and the argument positions that
    /// hold secrets.
    pub(super) fn fields_and_secrets(&self, cmd: &Command<'_>) -> (Vec<(&'static str, ShortStr)>, Secrets) {
        let Some(form) = cmd.form() else { return (Vec::new(), Secrets::default()) };
        let a = &cmd.args;
        let mut secrets = Secrets::default();
        let mut n = 0;
        let mut fields = Vec::with_capacity(form.params.len().min(a.len()));
        for (i, param) in form.params.iter().enumerate() {
            let Some(value) = a.get(i) else { break };
            if param.secret && n < secrets.0.len() {
                secrets.0[n] = Some(i);
                n += 1;
            }
            let shown = if param.secret && !self.st.reveal {
                ShortStr::new(REDACTED)
            } else if param.kind == Kind::Rest {
                a[i..].join(" ").into()
            } else if param.kind == Kind::Name || param.name.ends_with("name") {
                command::url_decode(value).into()
            } else {
                ShortStr::new(value)
            };
            fields.push((param.name, shown));
        }
        (fields, secrets)
    }
}

/// Whether a payload header holds a Passport credential (`MSPAuth`, `MSPProf`, `MSPSec`: the
/// cookies a server puts in the profile message).
pub(super) fn secret_header(name: &str) -> bool {
    name.len() >= 3 && name.as_bytes()[..3].eq_ignore_ascii_case(b"MSP")
}

/// Rebuilds the line and arguments with secret arguments replaced.
pub(super) fn redact(text: &str, cmd: &Command<'_>, secrets: Secrets, reveal: bool) -> (String, Vec<ShortStr>) {
    let args: Vec<ShortStr> = cmd
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| ShortStr::new(if !reveal && secrets.contains(i) { REDACTED } else { a }))
        .collect();
    if reveal || secrets.is_empty() {
        return (text.to_string(), args);
    }
    let mut secrets: Vec<usize> = secrets.positions().collect();
    secrets.sort_unstable();
    secrets.dedup();
    let spans = command::token_spans(text, |c| c == ' ' || c == '\t');
    // Arguments start after the verb and, when present, the TrID.
    let first_arg = 1 + usize::from(cmd.trid.is_some() || cmd.bad_trid.is_some());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &i in &secrets {
        if let Some(&(s, e)) = spans.get(first_arg + i) {
            out.push_str(&text[last..s]);
            out.push_str(REDACTED);
            last = e;
        }
    }
    out.push_str(&text[last..]);
    (out, args)
}
