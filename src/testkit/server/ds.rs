//! The dispatch server: VER, CVR or INF, and the login's first USR answered with a referral to
//! the notification server, in the client's dialect.

use super::{common, Ctx};
use crate::testkit::conn::LineConn;
use crate::testkit::flavor::Flavor;

/// Serves one dispatch connection.
pub(super) async fn dispatch(mut c: LineConn, ctx: &Ctx) -> std::io::Result<()> {
    let mut flavor = Flavor::MSNP2;
    while let Some(m) = c.recv().await? {
        match m.verb() {
            "VER" | "INF" | "CVR" => {
                if !common(&mut c, &m, &mut flavor, ctx).await? {
                    break;
                }
            }
            "USR" if m.arg(2) == flavor.scheme() && m.arg(3) == "I" => {
                let (ns, ds) = (ctx.addrs.ns.to_string(), ctx.addrs.ds.to_string());
                c.send(&flavor.xfr_ns(m.arg(1), &ns, &ds)).await?;
                break;
            }
            "OUT" => break,
            _ => {
                c.send(&format!("200 {}", m.arg(1))).await?;
                break;
            }
        }
    }
    c.close().await
}
