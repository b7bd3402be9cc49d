//! A hub of its own: `nats-server -js` (Debian's package) on 127.0.0.1 and a free port, with
//! its store in a temporary folder, stopped when dropped. For the tests and the benchmarks,
//! which must never depend on a hub someone else runs.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LocalHub {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
}

fn nats_server() -> io::Result<PathBuf> {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "nats-server is not installed: `scripts/setup.sh` installs Debian's package (apt install nats-server)",
            )
        })
}

impl LocalHub {
    /// Starts one and waits until it takes connections.
    pub fn start() -> io::Result<LocalHub> {
        LocalHub::start_with(tempfile::tempdir()?)
    }

    /// Starts one with its store in a new folder under `parent` (the benchmarks put it on
    /// another disk, or in memory, as a hub on another machine would be).
    pub fn start_in(parent: &Path) -> io::Result<LocalHub> {
        LocalHub::start_with(tempfile::tempdir_in(parent)?)
    }

    fn start_with(store: tempfile::TempDir) -> io::Result<LocalHub> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut hub = LocalHub { child: None, port, store };
        hub.restart()?;
        Ok(hub)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Where it keeps its streams.
    pub fn store(&self) -> &Path {
        self.store.path()
    }

    /// Kills it (as a crash or a pulled cable would); the store stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, on the same port and store (after [`LocalHub::stop`]; a no-op while it runs).
    pub fn restart(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let child = Command::new(nats_server()?)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                self.stop();
                return Err(io::Error::new(io::ErrorKind::TimedOut, "nats-server did not start within 20 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for LocalHub {
    fn drop(&mut self) {
        self.stop();
    }
}
