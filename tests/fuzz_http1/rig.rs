//! The two gateways under test, each in front of its own scripted upstream,
//! and the client side of an exchange over a raw socket.
//!
//! Self-contained on purpose (tests/common is being restructured): it uses
//! only restgate's config loader and `Server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio::time::Instant;

pub use super::outcome::{Outcome, classify_failure, normalise};
use super::wire::{self, Expect, Resp, Seen, Tail};

/// The gateways' `header_read_timeout`: a head that never completes is
/// dropped after it on both paths.
const HEADER_READ_TIMEOUT: &str = "1s";
/// The gateways' `upstream.response_timeout`: an upstream that never
/// finishes its response head is a 504 after it.
const RESPONSE_TIMEOUT: &str = "1s";
/// How long a client waits for what it expects; past both timeouts above.
pub const DEADLINE: Duration = Duration::from_millis(3000);

// === the scripted upstream ===

/// What the upstream does after writing a scripted answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Closes its side and drains the rest (a lingering close, no reset).
    Close,
    /// Keeps the connection and reads the next request.
    Open,
}

/// One scripted answer: written as is, whatever it says.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub bytes: Vec<u8>,
    pub then: Then,
}

/// A raw TCP upstream that reads requests with the strict reader in
/// [`wire`], records them, and answers the case's script in order (then a
/// well-formed keep-alive `200` naming the request's index).
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    state: Arc<Mutex<UpState>>,
}

#[derive(Default)]
struct UpState {
    case: u64,
    script: Vec<Scripted>,
    next: usize,
    seen: Vec<Seen>,
    conns: Vec<AbortHandle>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state: Arc<Mutex<UpState>> = Arc::default();
        let accepting = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let mut s = accepting.lock().unwrap();
                let task = tokio::spawn(serve(stream, s.case, accepting.clone()));
                s.conns.push(task.abort_handle());
            }
        });
        Upstream { addr, state }
    }

    /// Starts case `case`: every connection of the last one is closed, the
    /// record is emptied and `script` answers the next requests.
    pub fn begin(&self, case: u64, script: Vec<Scripted>) {
        let mut s = self.state.lock().unwrap();
        for c in s.conns.drain(..) {
            c.abort();
        }
        s.case = case;
        s.script = script;
        s.next = 0;
        s.seen.clear();
    }

    /// Every request recorded in this case, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

/// The answer to request `index` when the script has none: a keep-alive 200
/// whose body names the index (so a swapped or repeated request shows).
fn standard(index: usize, head: bool) -> Vec<u8> {
    let body = format!("ok {index}\n");
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

async fn serve(mut stream: TcpStream, case: u64, state: Arc<Mutex<UpState>>) {
    let mut buf = Vec::with_capacity(8192);
    loop {
        let (seen, used) = loop {
            match wire::read_request(&buf) {
                wire::Read::Done(seen, used) => break (seen, used),
                wire::Read::Bad(why) => {
                    {
                        let mut s = state.lock().unwrap();
                        if s.case == case {
                            s.seen.push(Seen::Refused(why));
                        }
                    }
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    linger(stream).await;
                    return;
                }
                wire::Read::More => match stream.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
            }
        };
        buf.drain(..used);
        let head = matches!(&seen, Seen::Request { method, .. } if method == "HEAD");
        let answer = {
            let mut s = state.lock().unwrap();
            if s.case != case {
                return;
            }
            let i = s.next;
            s.next += 1;
            s.seen.push(seen);
            s.script.get(i).cloned().unwrap_or_else(|| Scripted {
                bytes: standard(i, head),
                then: Then::Open,
            })
        };
        if stream.write_all(&answer.bytes).await.is_err() {
            return;
        }
        if answer.then == Then::Close {
            linger(stream).await;
            return;
        }
    }
}

/// Closes the writing side, then reads until the peer closes (bounded), so
/// unread bytes never turn the close into a reset that could discard what
/// was written.
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

// === the gateways ===

/// A gateway served in-process in front of an upstream.
pub struct Gateway {
    pub addr: SocketAddr,
    /// Whether the fast path is on, as the loaded config says (the
    /// environment can turn it off whatever the file says).
    pub fast_http1: bool,
    reloader: restgate::server::Reloader,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Auth off (a pure pass-through: every request reaches the upstream
    /// without a provider), short timeouts, `fast_http1` as given.
    pub async fn start(fast_http1: bool, upstream: SocketAddr) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("restgate.toml");
        let toml = format!(
            r#"
[server]
fast_http1 = {fast_http1}
header_read_timeout = "{HEADER_READ_TIMEOUT}"

[upstream]
url = "http://{upstream}"
response_timeout = "{RESPONSE_TIMEOUT}"

[auth]
enabled = false
"#
        );
        std::fs::write(&path, toml).unwrap();
        let config = restgate::config::load(&path)
            .unwrap_or_else(|e| panic!("the fuzzer's gateway config is invalid:\n{e}"));
        let fast_http1 = config.server.fast_http1;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = restgate::server::Server::from_listener(listener, Arc::new(config));
        let reloader = server.reloader(path);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Gateway {
            addr,
            fast_http1,
            reloader,
            _stop: stop,
            _dir: dir,
        }
    }

    /// A new stack from the same file, so a new upstream pool: no case
    /// inherits an upstream connection an earlier one left behind.
    pub fn fresh_pool(&self) {
        self.reloader
            .reload()
            .unwrap_or_else(|e| panic!("reload failed:\n{e}"));
    }
}

// === the client side ===

/// How the client ends its side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Never closes: reads until the gateway closes (the stream asks it to),
    /// or until the answers it expects are in.
    Open,
    /// Once the answers it expects are in, closes its writing side, then
    /// reads until the gateway closes: an early close after whatever
    /// incomplete request is left.
    HalfClose,
    /// Closes its writing side right after writing, then reads until the
    /// gateway closes: an early close with requests still unanswered.
    HalfCloseAtOnce,
}

/// How a client's reading ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The gateway closed the connection (FIN, or a reset after it: the
    /// kernel hands over every byte received before a reset).
    Closed,
    /// The expected answers were in and the connection is being kept: the
    /// client stopped reading.
    Enough,
    /// Neither, by the deadline.
    Deadline,
}

/// What one client connection got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientView {
    pub responses: Vec<Resp>,
    pub tail: Tail,
    pub end: End,
}

/// Sends `bytes` on a new connection to `addr` and reads the answers; the
/// connection is returned open, for [`drain`] once the upstream's record is
/// taken.
pub async fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    mode: Mode,
    expect: &Expect,
) -> (ClientView, TcpStream) {
    let deadline = Instant::now() + DEADLINE;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.split();
    let (shut, shut_now) = tokio::sync::oneshot::channel::<()>();
    let writer = async move {
        // The gateway may close before reading it all (a refusal): fine.
        let _ = wr.write_all(bytes).await;
        if mode == Mode::HalfCloseAtOnce {
            let _ = wr.shutdown().await;
        }
        if mode == Mode::HalfClose && shut_now.await.is_ok() {
            let _ = wr.shutdown().await;
        }
        // Keep the writing half (and so the connection) until the reader is done.
        std::future::pending::<()>().await;
    };
    let reader = async move {
        let mut shut = Some(shut);
        let mut got = Vec::new();
        let to_eof = expect.close || expect.answers == 0 || mode == Mode::HalfCloseAtOnce;
        loop {
            let (responses, tail, finals) = wire::read_responses(&got, false, &expect.heads);
            if finals >= expect.answers && tail == Tail::Clean {
                match mode {
                    Mode::HalfClose => {
                        if let Some(s) = shut.take() {
                            let _ = s.send(());
                        }
                    }
                    Mode::Open if !to_eof => {
                        return ClientView {
                            responses,
                            tail,
                            end: End::Enough,
                        };
                    }
                    Mode::Open | Mode::HalfCloseAtOnce => {}
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let end = match tokio::time::timeout_at(deadline, rd.read(&mut chunk)).await {
                Err(_) => End::Deadline,
                Ok(Ok(0) | Err(_)) => End::Closed,
                Ok(Ok(n)) => {
                    got.extend_from_slice(&chunk[..n]);
                    continue;
                }
            };
            let (responses, tail, _) =
                wire::read_responses(&got, end == End::Closed, &expect.heads);
            return ClientView {
                responses,
                tail,
                end,
            };
        }
    };
    let view = tokio::select! {
        view = reader => view,
        () = writer => unreachable!("the writer never ends"),
    };
    (view, stream)
}

/// Ends a client connection and waits (at most a second) until the gateway
/// has closed it: then no request of it is still on its way to the
/// upstream, where it would land in the next case's record (a pipelined
/// request the gateway had read but the client no longer waited for).
pub async fn drain(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 16 * 1024];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
