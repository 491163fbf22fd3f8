//! Real Redis servers for the multi-process tests: a standalone server, a
//! three-master Redis Cluster, a blocking RESP client to look inside them, and
//! a TCP relay that lets a test cut one client off from Redis.
//!
//! Every process started here is killed by pid and reaped when its owner is
//! dropped, so a failing test leaves nothing running. Readiness is always a
//! polled condition with a deadline (PING answered by *our* pid, cluster_state
//! ok), never a fixed sleep.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a server (or the cluster) may take to become ready.
const READY: Duration = Duration::from_secs(20);
/// Redis Cluster nodes talk on the bus port, always the client port + 10000.
const BUS_OFFSET: u16 = 10000;

/// Polls `f` with a short backoff until it returns `Some`, or gives up
/// (`None`) after `timeout`.
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// A port that is free now (and, for a cluster node, whose bus port is too).
/// Never 6379/16379, so a system redis-server service does not matter.
fn pick_port(with_bus: bool) -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        let bus_free = || {
            port < u16::MAX - BUS_OFFSET
                && TcpListener::bind(("127.0.0.1", port + BUS_OFFSET)).is_ok()
        };
        if port != 6379 && (!with_bus || bus_free()) {
            return port;
        }
    }
}

/// A `redis-server` child on 127.0.0.1 with no persistence: a restarted
/// server comes back empty, on the same port.
#[allow(dead_code, reason = "each test binary uses part of this harness")]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    extra: Vec<String>,
    dir: tempfile::TempDir,
}

#[allow(dead_code, reason = "each test binary uses part of this harness")]
impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(None, |_| Vec::new(), false)
    }

    /// A server that demands `AUTH pw` (`--requirepass`).
    pub fn start_with_password(pw: &str) -> RedisServer {
        Self::start_with(Some(pw.to_owned()), |_| Vec::new(), false)
    }

    /// Starts on fresh ports until one sticks: a port picked free can still be
    /// taken by another process before redis binds it. `extra` gives more
    /// arguments for a port.
    fn start_with(
        password: Option<String>,
        extra: impl Fn(u16) -> Vec<String>,
        bus: bool,
    ) -> RedisServer {
        let mut last = String::new();
        for _ in 0..5 {
            let port = pick_port(bus);
            let mut s = RedisServer {
                child: None,
                port,
                password: password.clone(),
                extra: extra(port),
                dir: tempfile::tempdir().unwrap(),
            };
            match s.spawn(READY) {
                Ok(()) => return s,
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// Spawns on `self.port` and waits until it answers; on failure the child
    /// is reaped and the reason (with the log tail) returned.
    fn spawn(&mut self, timeout: Duration) -> Result<(), String> {
        let dir = self.dir.path().to_path_buf();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(pw) = &self.password {
            cmd.args(["--requirepass", pw]);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn redis-server: {e}"))?;
        let (pid, addr, pw) = (child.id(), self.addr(), self.password.clone());
        self.child = Some(child);
        let outcome = poll(timeout, || match self.child.as_mut()?.try_wait() {
            Ok(Some(status)) => Some(Err(format!("exited with {status}"))),
            _ => (answering_pid(addr, pw.as_deref()) == Some(pid)).then_some(Ok(())),
        });
        let err = match outcome {
            Some(Ok(())) => return Ok(()),
            Some(Err(e)) => e,
            None => format!("no PONG within {timeout:?}"),
        };
        self.stop();
        Err(format!("{err}; log:\n{}", log_tail(&dir)))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The running child's pid. Panics when the server is stopped.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("redis-server is stopped").id()
    }

    /// Kills the server (SIGKILL by pid) and reaps it; afterwards connections
    /// to the port are refused. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs and starts it again on the same port,
    /// retrying until the port binds. The data is gone (no persistence).
    pub fn restart(&mut self) {
        self.stop();
        let mut last = String::new();
        let deadline = Instant::now() + READY;
        let started = poll(READY, || {
            let e = self.spawn(deadline.saturating_duration_since(Instant::now()));
            e.map_err(|e| last = e).ok()
        });
        assert!(
            started.is_some(),
            "redis-server did not restart on port {}: {last}",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The pid of whatever redis answers PING at `addr`: proof that the server is
/// up *and* that it is ours, not another test's that took the port.
fn answering_pid(addr: SocketAddr, password: Option<&str>) -> Option<u32> {
    let mut c = RespConn::connect(addr).ok()?;
    if let Some(pw) = password {
        c.call(&[b"AUTH", pw.as_bytes()]).ok()?;
    }
    if c.call(&[b"PING"]).ok()? != RespValue::Simple("PONG".into()) {
        return None;
    }
    let info = c.call(&[b"INFO", b"server"]).ok()?.into_bytes()?;
    info_field(&info, "process_id")?.parse().ok()
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// `name:value` from an INFO / CLUSTER INFO reply.
fn info_field(info: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(info).lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == name).then(|| v.trim().to_owned())
    })
}

/// Three masters with all 16384 slots assigned, no replicas.
#[allow(dead_code, reason = "each test binary uses part of this harness")]
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

#[allow(dead_code, reason = "each test binary uses part of this harness")]
impl RedisCluster {
    pub fn start() -> RedisCluster {
        // Each node has its own directory; the config file name carries the
        // port so a restarted node finds its own cluster identity again.
        let cluster_args = |port: u16| {
            let conf = format!("nodes-{port}.conf");
            ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"]
                .into_iter()
                .chain(["--cluster-config-file", &conf])
                .map(String::from)
                .collect()
        };
        let nodes = (0..3)
            .map(|_| RedisServer::start_with(None, cluster_args, true))
            .collect();
        let cluster = RedisCluster { nodes };
        let out_path = cluster.nodes[0].dir.path().join("create.out");
        let out = std::fs::File::create(&out_path).unwrap();
        let mut create = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(cluster.ports().iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("redis-cli starts");
        let output = || std::fs::read_to_string(&out_path).unwrap_or_default();
        let Some(status) = poll(READY, || create.try_wait().unwrap()) else {
            let _ = create.kill();
            let _ = create.wait();
            panic!("redis-cli --cluster create hangs:\n{}", output());
        };
        assert!(
            status.success(),
            "redis-cli --cluster create failed:\n{}",
            output()
        );
        for addr in cluster.addrs() {
            let info = || {
                command(addr, &[b"CLUSTER", b"INFO"])
                    .into_bytes()
                    .unwrap_or_default()
            };
            let ready = poll(READY, || {
                let i = info();
                (info_field(&i, "cluster_state").as_deref() == Some("ok")
                    && info_field(&i, "cluster_known_nodes").as_deref() == Some("3"))
                .then_some(())
            });
            if ready.is_none() {
                let info = String::from_utf8_lossy(&info()).into_owned();
                panic!("{addr} never reached cluster_state:ok:\n{info}");
            }
        }
        cluster
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr()).collect()
    }

    /// `redis://127.0.0.1:P` per node (a cluster has only database 0).
    pub fn urls(&self) -> Vec<String> {
        self.ports()
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// Runs a keyed command on the node that owns its slot, following
    /// `-MOVED` and `-ASK` redirections.
    pub fn command(&self, args: &[&[u8]]) -> RespValue {
        let mut addr = self.nodes[0].addr().to_string();
        let mut asking = false;
        for _ in 0..5 {
            let mut c = RespConn::connect(addr.as_str()).expect("cluster node reachable");
            if asking {
                c.call(&[b"ASKING"]).unwrap();
            }
            let reply = c.call(args).expect("cluster node answers");
            match &reply {
                RespValue::Error(e) if e.starts_with("MOVED ") || e.starts_with("ASK ") => {
                    asking = e.starts_with("ASK ");
                    addr = e.split(' ').nth(2).expect("redirect target").to_owned();
                }
                _ => return reply,
            }
        }
        panic!("too many redirections for {args:?}");
    }
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespValue {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<RespValue>>),
}

#[allow(dead_code, reason = "each test binary uses part of this harness")]
impl RespValue {
    /// The bytes of a bulk or simple string; `None` for anything else.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            RespValue::Bulk(b) => b,
            RespValue::Simple(s) => Some(s.into_bytes()),
            _ => None,
        }
    }

    /// Every bulk/simple/integer leaf, depth first, as bytes.
    pub fn flatten(self) -> Vec<Vec<u8>> {
        match self {
            RespValue::Array(a) => a.into_iter().flatten().flat_map(Self::flatten).collect(),
            RespValue::Int(i) => vec![i.to_string().into_bytes()],
            other => other.into_bytes().into_iter().collect(),
        }
    }
}

/// One blocking RESP connection (for AUTH, or several calls in one session).
#[allow(dead_code, reason = "each test binary uses part of this harness")]
pub struct RespConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

#[allow(dead_code, reason = "each test binary uses part of this harness")]
impl RespConn {
    /// Connects with 10 s I/O timeouts, so a wedged server fails the test
    /// instead of hanging it.
    pub fn connect(addr: impl ToSocketAddrs) -> std::io::Result<RespConn> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        s.set_nodelay(true)?;
        Ok(RespConn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    /// Sends one command; a Redis error is `Ok(RespValue::Error)`, a broken
    /// connection is `Err` (EOF is `UnexpectedEof`).
    pub fn call(&mut self, args: &[&[u8]]) -> std::io::Result<RespValue> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend(format!("${}\r\n", a.len()).bytes());
            req.extend_from_slice(a);
            req.extend(b"\r\n");
        }
        self.writer.write_all(&req)?;
        read_value(&mut self.reader)
    }
}

fn read_value(r: &mut impl BufRead) -> std::io::Result<RespValue> {
    use std::io::{Error, ErrorKind};
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        return Err(Error::new(
            ErrorKind::UnexpectedEof,
            "connection closed mid-reply",
        ));
    }
    let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    let bad = || Error::new(ErrorKind::InvalidData, format!("bad RESP line {text:?}"));
    let len = || text.parse::<i64>().map_err(|_| bad());
    Ok(match line[0] {
        b'+' => RespValue::Simple(text),
        b'-' => RespValue::Error(text),
        b':' => RespValue::Int(len()?),
        b'$' if len()? < 0 => RespValue::Bulk(None),
        b'$' => {
            let mut buf = vec![0; len()? as usize + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(buf.len() - 2);
            RespValue::Bulk(Some(buf))
        }
        b'*' if len()? < 0 => RespValue::Array(None),
        b'*' => RespValue::Array(Some(
            (0..len()?)
                .map(|_| read_value(r))
                .collect::<Result<_, _>>()?,
        )),
        _ => return Err(bad()),
    })
}

/// One command on a fresh connection, or the I/O error (refused, closed).
#[allow(dead_code, reason = "each test binary uses part of this harness")]
pub fn try_command(addr: impl ToSocketAddrs, args: &[&[u8]]) -> std::io::Result<RespValue> {
    RespConn::connect(addr)?.call(args)
}

/// One command on a fresh connection; panics if the server is unreachable.
#[allow(dead_code, reason = "each test binary uses part of this harness")]
pub fn command(addr: impl ToSocketAddrs + std::fmt::Debug, args: &[&[u8]]) -> RespValue {
    let what = format!("{addr:?}");
    try_command(addr, args).unwrap_or_else(|e| panic!("redis at {what}: {e}"))
}

/// Every key on one server (SCAN, not KEYS), sorted.
#[allow(dead_code, reason = "each test binary uses part of this harness")]
pub fn keys(addr: SocketAddr) -> Vec<Vec<u8>> {
    let mut conn = RespConn::connect(addr).expect("redis reachable");
    let mut cursor = b"0".to_vec();
    let mut all = Vec::new();
    loop {
        // The reply is [cursor, [key...]]: flattened, the cursor comes first.
        let mut reply = conn
            .call(&[b"SCAN", &cursor, b"COUNT", b"1000"])
            .unwrap()
            .flatten();
        assert!(!reply.is_empty(), "SCAN gave no cursor");
        cursor = reply.remove(0);
        all.extend(reply);
        if cursor == b"0" {
            break;
        }
    }
    all.sort();
    all.dedup();
    all
}

/// Every key with its content, sorted by key: `(key, [type, content...])`.
/// Content is byte strings: a set's members and a hash's field/value pairs
/// sorted (their order is not stable), a zset as member/score pairs by score,
/// a list in order, a stream as id, field, value, ... in id order.
#[allow(dead_code, reason = "each test binary uses part of this harness")]
pub fn dump_all(addr: SocketAddr) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut conn = RespConn::connect(addr).expect("redis reachable");
    let mut out = Vec::new();
    for key in keys(addr) {
        let mut call = |args: &[&[u8]]| conn.call(args).expect("redis answers");
        let kind = call(&[b"TYPE", &key]).into_bytes().unwrap_or_default();
        let mut content = match kind.as_slice() {
            b"string" => call(&[b"GET", &key]).flatten(),
            b"set" => call(&[b"SMEMBERS", &key]).flatten(),
            b"zset" => call(&[b"ZRANGE", &key, b"0", b"-1", b"WITHSCORES"]).flatten(),
            b"hash" => call(&[b"HGETALL", &key]).flatten(),
            b"list" => call(&[b"LRANGE", &key, b"0", b"-1"]).flatten(),
            b"stream" => call(&[b"XRANGE", &key, b"-", b"+"]).flatten(),
            _ => continue, // expired or deleted since the SCAN
        };
        if kind == b"set" {
            content.sort();
        } else if kind == b"hash" {
            let mut pairs: Vec<Vec<Vec<u8>>> = content.chunks(2).map(<[_]>::to_vec).collect();
            pairs.sort();
            content = pairs.concat();
        }
        content.insert(0, kind);
        out.push((key, content));
    }
    out
}

/// `dump_all` of every node, concatenated and sorted by key.
#[allow(dead_code, reason = "each test binary uses part of this harness")]
pub fn dump_all_cluster(cluster: &RedisCluster) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut all: Vec<_> = cluster.addrs().into_iter().flat_map(dump_all).collect();
    all.sort();
    all
}

#[derive(Default)]
struct RelayState {
    cut: bool,
    stopped: bool,
    next: u64,
    /// Open relayed connections: (client side, Redis side).
    open: HashMap<u64, (TcpStream, TcpStream)>,
}

impl RelayState {
    fn close(&mut self, id: u64) {
        if let Some((a, b)) = self.open.remove(&id) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }
}

/// A TCP relay in front of Redis, so a test can cut one client's network
/// without touching the server or the other clients.
#[allow(dead_code, reason = "each test binary uses part of this harness")]
pub struct Relay {
    addr: SocketAddr,
    state: Arc<Mutex<RelayState>>,
    acceptor: Option<JoinHandle<()>>,
}

#[allow(dead_code, reason = "each test binary uses part of this harness")]
impl Relay {
    pub fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state: Arc<Mutex<RelayState>> = Arc::default();
        let shared = state.clone();
        let acceptor = std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                // Under the lock `cut` takes, so no connection slips through a
                // cut half-registered (a local connect is quick).
                let mut st = shared.lock().unwrap();
                if st.stopped {
                    return;
                }
                let upstream = (!st.cut).then(|| TcpStream::connect(target));
                let Some(Ok(upstream)) = upstream else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let id = st.next;
                st.next += 1;
                let pair = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                st.open.insert(id, pair);
                drop(st);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                    (upstream, client),
                ] {
                    let shared = shared.clone();
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        shared.lock().unwrap().close(id);
                    });
                }
            }
        });
        Relay {
            addr,
            state,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.addr.port())
    }

    /// Closes every relayed connection at once (both halves, both sides) and
    /// closes new ones as soon as they are accepted, until `restore`.
    pub fn cut(&self) {
        let mut st = self.state.lock().unwrap();
        st.cut = true;
        let ids: Vec<u64> = st.open.keys().copied().collect();
        ids.into_iter().for_each(|id| st.close(id));
    }

    /// Relays new connections again.
    pub fn restore(&self) {
        self.state.lock().unwrap().cut = false;
    }

    /// Relayed connections open right now.
    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().open.len()
    }

    /// Waits (bounded) until exactly `n` connections are open, e.g. for a
    /// client to reconnect after `restore`.
    pub fn wait_for_connections(&self, n: usize) {
        let done = poll(READY, || (self.connections() == n).then_some(()));
        assert!(
            done.is_some(),
            "{} relayed connections, want {n}",
            self.connections()
        );
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.state.lock().unwrap().stopped = true;
        // Wakes the acceptor blocked in accept so it sees `stopped`.
        let _ = TcpStream::connect(self.addr);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}
