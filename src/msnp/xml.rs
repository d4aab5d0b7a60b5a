//! The XML contact lists of MSNP13+ (ADL, RML, FQY payloads): `<ml>` of `<d n="domain">`
//! domains holding `<c n="local-part" l="lists" t="network"/>` contacts, and at most one `<t>`
//! of phone contacts [Y cmd/adl, rml, fqy]. Parsed with roxmltree; this module checks the shape.

/// A contact of an `<ml>` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// `local@domain`, or `tel:+...`.
    pub handle: String,
    /// The list bits (FL 1, AL 2, BL 4, RL 8, PL 16), when given.
    pub lists: Option<u32>,
    /// The network id, when given.
    pub network: Option<u32>,
}

/// Reads an `<ml>` list; `Err` says what is wrong with it.
pub fn check_ml(body: &[u8]) -> Result<Vec<Contact>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "payload is not UTF-8".to_string())?;
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "ml" {
        return Err(format!("root element <{}>, not <ml>", root.tag_name().name()));
    }
    let number = |n: &roxmltree::Node<'_, '_>, a: &str| -> Result<Option<u32>, String> {
        match n.attribute(a) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| format!("<c {a}={v:?}> is not a number")),
        }
    };
    let mut out = Vec::new();
    let mut phones = 0;
    for d in root.children().filter(|n| n.is_element()) {
        let tag = d.tag_name().name();
        let domain = match tag {
            "d" => d.attribute("n").filter(|n| !n.is_empty()).ok_or("<d> without n=\"domain\"")?,
            "t" => {
                phones += 1;
                if phones > 1 {
                    return Err("more than one <t> element".into());
                }
                ""
            }
            other => return Err(format!("<{other}> inside <ml> (only <d> and <t>)")),
        };
        for c in d.children().filter(|n| n.is_element()) {
            if c.tag_name().name() != "c" {
                return Err(format!("<{}> inside <{tag}> (only <c>)", c.tag_name().name()));
            }
            let n = c.attribute("n").filter(|n| !n.is_empty()).ok_or("<c> without n=\"name\"")?;
            let handle = if tag == "d" { format!("{n}@{domain}") } else { n.to_string() };
            out.push(Contact { handle, lists: number(&c, "l")?, network: number(&c, "t")? });
        }
    }
    Ok(out)
}

/// The `ADL` payload that puts `handles` in the forward and allow lists as Messenger users
/// (`l="3" t="1"`), grouped by domain in first-seen order [Y cmd/adl].
pub fn ml_payload(handles: &[&str]) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
    let mut domains: Vec<(&str, Vec<&str>)> = Vec::new();
    for h in handles {
        let (local, domain) = h.split_once('@').unwrap_or((h, ""));
        match domains.iter_mut().find(|(d, _)| *d == domain) {
            Some((_, ls)) => ls.push(local),
            None => domains.push((domain, vec![local])),
        }
    }
    let mut s = String::from("<ml l=\"1\">");
    for (d, locals) in domains {
        s.push_str(&format!("<d n=\"{}\">", esc(d)));
        for l in locals {
            s.push_str(&format!("<c n=\"{}\" l=\"3\" t=\"1\" />", esc(l)));
        }
        s.push_str("</d>");
    }
    s.push_str("</ml>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_of_the_wiki_read_and_broken_ones_say_why() {
        let ok = check_ml(br#"<ml><d n="hotmail.com"><c n="anotheruser" l="1" t="1" /></d></ml>"#).unwrap();
        assert_eq!(ok, vec![Contact { handle: "anotheruser@hotmail.com".into(), lists: Some(1), network: Some(1) }]);
        assert_eq!(check_ml(br#"<ml l="1"></ml>"#).unwrap(), vec![]);
        assert!(check_ml(br#"<ml><t><c n="tel:+15551111222" l="1"/></t></ml>"#).is_ok());
        for bad in [
            &b"<ml><d n=\"x.com\"><c n=\"a\" l=\"1\"></d></ml>"[..],
            b"<list/>",
            b"<ml><d><c n=\"a\"/></d></ml>",
            b"<ml><d n=\"x.com\"><c l=\"1\"/></d></ml>",
            b"<ml><d n=\"x.com\"><c n=\"a\" l=\"one\"/></d></ml>",
            b"<ml><x/></ml>",
            b"\xff\xfe",
        ] {
            assert!(check_ml(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
