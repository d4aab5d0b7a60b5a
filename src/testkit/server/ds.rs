//! The dispatch server: VER, INF, and the login's first USR answered with a referral to the
//! notification server.

use super::{common, Ctx};
use crate::testkit::conn::LineConn;

/// Serves one dispatch connection.
pub(super) async fn dispatch(mut c: LineConn, ctx: &Ctx) -> std::io::Result<()> {
    while let Some(m) = c.recv().await? {
        match m.verb() {
            "VER" | "INF" => {
                if !common(&mut c, &m).await? {
                    break;
                }
            }
            "USR" if m.arg(2) == "MD5" && m.arg(3) == "I" => {
                c.send(&format!("XFR {} NS {}", m.arg(1), ctx.addrs.ns)).await?;
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
