//! A fuzz case, and running it through both gateways.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::rig::{self, ClientView, Gateway, Mode, Outcome, Scripted, Then, Upstream};
use super::wire::{self, esc, show};

/// One case: the same bytes go through the fast path and through hyper.
#[derive(Clone, PartialEq, Eq)]
pub enum Case {
    /// A client byte stream; the upstream answers every request it receives
    /// with a well-formed keep-alive 200.
    Request { bytes: Vec<u8>, mode: Mode },
    /// An upstream answer, written as is, to a plain `GET` (or `HEAD`).
    Response {
        ask: Ask,
        answer: Vec<u8>,
        then: Then,
    },
}

/// How a response case asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    /// `HEAD` rather than `GET`.
    pub head: bool,
    /// With `Connection: close`.
    pub close: bool,
    /// Then a `GET` on a new client connection, which may reuse the upstream
    /// connection if the pool kept it.
    pub second: bool,
    /// With `Expect: 100-continue` (bodyless all the same): the fast loop
    /// hands the connection to hyper's server, so with the fast path on
    /// hyper's server meets the fast client.
    pub via_hyper: bool,
}

impl Case {
    /// The first request of a response case.
    fn first_request(ask: Ask) -> Vec<u8> {
        let method = if ask.head { "HEAD" } else { "GET" };
        let close = if ask.close {
            "Connection: close\r\n"
        } else {
            ""
        };
        let expect = if ask.via_hyper {
            "Expect: 100-continue\r\n"
        } else {
            ""
        };
        format!("{method} /first HTTP/1.1\r\nHost: up.example\r\n{expect}{close}\r\n").into_bytes()
    }

    const SECOND: &'static [u8] =
        b"GET /second HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n";

    /// Every byte the case brings (for telling its own values from
    /// generated ones).
    fn input(&self) -> Vec<u8> {
        match self {
            Case::Request { bytes, .. } => bytes.clone(),
            Case::Response { ask, answer, .. } => {
                let mut v = Case::first_request(*ask);
                v.extend_from_slice(answer);
                v.extend_from_slice(Case::SECOND);
                v
            }
        }
    }

    /// The case as a seed table entry, to paste into seeds.rs (runs of a
    /// byte in inputs over 2 kB are written `[c × n]`: expand them).
    pub fn as_seed(&self) -> String {
        let esc = |b: &[u8]| if b.len() > 2048 { show(b) } else { esc(b) };
        match self {
            Case::Request { bytes, mode } => {
                format!("req(\"minimised\", {mode:?}, b\"{}\")", esc(bytes))
            }
            Case::Response { ask, answer, then } => format!(
                "res(\"minimised\", {ask:?}, Then::{then:?}, b\"{}\")",
                esc(answer)
            ),
        }
    }
}

/// Shown as a seed entry (proptest prints a failing case with it).
impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_seed())
    }
}

/// Both gateways and their upstreams.
pub struct Pair {
    pub fast: (Gateway, Upstream),
    pub hyper: (Gateway, Upstream),
    cases: AtomicU64,
}

impl Pair {
    pub async fn start() -> Pair {
        let up_fast = Upstream::start().await;
        let up_hyper = Upstream::start().await;
        let fast = Gateway::start(true, up_fast.addr).await;
        let hyper = Gateway::start(false, up_hyper.addr).await;
        Pair {
            fast: (fast, up_fast),
            hyper: (hyper, up_hyper),
            cases: AtomicU64::new(0),
        }
    }

    /// Runs `case` through both at once: (fast, hyper), normalised.
    pub async fn run(&self, case: &Case) -> (Outcome, Outcome) {
        let id = self.cases.fetch_add(1, Ordering::SeqCst) + 1;
        let (mut a, mut b) = tokio::join!(
            run_side(&self.fast.0, &self.fast.1, case, id),
            run_side(&self.hyper.0, &self.hyper.1, case, id)
        );
        let input = case.input();
        rig::normalise(&mut a, &input, &self.fast.1.addr.to_string());
        rig::normalise(&mut b, &input, &self.hyper.1.addr.to_string());
        (a, b)
    }
}

async fn run_side(gw: &Gateway, up: &Upstream, case: &Case, id: u64) -> Outcome {
    let mut client = Vec::new();
    let mut conns = Vec::new();
    match case {
        Case::Request { bytes, mode } => {
            up.begin(id, Vec::new());
            gw.fresh_pool();
            let expect = wire::expect(bytes);
            let (view, conn) = rig::exchange(gw.addr, bytes, *mode, &expect).await;
            client.push(view);
            conns.push(conn);
        }
        Case::Response { ask, answer, then } => {
            up.begin(
                id,
                vec![Scripted {
                    bytes: answer.clone(),
                    then: *then,
                }],
            );
            gw.fresh_pool();
            let first = Case::first_request(*ask);
            let (view, conn) =
                rig::exchange(gw.addr, &first, Mode::Open, &wire::expect(&first)).await;
            client.push(view);
            conns.push(conn);
            if ask.second {
                let expect = wire::expect(Case::SECOND);
                let (view, conn) = rig::exchange(gw.addr, Case::SECOND, Mode::Open, &expect).await;
                client.push(view);
                conns.push(conn);
            }
            client.iter_mut().for_each(rig::classify_failure);
        }
    }
    let upstream = up.seen();
    futures_util::future::join_all(conns.into_iter().map(rig::drain)).await;
    Outcome { client, upstream }
}

// === reporting ===

/// Both outcomes side by side, bytes escaped.
pub fn report(case: &Case, fast: &Outcome, hyper: &Outcome) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "case: {}", case.as_seed());
    for (name, o) in [("fast", fast), ("hyper", hyper)] {
        let _ = writeln!(out, "--- {name}: upstream received {}", o.upstream.len());
        for s in &o.upstream {
            let _ = writeln!(out, "    {}", show_seen(s));
        }
        for (i, v) in o.client.iter().enumerate() {
            let _ = writeln!(out, "--- {name}: client connection {i}: {}", show_view(v));
        }
    }
    out
}

fn show_headers(h: &wire::Headers) -> String {
    h.iter()
        .map(|(n, v)| format!("{n}: {}", show(v)))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn show_seen(s: &wire::Seen) -> String {
    match s {
        wire::Seen::Request {
            method,
            target,
            version,
            headers,
            body,
            trailers,
        } => format!(
            "{method} {} HTTP/1.{version} [{}] body \"{}\"{}",
            show(target),
            show_headers(headers),
            show(body),
            show_trailers(trailers)
        ),
        wire::Seen::Refused(why) => format!("REFUSED by the strict reader: {why}"),
    }
}

fn show_trailers(t: &[Vec<u8>]) -> String {
    if t.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = t.iter().map(|l| show(l)).collect();
    format!(" trailers [{}]", lines.join(" | "))
}

fn show_resp(r: &wire::Resp) -> String {
    format!(
        "HTTP/1.{} {} \"{}\" [{}] {:?} body \"{}\"{}",
        r.version,
        r.status,
        show(&r.reason),
        show_headers(&r.headers),
        r.framing,
        show(&r.body),
        show_trailers(&r.trailers)
    )
}

fn show_view(v: &ClientView) -> String {
    let mut out = format!("ended {:?}", v.end);
    for r in &v.responses {
        let _ = write!(out, "\n      {}", show_resp(r));
    }
    match &v.tail {
        wire::Tail::Clean => {}
        wire::Tail::Truncated(None) => out.push_str("\n      then a truncated head"),
        wire::Tail::Truncated(Some(r)) => {
            let _ = write!(out, "\n      then truncated: {}", show_resp(r));
        }
        wire::Tail::Garbage(g) => {
            let _ = write!(out, "\n      then garbage \"{}\"", show(g));
        }
    }
    out
}
