//! Display parts of a command: its parameters by name (friendly names decoded), and the line
//! and arguments with every secret replaced by `<redacted>` unless secrets are revealed.

use super::Connection;
use crate::msnp::command::{self, Command};
use crate::msnp::params::{param_names, Secrets};
use crate::shortstr::ShortStr;

/// What a secret is shown as.
pub const REDACTED: &str = "<redacted>";

impl Connection {
    /// Named, decoded parameters, and the argument positions that hold secrets.
    pub(super) fn fields_and_secrets(
        &self,
        cmd: &Command<'_>,
        from_client: bool,
    ) -> (Vec<(&'static str, ShortStr)>, Secrets) {
        let (names, secrets) = param_names(cmd, from_client);
        let a = &cmd.args;
        let mut fields = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let Some(value) = a.get(i) else { break };
            let (name, repeats) = match name.strip_suffix("...") {
                Some(n) => (n, true),
                None => (*name, false),
            };
            let shown = if secrets.contains(i) && !self.st.reveal {
                ShortStr::new(REDACTED)
            } else if repeats {
                a[i..].join(" ").into()
            } else if name.ends_with("name") {
                command::url_decode(value).into()
            } else {
                ShortStr::new(value)
            };
            fields.push((name, shown));
        }
        (fields, secrets)
    }
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
