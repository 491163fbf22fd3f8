//! proptest strategies for upstream answers: status lines, framing headers
//! that agree or conflict, 1xx before the final answer, bad chunks, early
//! close, garbage; and the strategy over every kind of case.

use proptest::prelude::*;

use super::case::{Ask, Case};
use super::rig::Then;
#[allow(
    unused_imports,
    reason = "the answer strategies share the request ones' pieces"
)]
use super::strategy::*;

const STATUS_LINES: &[&str] = &[
    "HTTP/1.1 200 OK",
    "HTTP/1.1 200 OK",
    "HTTP/1.1 200 OK",
    "HTTP/1.0 200 OK",
    "HTTP/1.1 201 Created",
    "HTTP/1.1 204 No Content",
    "HTTP/1.1 304 Not Modified",
    "HTTP/1.1 404 Not Found",
    "HTTP/1.1 500 Internal Server Error",
    "HTTP/1.1 200 Fine By Me",
    "HTTP/1.1 299 Odd",
    "HTTP/1.1 200",
    "HTTP/1.1 200 ",
    "HTTP/1.1 599 X",
    "HTTP/1.1 600 Beyond",
    "HTTP/1.1 099 Low",
    "HTTP/1.1 2000 OK",
    "HTTP/1.1 20 OK",
    "HTTP/2 200 OK",
    "HTTP/1.2 200 OK",
    "http/1.1 200 OK",
    "ICY 200 OK",
    "HTTP/1.1 101 Switching Protocols",
    "HTTP/1.1 200 O\x01K",
    "HTTP/1.1 200 Caf\u{e9}",
];

const INTERIM: &[&str] = &[
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
    "HTTP/1.1 102 Processing\r\n\r\n",
    "HTTP/1.1 100 Continue\r\nContent-Length: 3\r\n\r\n",
];

const RESPONSE_HEADERS: &[&str] = &[
    "Content-Type: application/json",
    "Content-Type: text/plain",
    "Content-Length: 0",
    "Content-Length: 5",
    "Content-Length: 5, 5",
    "Content-Length: 5, 6",
    "Content-Length: +5",
    "Content-Length: -1",
    "Content-Length: 0x5",
    "Content-Length: 99999999999999999999",
    "Content-Length : 5",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: Chunked",
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: chunked, gzip",
    "Transfer-Encoding: gzip",
    "Transfer-Encoding: identity",
    "Transfer-Encoding:",
    "Connection: close",
    "Connection: close",
    "Connection: keep-alive",
    "Connection: x-hop",
    "X-Hop: secret",
    "Keep-Alive: timeout=5",
    "Upgrade: websocket",
    "Set-Cookie: JSESSIONID=upstream; Path=/",
    "Set-Cookie: b=2",
    "X-Request-Id: upstream-id",
    "Date: Tue, 15 Nov 1994 08:12:31 GMT",
    "Server: upstream",
    "Cache-Control: no-cache",
    "Trailer: X-T",
    "X-Empty:",
    "X-Fold: a\r\n b",
    "X-Nul: a\0b",
    "X-Obs-Text: caf\u{e9}",
    "Bad Name: x",
    "No-Colon",
    "X-Bare-LF: a\nX-After: b",
    "Location: /elsewhere",
    "WWW-Authenticate: Basic realm=\"x\"",
];

fn response_line() -> impl Strategy<Value = Line> {
    prop_oneof![
        16 => select(RESPONSE_HEADERS).prop_map(|s| Line::Raw(bytes_of(s))),
        6 => (select(&["Content-Length", "content-length"]), prop_oneof![6 => Just(0i8), 1 => -1i8..=1])
            .prop_map(|(name, delta)| Line::Length { name, delta }),
        1 => select(&[8_000usize, 70_000]).prop_map(|n| {
            let mut l = b"X-Long: ".to_vec();
            l.resize(l.len() + n, b'v');
            Line::Raw(l)
        }),
    ]
}

fn answer() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(select(INTERIM), 0..2),
        prop_oneof![
            12 => select(STATUS_LINES).prop_map(bytes_of),
            1 => http_bytes(24),
        ],
        eol(),
        prop::collection::vec(response_line(), 0..6),
        prop_oneof![
            2 => Just(Body::None),
            8 => http_bytes(40).prop_map(Body::Data),
            2 => prop::collection::vec(select(CHUNKS), 1..4).prop_map(Body::Chunks),
            1 => http_bytes(24).prop_map(Body::Raw),
        ],
        prop_oneof![8 => Just(None), 1 => (0.0f64..1.0).prop_map(Some)],
    )
        .prop_map(|(interim, status, eol, lines, body, cut)| {
            let mut out = interim.concat().into_bytes();
            out.extend(message(&status, eol, &lines, &body));
            if let Some(at) = cut {
                out.truncate((out.len() as f64 * at) as usize);
            }
            out
        })
}

/// Upstream answers to a plain request.
pub fn response_case() -> impl Strategy<Value = Case> {
    (
        answer(),
        prop_oneof![3 => Just(Then::Close), 1 => Just(Then::Open)],
        prop::bool::weighted(0.25),
        any::<bool>(),
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.25),
    )
        .prop_map(
            |(answer, then, head, close, second, via_hyper)| Case::Response {
                ask: Ask {
                    head,
                    close,
                    // A second request only where the first answer's
                    // connection is still open: one the upstream closed may
                    // be taken from the pool before its close is seen, a
                    // race rather than a behaviour.
                    second: second && then == Then::Open,
                    via_hyper,
                },
                answer,
                then,
            },
        )
}

/// Any case: requests three times as often as answers.
pub fn any_case() -> impl Strategy<Value = Case> {
    prop_oneof![3 => request_case(), 1 => response_case()]
}
