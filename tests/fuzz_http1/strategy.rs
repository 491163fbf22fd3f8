//! proptest strategies for hostile request streams and upstream answers:
//! mostly structured (request/status lines, framing and connection headers,
//! duplicates, obs-fold, bare LF, NULs, long heads, bodies that match their
//! framing or not, pipelining, truncation), some mutated, some raw.

use proptest::prelude::*;

use super::case::Case;
use super::rig::Mode;

/// A header line, or a body-length line filled in when the body is known.
#[derive(Debug, Clone)]
pub(super) enum Line {
    Raw(Vec<u8>),
    /// `Content-Length:` the body's length (plus `delta`), in this spelling.
    Length {
        name: &'static str,
        delta: i8,
    },
}

/// What follows a head.
#[derive(Debug, Clone)]
pub(super) enum Body {
    None,
    /// Framed as the head says: chunked if its last `Transfer-Encoding`
    /// coding is `chunked` (in one or two chunks), else as is.
    Data(Vec<u8>),
    /// Verbatim.
    Raw(Vec<u8>),
    /// Hand-made chunks, verbatim.
    Chunks(Vec<&'static str>),
}

pub(super) fn select<T: Clone + std::fmt::Debug + 'static>(
    v: &[T],
) -> impl Strategy<Value = T> + use<T> {
    prop::sample::select(v.to_vec())
}

pub(super) fn bytes_of(s: &'static str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Printable-ish bytes, with the characters that matter to HTTP over-weighted.
pub(super) fn http_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::char::range('a', 'z').prop_map(|c| c as u8),
            2 => select(b" :/\r\n\t,;=-".as_slice()),
            1 => any::<u8>(),
        ],
        0..max,
    )
}

pub(super) const REQUEST_HEADERS: &[&str] = &[
    "Host: up.example",
    "Host: up.example",
    "Host: other.example:8080",
    "Host:",
    "Content-Length: 0",
    "Content-Length: 0",
    "Content-Length: 5",
    "Content-Length: 00",
    "Content-Length: +0",
    "Content-Length: -1",
    "Content-Length: 0x5",
    "Content-Length: 5, 5",
    "Content-Length: 0, 0",
    "Content-Length:  0 ",
    "Content-Length: 99999999999999999999",
    "Content-Length : 0",
    "content-length: 3",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: Chunked",
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: chunked, gzip",
    "Transfer-Encoding: identity",
    "Transfer-Encoding:",
    "Transfer-Encoding: xchunked",
    "Transfer-Encoding : chunked",
    "Transfer-Encoding:\tchunked",
    "Connection: close",
    "Connection: close",
    "Connection: keep-alive",
    "Connection: Keep-Alive, X-Hop",
    "Connection: upgrade",
    "Connection: close, upgrade",
    "Connection: x-hop",
    "X-Hop: secret",
    "Keep-Alive: timeout=5",
    "Proxy-Connection: keep-alive",
    "TE: trailers",
    "Upgrade: websocket",
    "Upgrade: h2c",
    "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
    "Expect: 100-continue",
    "Expect: something-else",
    "X-Request-Id: client-chosen-id",
    "X-Request-Id: ",
    "X-Request-Id: has space",
    "X-Forwarded-For: 10.0.0.1",
    "X-Forwarded-Host: evil.example",
    "X-Forwarded-Proto: https",
    "X-Forwarded-User: mallory",
    "X_Forwarded_User: mallory",
    "X-Restgate-Anything: x",
    "Authorization: Bearer abc",
    "Cookie: JSESSIONID=abc",
    "Accept: */*",
    "accept: application/json",
    "ACCEPT: text/html",
    "User-Agent: fuzz/1.0",
    "X-Empty:",
    "X-Spaces:    padded   ",
    "X-Tab:\tx\t",
    "X-Fold: a\r\n b",
    "X-Fold: a\r\n\tb",
    " X-Leading-Space: x",
    "X-Bare-LF: a\nX-After: b",
    "X-Bare-CR: a\rb",
    "X-Nul: a\0b",
    "X-Ctl: a\x01b",
    "X-Del: a\x7fb",
    "X-Obs-Text: caf\u{e9}",
    "Bad Name: x",
    ": no-name",
    "No-Colon",
    "X-Colon:: x",
    "Date: Tue, 15 Nov 1994 08:12:31 GMT",
    "Trailer: X-T",
    "Content-Type: application/x-www-form-urlencoded",
];

pub(super) fn request_line() -> impl Strategy<Value = Line> {
    prop_oneof![
        20 => select(REQUEST_HEADERS).prop_map(|s| Line::Raw(bytes_of(s))),
        2 => (select(&["Content-Length", "content-length", "CONTENT-LENGTH"]), -1i8..=1)
            .prop_map(|(name, delta)| Line::Length { name, delta }),
        1 => (1usize..4, http_bytes(16)).prop_map(|(n, v)| {
            let mut l = format!("X-Gen-{n}: ").into_bytes();
            l.extend(v.into_iter().filter(|&b| b != b'\r' && b != b'\n'));
            Line::Raw(l)
        }),
        1 => select(&[100usize, 8_000, 70_000]).prop_map(|n| {
            let mut l = b"X-Long: ".to_vec();
            l.resize(l.len() + n, b'v');
            Line::Raw(l)
        }),
    ]
}

pub(super) fn method() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        10 => select(&["GET", "GET", "GET", "HEAD", "DELETE", "OPTIONS", "POST", "PUT", "PATCH"]),
        2 => select(&["TRACE", "CONNECT", "get", "FOO", "M-SEARCH", "G\x01T", "GE T", ""]),
    ]
}

pub(super) fn target() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        10 => select(&[
            "/", "/rest/api/2/issue/X-1", "/a?b=c&d", "/a%2Fb", "/a/../b", "/a/./b",
            "//double", "/x#frag", "/%00", "/a b", "/\u{e9}", "/a\x7f", "/a\tb",
            "http://up.example/abs", "HTTP://UP.EXAMPLE:80/abs?q", "https://other/x",
            "*", "up.example:443", "", "/?", "/a?x=%zz",
        ])
        .prop_map(bytes_of),
        1 => select(&[2_000usize, 70_000]).prop_map(|n| {
            let mut t = b"/long/".to_vec();
            t.resize(n, b'p');
            t
        }),
    ]
}

pub(super) fn version() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        12 => Just("HTTP/1.1"),
        2 => Just("HTTP/1.0"),
        1 => select(&["HTTP/1.2", "HTTP/2.0", "http/1.1", "HTTP/1.1 ", " HTTP/1.1", "HTTP/1", "", "HTTP/0.9"]),
    ]
}

pub(super) fn eol() -> impl Strategy<Value = &'static str> {
    prop_oneof![12 => Just("\r\n"), 1 => Just("\n")]
}

pub(super) const CHUNKS: &[&str] = &[
    "5\r\nhello\r\n",
    "5\r\nhello\r\n",
    "0\r\n\r\n",
    "0\r\n\r\n",
    "5;ext=1\r\nhello\r\n",
    "5;\r\nhello\r\n",
    "5 \r\nhello\r\n",
    " 5\r\nhello\r\n",
    "05\r\nhello\r\n",
    "0x5\r\nhello\r\n",
    "zz\r\nhello\r\n",
    "-1\r\n",
    "ffffffffffffffffff\r\n",
    "5\r\nhelloXX\r\n",
    "5\r\nhel",
    "5\nhello\n",
    "0\r\nX-Trailer: t\r\n\r\n",
    "0\r\n",
    "3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: up.example\r\n\r\n",
];

pub(super) fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        6 => Just(Body::None),
        6 => http_bytes(24).prop_map(Body::Data),
        2 => prop::collection::vec(select(CHUNKS), 1..4).prop_map(Body::Chunks),
        2 => select(&[
            "GET /smuggled HTTP/1.1\r\nHost: up.example\r\n\r\n",
            "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: up.example\r\n\r\n",
            "hello",
            "\r\n",
            "\r\n\r\n",
        ])
        .prop_map(|s| Body::Raw(bytes_of(s))),
    ]
}

/// Writes a head and its body.
pub(super) fn message(first_line: &[u8], eol: &str, lines: &[Line], body: &Body) -> Vec<u8> {
    let data_len = match body {
        Body::Data(d) => d.len() as i64,
        _ => 0,
    };
    let mut out = first_line.to_vec();
    out.extend_from_slice(eol.as_bytes());
    let mut chunked = false;
    for l in lines {
        match l {
            Line::Raw(raw) => {
                out.extend_from_slice(raw);
                let lower = raw.to_ascii_lowercase();
                if lower.starts_with(b"transfer-encoding:") {
                    chunked = lower.trim_ascii_end().ends_with(b"chunked");
                }
            }
            Line::Length { name, delta } => {
                let n = (data_len + i64::from(*delta)).max(0);
                out.extend_from_slice(format!("{name}: {n}").as_bytes());
            }
        }
        out.extend_from_slice(eol.as_bytes());
    }
    out.extend_from_slice(eol.as_bytes());
    match body {
        Body::None => {}
        Body::Data(d) if chunked => {
            let cut = d.len() / 2;
            for part in [&d[..cut], &d[cut..]] {
                if !part.is_empty() {
                    out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    out.extend_from_slice(part);
                    out.extend_from_slice(b"\r\n");
                }
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
        Body::Data(d) | Body::Raw(d) => out.extend_from_slice(d),
        Body::Chunks(c) => {
            for s in c {
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    out
}

/// One request, structured.
pub(super) fn request() -> impl Strategy<Value = Vec<u8>> {
    (
        method(),
        target(),
        version(),
        eol(),
        prop::collection::vec(request_line(), 0..7),
        body(),
    )
        .prop_map(|(method, target, version, eol, lines, body)| {
            let mut first = method.as_bytes().to_vec();
            first.push(b' ');
            first.extend_from_slice(&target);
            if !version.is_empty() {
                first.push(b' ');
                first.extend_from_slice(version.as_bytes());
            }
            message(&first, eol, &lines, &body)
        })
}

/// More header lines than the fast path parses (64) or hyper takes (100).
pub(super) fn many_headers() -> impl Strategy<Value = Vec<u8>> {
    select(&[63usize, 64, 65, 99, 100, 101]).prop_map(|n| {
        let mut out = b"GET /many HTTP/1.1\r\nHost: up.example\r\n".to_vec();
        for i in 1..n {
            out.extend_from_slice(format!("X-H{i}: {i}\r\n").as_bytes());
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out
    })
}

pub(super) const LAST: &[u8] =
    b"GET /last HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n";

/// How a structured stream ends.
#[derive(Debug, Clone)]
pub(super) enum End {
    /// A last request saying `Connection: close`.
    CloseRequest,
    /// Cut at this fraction of its length.
    Cut(f64),
    Nothing,
}

pub(super) fn stream() -> impl Strategy<Value = Case> {
    let end = prop_oneof![
        5 => Just(End::CloseRequest),
        2 => (0.0f64..1.0).prop_map(End::Cut),
        3 => Just(End::Nothing),
    ];
    (prop::collection::vec(request(), 1..4), end, any::<bool>()).prop_map(
        |(requests, end, half)| {
            let mut bytes = requests.concat();
            let mode = match end {
                End::CloseRequest => {
                    bytes.extend_from_slice(LAST);
                    Mode::Open
                }
                End::Cut(at) => {
                    bytes.truncate((bytes.len() as f64 * at) as usize);
                    if half { Mode::HalfClose } else { Mode::Open }
                }
                End::Nothing => {
                    if half {
                        Mode::HalfClose
                    } else {
                        Mode::Open
                    }
                }
            };
            Case::Request { bytes, mode }
        },
    )
}

/// A structured stream with a few bytes changed, inserted or removed.
pub(super) fn mutated() -> impl Strategy<Value = Case> {
    let edit = (
        any::<prop::sample::Index>(),
        0u8..3,
        prop_oneof![
            3 => select(b"\r\n \t\0:,;\x7f\xff0a".as_slice()),
            1 => any::<u8>(),
        ],
    );
    (stream(), prop::collection::vec(edit, 1..4)).prop_map(|(case, edits)| {
        let Case::Request { mut bytes, mode } = case else {
            unreachable!()
        };
        for (at, kind, b) in edits {
            if bytes.is_empty() {
                bytes.push(b);
                continue;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = b,
                1 => bytes.insert(i, b),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        Case::Request { bytes, mode }
    })
}

/// Client request streams.
pub fn request_case() -> impl Strategy<Value = Case> {
    prop_oneof![
        14 => stream(),
        4 => mutated(),
        1 => many_headers().prop_map(|bytes| Case::Request { bytes, mode: Mode::Open }),
        1 => (http_bytes(48), any::<bool>()).prop_map(|(bytes, half)| Case::Request {
            bytes,
            mode: if half { Mode::HalfClose } else { Mode::Open },
        }),
    ]
}
