//! A hub of its own: `nats-server -js` (Debian's package) on 127.0.0.1 and a free port, with
//! its store in a temporary folder, stopped when dropped. For the tests and the benchmarks,
//! which must never depend on a hub someone else runs. [`LocalCluster`] is three (or more) of
//! them as one JetStream cluster, any of which can be killed and started again.

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
    /// A configuration file of its own (`nats-server -c`), instead of the plain flags.
    config: Option<PathBuf>,
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
        let mut hub = LocalHub { child: None, port, store, config: None };
        hub.restart()?;
        Ok(hub)
    }

    /// Starts one with a configuration file of its own: `config(port, folder)` writes it for
    /// a free port, with anything it needs (certificates, the JetStream store) kept in the
    /// temporary `folder`. Its log is `nats-server.log` there.
    pub fn start_configured(config: impl FnOnce(u16, &Path) -> io::Result<String>) -> io::Result<LocalHub> {
        let store = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let file = store.path().join("nats-server.conf");
        std::fs::write(&file, config(port, store.path())?)?;
        let mut hub = LocalHub { child: None, port, store, config: Some(file) };
        hub.restart()?;
        Ok(hub)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it takes clients on.
    pub fn port(&self) -> u16 {
        self.port
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
        let mut command = Command::new(nats_server()?);
        match &self.config {
            Some(file) => command.arg("-c").arg(file).arg("-l").arg(self.store.path().join("nats-server.log")),
            None => {
                command.args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"]).arg(self.store.path())
            }
        };
        let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        self.child = Some(child);
        if let Err(e) = wait_for_port(self.port) {
            self.stop();
            return Err(e);
        }
        Ok(())
    }
}

/// Waits until a server takes connections on `port` (at most 20 s).
fn wait_for_port(port: u16) -> io::Result<()> {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "nats-server did not start within 20 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

impl Drop for LocalHub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A JetStream cluster of its own: `nats-server -js` processes on 127.0.0.1, each with a
/// server name, a client port and a route port of its own (free ones) and a store folder of
/// its own, routed to each other as the cluster `countertop-local`. Each logs to
/// `NAME.log` in [`LocalCluster::dir`]. Any one can be killed ([`LocalCluster::stop`], as a
/// crash would) and started again on the same ports and store. All are stopped when dropped.
#[derive(Debug)]
pub struct LocalCluster {
    servers: Vec<Member>,
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Member {
    name: String,
    port: u16,
    route_port: u16,
    child: Option<Child>,
}

impl LocalCluster {
    /// Starts `size` servers and waits until the cluster takes a stream of three replicas.
    pub fn start(size: usize) -> io::Result<LocalCluster> {
        let dir = tempfile::tempdir()?;
        // Every port is held until all are chosen, so none is given twice.
        let listeners = (0..size * 2).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<io::Result<Vec<_>>>()?;
        let ports = listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect::<io::Result<Vec<u16>>>()?;
        drop(listeners);
        let servers = ports
            .chunks_exact(2)
            .enumerate()
            .map(|(i, p)| Member { name: format!("hub-{i}"), port: p[0], route_port: p[1], child: None })
            .collect();
        let mut cluster = LocalCluster { servers, dir };
        for i in 0..size {
            cluster.spawn(i)?;
        }
        for server in &cluster.servers {
            wait_for_port(server.port)?;
        }
        cluster.wait_for_jetstream()?;
        Ok(cluster)
    }

    /// Every server's address, comma-separated (as `countertop join` takes a cluster).
    pub fn url(&self) -> String {
        (0..self.servers.len()).map(|i| self.server_url(i)).collect::<Vec<_>>().join(",")
    }

    /// The address of server `i`.
    pub fn server_url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.servers[i].port)
    }

    /// The name of server `i` (`hub-0`, …), as the cluster reports a stream's leader.
    pub fn name(&self, i: usize) -> &str {
        &self.servers[i].name
    }

    /// Server `i` by its name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }

    /// Where the servers keep their stores and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills server `i` (SIGKILL: a crash or a pulled cable); its store stays.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut child) = self.servers[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts server `i` again on its ports and store (a no-op while it runs), and waits until
    /// it takes connections; it catches up with the others by itself.
    pub fn restart(&mut self, i: usize) -> io::Result<()> {
        if self.servers[i].child.is_some() {
            return Ok(());
        }
        self.spawn(i)?;
        wait_for_port(self.servers[i].port)
    }

    fn spawn(&mut self, i: usize) -> io::Result<()> {
        let routes = self
            .servers
            .iter()
            .filter(|s| s.name != self.servers[i].name)
            .map(|s| format!("nats://127.0.0.1:{}", s.route_port))
            .collect::<Vec<_>>()
            .join(",");
        let me = &self.servers[i];
        let store = self.dir.path().join(&me.name);
        let log = self.dir.path().join(format!("{}.log", me.name));
        let child = Command::new(nats_server()?)
            .args(["-js", "-a", "127.0.0.1", "-p", &me.port.to_string(), "--server_name", &me.name])
            .args(["--cluster_name", "countertop-local", "--cluster"])
            .arg(format!("nats://127.0.0.1:{}", me.route_port))
            .args(["--routes", &routes, "-sd"])
            .arg(store)
            .arg("-l")
            .arg(log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.servers[i].child = Some(child);
        Ok(())
    }

    /// Waits until the cluster has elected its JetStream leaders and places a stream of three
    /// replicas (it then takes a shop's stream at once): at most 30 s.
    fn wait_for_jetstream(&self) -> io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let url = self.url();
        rt.block_on(async {
            let started = Instant::now();
            let mut last = String::new();
            while started.elapsed() < Duration::from_secs(30) {
                let probe = async {
                    let client = async_nats::ConnectOptions::new()
                        .ignore_discovered_servers()
                        .connect(url.split(',').collect::<Vec<_>>())
                        .await
                        .map_err(|e| e.to_string())?;
                    let js = async_nats::jetstream::new(client);
                    let config = async_nats::jetstream::stream::Config {
                        name: "cluster-ready".into(),
                        subjects: vec!["cluster-ready".into()],
                        num_replicas: 3,
                        ..Default::default()
                    };
                    js.create_stream(config).await.map_err(|e| e.to_string())?;
                    js.delete_stream("cluster-ready").await.map_err(|e| e.to_string())?;
                    Ok::<(), String>(())
                };
                match tokio::time::timeout(Duration::from_secs(5), probe).await {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(e)) => last = e,
                    Err(_) => last = "no answer in 5 s".into(),
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(io::Error::new(io::ErrorKind::TimedOut, format!("the cluster took no stream within 30 s: {last}")))
        })
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.stop(i);
        }
    }
}
