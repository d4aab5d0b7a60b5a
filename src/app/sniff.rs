//! `msntap sniff`: live traffic from an interface, analysed exactly as `read` analyses a file,
//! optionally saved as pcapng while it is read.

use super::{analyse, AnalysisConfig, Error, Finished};
use crate::analysis::Pipeline;
use crate::capture::live;
use crate::capture::write::PcapNgWriter;
use crate::flow::LinkType;
use crate::output::json::{Source, SourceKind};
use crate::output::outputs::OutputConfig;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What `sniff` does.
#[derive(Debug, Clone)]
pub struct SniffConfig {
    /// The interface.
    pub interface: String,
    /// The capture filter (BPF).
    pub bpf: String,
    /// Also save what was captured here.
    pub write: Option<PathBuf>,
    /// Stop after this long (default: at Ctrl-C or SIGTERM).
    pub duration: Option<Duration>,
    /// The analysis.
    pub analysis: AnalysisConfig,
    /// The outputs.
    pub output: OutputConfig,
}

/// The interfaces that can be captured on: name and description.
pub fn interfaces() -> Result<Vec<(String, Option<String>)>, Error> {
    live::interfaces().map_err(|e| Error::Failed(e.to_string()))
}

type Saver = (PcapNgWriter<std::io::BufWriter<std::fs::File>>, u32, Option<LinkType>);

/// Captures until stopped.
pub fn sniff(cfg: &SniffConfig) -> Result<Finished, Error> {
    let iface = cfg.interface.clone();
    let stop = stop_flag(cfg.duration);
    let mut writer: Option<Saver> = match &cfg.write {
        Some(p) => {
            let cannot = |e| Error::because(format!("cannot create {}", p.display()), e);
            let f = std::fs::File::create(p).map_err(cannot)?;
            let mut w = PcapNgWriter::new(std::io::BufWriter::new(f), "msntap sniff").map_err(cannot)?;
            let iface_id = w.interface(LinkType::ETHERNET, &iface).map_err(cannot)?;
            Some((w, iface_id, None))
        }
        None => None,
    };
    let source = Source { kind: SourceKind::Live, path: Some(iface.clone()), format: None };
    let label = format!("interface {iface}");
    let mut write_error = None;
    let stdout = || -> Box<dyn Write> { Box::new(std::io::BufWriter::new(std::io::stdout())) };
    let finished = analyse(&cfg.analysis, &cfg.output, &label, source, &stdout, None, |analyzer, limits| {
        let mut pipe = Pipeline::new(limits);
        let ready = || eprintln!("msntap sniff: capturing on {iface} with filter {:?}", cfg.bpf);
        let r = live::run(&iface, &cfg.bpf, &stop, ready, |link, ts, data, wire| {
            if let Some((w, id, seen)) = writer.as_mut() {
                // The pcapng interface was declared as Ethernet; other link types get their own.
                if *seen != Some(link) {
                    if link != LinkType::ETHERNET {
                        if let Ok(new) = w.interface(link, "live") {
                            *id = new;
                        }
                    }
                    *seen = Some(link);
                }
                if let Err(e) = w.packet(*id, ts, data, wire) {
                    write_error.get_or_insert(e);
                }
            }
            analyzer.packet(&mut pipe, link, ts, data, 0);
        });
        analyzer.end(pipe);
        match r {
            Ok((n, dropped)) => {
                if dropped > 0 {
                    // Lost packets show up as gaps in the streams; this says why.
                    tracing::warn!(interface = %crate::escape::sanitize(&iface), dropped, captured = n, "libpcap dropped packets; they show as gaps");
                }
                None
            }
            Err(e) => Some(e.to_string()),
        }
    })?;
    if let Some((w, _, _)) = writer {
        w.finish().map_err(|e| Error::because("writing the --write file", e))?;
    }
    if let Some(e) = write_error {
        return Err(Error::because("writing the --write file", e));
    }
    Ok(finished)
}

/// A flag that Ctrl-C, SIGTERM or the end of `duration` sets; the handlers are registered
/// before this returns, so no signal is lost once capturing starts.
fn stop_flag(duration: Option<Duration>) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            rt.block_on(async {
                let signals = super::proxy::stop_signal(duration);
                let _ = ready_tx.send(());
                signals.await;
            });
        }
        flag.store(true, Ordering::Relaxed);
    });
    let _ = ready_rx.recv();
    stop
}
