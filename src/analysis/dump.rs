//! `--dump-streams DIR`: each direction's reassembled bytes in a file of its own.

use crate::flow::Dir;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Writes each direction's reassembled bytes to a file of its own (`--dump-streams`).
pub struct StreamDump {
    dir: std::path::PathBuf,
    open: HashMap<(u64, Dir), std::io::BufWriter<std::fs::File>>,
    names: HashMap<u64, (SocketAddr, SocketAddr)>,
    /// The first write error.
    pub error: Option<std::io::Error>,
}

/// Files kept open at once by [`StreamDump`]; others are reopened for appending.
const DUMP_OPEN_FILES: usize = 128;

impl StreamDump {
    /// Dumps into `dir`, which is created if needed.
    pub fn new(dir: &std::path::Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(StreamDump { dir: dir.to_path_buf(), open: HashMap::new(), names: HashMap::new(), error: None })
    }

    /// Keeps the first error (the one reported at the end) and logs it; writing stops.
    fn fail(&mut self, e: std::io::Error) {
        if self.error.is_none() {
            tracing::debug!(dir = %crate::escape::sanitize(&self.dir.display().to_string()), error = %e, "cannot write --dump-streams files; dumping stops (reported at the end)");
            self.error = Some(e);
        }
    }

    /// The file of a connection's direction: `0001_10.0.0.1.40000_10.0.0.2.1863_c2s.bin`
    /// (IPv6 colons become dashes).
    pub fn file_name(id: u64, client: SocketAddr, server: SocketAddr, dir: Dir) -> String {
        let ep = |a: SocketAddr| format!("{}.{}", a.ip(), a.port()).replace(':', "-");
        format!("{id:04}_{}_{}_{}.bin", ep(client), ep(server), dir.as_str())
    }

    pub(super) fn start(&mut self, id: u64, client: SocketAddr, server: SocketAddr) {
        for d in [Dir::C2S, Dir::S2C] {
            if let Err(e) = std::fs::File::create(self.dir.join(Self::file_name(id, client, server, d))) {
                self.fail(e);
            }
        }
        self.names.insert(id, (client, server));
    }

    pub(super) fn write(&mut self, id: u64, dir: Dir, bytes: &[u8]) {
        use std::io::Write;
        if self.error.is_some() {
            return;
        }
        if !self.open.contains_key(&(id, dir)) {
            if self.open.len() >= DUMP_OPEN_FILES {
                let open = std::mem::take(&mut self.open);
                for (_, mut w) in open {
                    if let Err(e) = w.flush() {
                        self.fail(e);
                    }
                }
            }
            let Some(&(client, server)) = self.names.get(&id) else {
                return;
            };
            let path = self.dir.join(Self::file_name(id, client, server, dir));
            match std::fs::OpenOptions::new().append(true).open(path) {
                Ok(f) => {
                    self.open.insert((id, dir), std::io::BufWriter::new(f));
                }
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
        if let Some(w) = self.open.get_mut(&(id, dir)) {
            if let Err(e) = w.write_all(bytes) {
                self.fail(e);
            }
        }
    }

    pub(super) fn finish_connection(&mut self, id: u64) {
        use std::io::Write;
        for d in [Dir::C2S, Dir::S2C] {
            if let Some(mut w) = self.open.remove(&(id, d)) {
                if let Err(e) = w.flush() {
                    self.fail(e);
                }
            }
        }
        self.names.remove(&id);
    }
}
