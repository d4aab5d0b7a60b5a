//! The conformance run, written for people (a line per case, the failures in full, a summary
//! table), for machines (JSON) and for CI systems (JUnit XML), and the case catalog as the
//! Markdown of `docs/check-server.md`.

use super::cases::CASES;
use super::{Run, Verdict};
use std::fmt::Write as _;

/// The report for a terminal: a line per case, what failed in full, the counts.
pub fn text(run: &Run) -> String {
    let mut s = format!("msntap check-server {}\n\n", run.target);
    for c in &run.cases {
        let spoken = c.dialect.as_deref().unwrap_or("-");
        let _ = writeln!(s, "{:<5} {:<44} {:<7} {}", c.verdict.as_str().to_uppercase(), c.id, spoken, c.title);
        match c.verdict {
            Verdict::Fail | Verdict::Known => {
                let _ = writeln!(s, "      cite:     {}", c.cite);
                let _ = writeln!(s, "      expected: {}", c.expected.as_deref().unwrap_or(""));
                let _ = writeln!(s, "      actual:   {}", c.actual.as_deref().unwrap_or(""));
                let from = c.transcript.len().saturating_sub(12);
                if from > 0 {
                    let _ = writeln!(s, "      ... {from} lines before");
                }
                for l in &c.transcript[from..] {
                    let _ = writeln!(s, "      {l}");
                }
            }
            Verdict::Skip => {
                let _ = writeln!(s, "      {}", c.actual.as_deref().unwrap_or(""));
            }
            Verdict::Pass => {}
        }
        for v in &c.violations {
            let _ = writeln!(s, "      ✖ {} {}: {} on {:?}", v.rule, v.severity, v.message, v.line);
        }
    }
    let (pass, fail, known, skip) = run.counts();
    let violations: usize = run.cases.iter().map(|c| c.violations.len()).sum();
    let _ = writeln!(s, "\n| verdict | cases |\n|---|---|");
    for (name, n) in [("pass", pass), ("fail", fail), ("known failure", known), ("skip", skip)] {
        let _ = writeln!(s, "| {name} | {n} |");
    }
    let _ = writeln!(
        s,
        "\n{} cases: {pass} passed, {fail} failed, {known} known failures, {skip} skipped; {violations} rule violations in the traffic",
        run.cases.len()
    );
    s
}

/// Text made safe inside XML.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot hold other control characters at all (the text was escaped
            // for terminals before; this is a second line of defence).
            // XML 1.0 cannot hold other control characters, nor U+FFFE and U+FFFF (the text
            // was escaped for terminals before; this is the second line of defence).
            c if ((c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}') => {
                let _ = write!(out, "\\x{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The run as JUnit XML: one test suite, a test case per case (failures with Expected and
/// Actual, known failures and skips as skipped), the transcript in system-out.
pub fn junit(run: &Run) -> String {
    let (_, fail, known, skip) = run.counts();
    let time: f64 = run.cases.iter().map(|c| c.seconds).sum();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"msntap check-server\" tests=\"{}\" failures=\"{fail}\" skipped=\"{}\" time=\"{time:.3}\">",
        run.cases.len(),
        known + skip
    );
    let _ = writeln!(
        s,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fail}\" skipped=\"{}\" time=\"{time:.3}\">",
        xml(&run.target),
        run.cases.len(),
        known + skip
    );
    for c in &run.cases {
        let _ = write!(
            s,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            xml(c.id.rsplit_once('/').map_or(c.id, |(a, _)| a)),
            xml(c.id),
            c.seconds
        );
        let detail = format!(
            "{}\ncite: {}\ndialect: {}\nexpected: {}\nactual: {}",
            c.title,
            c.cite,
            c.dialect.as_deref().unwrap_or("-"),
            c.expected.as_deref().unwrap_or(""),
            c.actual.as_deref().unwrap_or("")
        );
        match c.verdict {
            Verdict::Fail => {
                let _ = write!(
                    s,
                    "\n      <failure message=\"expected {}\" type=\"nonconformance\">{}</failure>",
                    xml(c.expected.as_deref().unwrap_or("")),
                    xml(&detail)
                );
            }
            Verdict::Known => {
                let _ = write!(
                    s,
                    "\n      <skipped message=\"known failure: {}\"/>",
                    xml(c.actual.as_deref().unwrap_or(""))
                );
            }
            Verdict::Skip => {
                let _ = write!(s, "\n      <skipped message=\"{}\"/>", xml(c.actual.as_deref().unwrap_or("")));
            }
            Verdict::Pass => {}
        }
        let mut out = c.transcript.join("\n");
        for v in &c.violations {
            let _ = write!(out, "\n{} {}: {} on {:?}", v.rule, v.severity, v.message, v.line);
        }
        let _ = writeln!(s, "\n      <system-out>{}</system-out>\n    </testcase>", xml(&out));
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}

/// The catalog as the Markdown of `docs/check-server.md`.
pub fn markdown() -> String {
    let mut s = String::from(
        "# check-server cases\n\nGenerated by `msntap check-server --list --markdown`; a test holds this file to it.\n\
         [D] is the IETF draft (draft-movva-msn-messenger-protocol-00), by section; [Y cmd/x] is the\n\
         msnp-wiki's page of command x. A case offers its dialects in VER, newest first, and speaks the\n\
         one the server picks (`--dialect N` offers only N and runs only the cases that apply to it); a\n\
         server that speaks none of them skips the case. From MSNP8 the login is Passport's (TWN): the\n\
         cases send the ticket a server that issues tickets locally accepts, as `msntap serve` does\n\
         (`t=` MD5 of policy and password, `&p=` MD5 of password and policy). `users` is the number of\n\
         accounts (`--user`) a case needs; cases that need more than were given are skipped. Cases that\n\
         change lists, groups, names or settings put them back, except `add-present-215` and\n\
         `add-al-bl-219`, which leave the second account in the first one's forward and allow lists,\n\
         and the MSNP13 cases, whose ADL lists the other accounts (in FL and AL) as a client does.\n\
         A server that refuses the locally issued ticket (911) skips the later cases that log in.\n\n\
         | id | checks | citation | dialects | users |\n|---|---|---|---|---|\n",
    );
    for c in CASES {
        let _ = writeln!(s, "| `{}` | {} | {} | {} | {} |", c.id, c.title, c.cite, c.dialect_range(), c.users);
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn xml_escapes_markup_and_controls() {
        assert_eq!(super::xml("a<b>&\"'\u{1b}\u{ffff}"), "a&lt;b&gt;&amp;&quot;&apos;\\x{1b}\\x{ffff}");
    }

    #[test]
    fn case_ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = super::CASES.iter().map(|c| c.id).collect();
        assert!(ids.len() >= 30);
        for id in &ids {
            let parts: Vec<&str> = id.split('/').collect();
            let n: Option<u8> = parts[0].strip_prefix("msnp").and_then(|n| n.parse().ok());
            assert!(parts.len() == 3 && n.is_some() && !parts[2].is_empty(), "{id}");
        }
        for c in super::CASES {
            // A case's id names the oldest dialect it applies to.
            assert_eq!(c.id.split('/').next(), Some(format!("msnp{}", c.dialects.0).as_str()), "{}", c.id);
            assert!(c.dialects.0 <= c.dialects.1, "{}", c.id);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), super::CASES.len());
    }
}
