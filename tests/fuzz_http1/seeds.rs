//! The committed seed corpus: hostile shapes every run starts with, before
//! the random cases. A failing random case prints itself as an entry for
//! this table (`req(…)` / `res(…)`); seeds that reproduce a known
//! difference are named in tests/fuzz_http1/known.rs.
//!
//! - `req(name, mode, bytes)`: a client byte stream. `Open` keeps the
//!   client's side open (streams mostly end with a `Connection: close`
//!   request, so the gateway closes); `HalfClose` closes it once the
//!   answers to the whole requests are in (an early close mid-request);
//!   `HalfCloseAtOnce` closes it right after writing.
//! - `res(name, ask, then, bytes)`: what the upstream answers to
//!   `GET /first` (or `HEAD`, with `Connection: close`, followed by a second
//!   `GET` on a new client connection, through hyper's server: see `Ask`),
//!   then closing its side (`Close`) or keeping the connection (`Keep`).

use super::case::{Ask, Case};
use super::rig::{Mode, Then};

/// A named seed.
pub struct Seed {
    pub name: &'static str,
    pub case: Case,
}

const GET: Ask = Ask {
    head: false,
    close: false,
    second: false,
    via_hyper: false,
};
const GET_CLOSE: Ask = Ask { close: true, ..GET };
const GET_TWICE: Ask = Ask {
    second: true,
    ..GET
};
const HEAD: Ask = Ask { head: true, ..GET };
const HEAD_TWICE: Ask = Ask {
    second: true,
    ..HEAD
};
/// Through hyper's server (and with the fast path on, the fast client).
const GET_VIA_HYPER: Ask = Ask {
    via_hyper: true,
    ..GET
};
const HEAD_VIA_HYPER: Ask = Ask {
    via_hyper: true,
    ..HEAD
};

/// A request-stream seed.
pub fn req(name: &'static str, mode: Mode, bytes: &[u8]) -> Seed {
    Seed {
        name,
        case: Case::Request {
            bytes: bytes.to_vec(),
            mode,
        },
    }
}

/// An upstream-answer seed.
pub fn res(name: &'static str, ask: Ask, then: Then, answer: &[u8]) -> Seed {
    Seed {
        name,
        case: Case::Response {
            ask,
            answer: answer.to_vec(),
            then,
        },
    }
}

use Mode::{HalfClose, HalfCloseAtOnce, Open};
use Then::Close;
use Then::Open as Keep;

/// Every seed, requests first.
#[rustfmt::skip]
pub fn corpus() -> Vec<Seed> {
    vec![
        // --- request streams ---
        req("plain get", Open,
            b"GET /rest/api/2/myself HTTP/1.1\r\nHost: up.example\r\nAccept: */*\r\nConnection: close\r\n\r\n"),
        req("CL.TE smuggling", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: up.example\r\n\r\nGET /last HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("TE.CL smuggling", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2c\r\nGET /smuggled HTTP/1.1\r\nHost: up.example\r\n\r\n\r\n0\r\n\r\nGET /last HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("TE.TE obfuscated coding", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello"),
        req("transfer-encoding with a space before the colon", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello"),
        req("transfer-encoding xchunked", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        req("transfer-encoding chunked on a GET", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /last HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("chunked GET, body incomplete", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
        req("chunked GET, body not chunked", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\n\r\nGET /b HTTP/1.1\r\nHost: up.example\r\n\r\n"),
        req("chunked POST, body not chunked", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\n\r\nGET /b HTTP/1.1\r\nHost: up.example\r\n\r\n"),
        req("duplicate content-length, different", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello"),
        req("duplicate content-length, same", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"),
        req("duplicate content-length 0 on a GET", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        req("content-length list", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 5, 5\r\nConnection: close\r\n\r\nhello"),
        req("content-length with a sign", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: +0\r\n\r\n"),
        req("content-length overflowing", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 99999999999999999999\r\n\r\nhello"),
        req("content-length 0 on a GET", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        req("content-length 00 on a GET", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 00\r\nConnection: close\r\n\r\n"),
        req("content-length 0 on a DELETE", Open,
            b"DELETE /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        req("content-length 0 on a POST", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        req("POST with no length and no body", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("PUT with no length and no body", Open,
            b"PUT /a HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("obs-fold", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n"),
        req("obs-fold on the first header", Open,
            b"GET /a HTTP/1.1\r\n Host: up.example\r\nConnection: close\r\n\r\n"),
        req("bare LF line ends", Open,
            b"GET /a HTTP/1.1\nHost: up.example\nConnection: close\n\n"),
        req("bare LF after the request line only", Open,
            b"GET /a HTTP/1.1\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("bare LF inside a header value", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nX-A: a\nX-B: b\r\nConnection: close\r\n\r\n"),
        req("bare CR inside a header value", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nX-A: a\rb\r\nConnection: close\r\n\r\n"),
        req("NUL in a header value", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nX-A: a\0b\r\nConnection: close\r\n\r\n"),
        req("obs-text in a header value", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nX-A: caf\xc3\xa9 \xff\r\nConnection: close\r\n\r\n"),
        req("space before a header colon", Open,
            b"GET /a HTTP/1.1\r\nHost : up.example\r\nConnection: close\r\n\r\n"),
        req("empty and padded header values", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nX-Empty:\r\nX-Pad:   v   \r\nX-Tab:\tv\t\r\nConnection: close\r\n\r\n"),
        req("pipelined bodyless requests", Open,
            b"GET /one HTTP/1.1\r\nHost: up.example\r\n\r\nHEAD /two HTTP/1.1\r\nHost: up.example\r\n\r\nDELETE /three HTTP/1.1\r\nHost: up.example\r\n\r\nGET /last HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("pipelined body request between bodyless ones", Open,
            b"GET /first HTTP/1.1\r\nHost: up.example\r\n\r\nPOST /second HTTP/1.1\r\nHost: up.example\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"GET /x\":\"y\"}\r\nGET /third HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("pipelined past Connection: close", Open,
            b"GET /one HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: up.example\r\n\r\n"),
        req("pipelined keep-alive, no close", Open,
            b"GET /one HTTP/1.1\r\nHost: up.example\r\n\r\nGET /two HTTP/1.1\r\nHost: up.example\r\n\r\n"),
        req("early close after a whole request", HalfClose,
            b"GET /one HTTP/1.1\r\nHost: up.example\r\n\r\n"),
        req("early close mid-head", HalfClose,
            b"GET /one HTTP/1.1\r\nHost: up.example\r\n\r\nGET /two HTTP/1.1\r\nHo"),
        req("early close mid-request-line", HalfClose, b"GET /on"),
        req("early close mid-body", HalfClose,
            b"GET /one HTTP/1.1\r\nHost: up.example\r\n\r\nPOST /two HTTP/1.1\r\nHost: up.example\r\nContent-Length: 10\r\n\r\nhello"),
        req("early close mid-chunk", HalfClose,
            b"POST /two HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
        req("early close at once, one request", HalfCloseAtOnce,
            b"GET /one HTTP/1.1\r\nHost: up.example\r\n\r\n"),
        req("early close at once, pipelined requests", HalfCloseAtOnce,
            b"GET /one HTTP/1.1\r\nHost: up.example\r\n\r\nGET /two HTTP/1.1\r\nHost: up.example\r\n\r\nGET /three HTTP/1.1\r\nHost: up.example\r\n\r\n"),
        req("early close at once, HTTP/1.0 request", HalfCloseAtOnce, b"GET /old HTTP/1.0\r\n\r\n"),
        req("partial head then silence", Open, b"GET /slow HTTP/1.1\r\nHost: up.example\r\n"),
        req("nothing sent", Open, b""),
        req("the start of the HTTP/2 preface then silence", Open, b"PRI * HTTP/2.0\r\n"),
        req("absolute-form target", Open,
            b"GET http://up.example/abs?q=1 HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("absolute-form target naming another host", Open,
            b"GET http://other.example/abs HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("asterisk-form OPTIONS", Open,
            b"OPTIONS * HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("authority-form CONNECT", Open,
            b"CONNECT up.example:443 HTTP/1.1\r\nHost: up.example:443\r\n\r\n"),
        req("CONNECT with an origin-form target", Open,
            b"CONNECT /x HTTP/1.1\r\nHost: up.example\r\n\r\n"),
        req("HTTP/1.0", Open, b"GET /old HTTP/1.0\r\n\r\n"),
        req("HTTP/1.0 keep-alive then HTTP/1.1", Open,
            b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /last HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("HTTP/1.2", Open, b"GET /a HTTP/1.2\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("HTTP/2.0 in an HTTP/1 request line", Open,
            b"GET /a HTTP/2.0\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("no version (HTTP/0.9)", HalfClose, b"GET /a\r\n\r\n"),
        req("lower-case method", Open, b"get /a HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("unknown method", Open, b"FOO /a HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("TRACE", Open, b"TRACE /a HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("Expect: 100-continue with a body", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"),
        req("Expect: 100-continue on a GET", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"),
        req("unknown expectation", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nExpect: something\r\nConnection: close\r\n\r\n"),
        req("h2c upgrade", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
        req("websocket upgrade refused upstream", Open,
            b"GET /ws HTTP/1.1\r\nHost: up.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        req("HTTP/2 preface", HalfClose, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        req("connection-listed and hop-by-hop headers", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nConnection: x-hop, close\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n\r\n"),
        req("spoofed identity and forwarding headers", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nX-Forwarded-User: mallory\r\nX_Forwarded_User: mallory\r\nX-Restgate-Secret: s\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n"),
        req("client request id kept", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nX-Request-Id: client-chosen-id\r\nConnection: close\r\n\r\n"),
        req("insane client request id replaced", Open,
            b"GET /a HTTP/1.1\r\nHost: up.example\r\nX-Request-Id: has space\r\nConnection: close\r\n\r\n"),
        req("no Host", Open, b"GET /a HTTP/1.1\r\nConnection: close\r\n\r\n"),
        req("two Hosts", Open, b"GET /a HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n"),
        req("uncanonical path", Open, b"GET /a/../b HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("encoded slash and NUL in the path", Open,
            b"GET /a%2Fb/%00 HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("fragment in the target", Open, b"GET /a#frag HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("raw UTF-8 in the target", Open,
            b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),
        req("64 header lines", Open, &many(64)),
        req("65 header lines", Open, &many(65)),
        req("101 header lines", Open, &many(101)),
        req("head over max_header_bytes", Open, &long_head(70_000)),
        req("head just under max_header_bytes", Open, &long_head(65_000)),
        req("pipelined head over max_header_bytes", Open, &{
            let mut v = b"GET /first HTTP/1.1\r\nHost: up.example\r\n\r\n".to_vec();
            v.extend(long_head(70_000));
            v
        }),
        req("chunked body with trailers", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"),
        req("chunk size not hex", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
        req("chunk longer than its size", Open,
            b"POST /a HTTP/1.1\r\nHost: up.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"),
        req("pipelined invalid method after a request", Open,
            b"GET /a HTTP/1.1\r\n\r\nG\x01T / HTTP/1.1\r\nX-A: b"),
        req("pipelined invalid method after a request, whole head", Open,
            b"GET /a HTTP/1.1\r\n\r\nG\x01T / HTTP/1.1\r\nHost: up.example\r\n\r\n"),
        req("pipelined invalid method after a request, long tail", Open, &{
            let mut v = b"GET /a%2Fb HTTP/1.1\r\n\r\nG\x01T / HTTP/1.1\r\nX-Long: ".to_vec();
            v.extend([b'v'; 40]);
            v.push(0);
            v.extend([b'v'; 959]);
            v
        }),
        req("pipelined malformed head, incomplete", Open, b"GET /a HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 0\r\nX-Fold: a\r\n b\r\nX-Long: vvvvvvvv"),
        req("invalid method alone", Open, b"G\x01T / HTTP/1.1\r\nX-A: b"),
        req("garbage", HalfClose, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        req("empty lines before a request", Open,
            b"\r\n\r\nGET /a HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n"),

        // --- upstream answers ---
        res("plain answer", GET, Close, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        res("kept-alive answer reused", GET_TWICE, Keep, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        res("conflicting content-lengths", GET, Close,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        res("content-length list, same", GET, Close, b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"),
        res("repeated content-length lines, same", GET, Close,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
        res("repeated content-length lines, same, to HEAD", HEAD, Close,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"),
        res("content-length with a sign", GET, Close, b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"),
        res("content-length overflowing", GET, Close,
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello"),
        res("chunked with content-length", GET, Close,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        res("chunked with content-length, kept", GET_TWICE, Keep,
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        res("chunk size not hex", GET, Close, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
        res("chunk size overflowing", GET, Close,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
        res("chunk longer than its size", GET, Close,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"),
        res("chunk size with spaces", GET, Close,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"),
        res("chunk extensions and trailers", GET, Close,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"),
        res("chunked without the last chunk, closed", GET, Close,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
        res("transfer-encoding not ending in chunked", GET, Close,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello world"),
        res("close-delimited", GET, Close, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello until close"),
        res("close-delimited HTTP/1.0", GET_CLOSE, Close, b"HTTP/1.0 200 OK\r\n\r\nhello until close"),
        res("HTTP/1.0 answer with transfer-encoding", GET, Close,
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        res("HTTP/1.0 answer with transfer-encoding, to HEAD", HEAD, Close,
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        res("HTTP/1.0 keep-alive with a length", GET_TWICE, Keep,
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"),
        res("1xx before the final answer", GET, Close,
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        res("101 unasked", GET, Close, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"),
        res("204 with a body", GET_TWICE, Keep, b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"),
        res("204 with a length, closed", GET, Close, b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
        res("304 with a length", GET, Close, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n"),
        res("204 with a length, to HEAD", HEAD, Close, b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"),
        res("304 with a length, to HEAD", HEAD, Close, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n"),
        res("HEAD answered with a length", HEAD, Close, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
        res("HEAD answered chunked", HEAD, Close, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        res("HEAD answered with no length", HEAD, Close, b"HTTP/1.1 200 OK\r\n\r\n"),
        res("HEAD answered with a body", HEAD_TWICE, Keep, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        res("HEAD answered with a Trailer field", HEAD, Close, b"HTTP/1.1 200 OK\r\nTrailer: X-T\r\n\r\n"),
        res("declared trailers", GET, Close,
            b"HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: t\r\n\r\n"),
        res("bytes after the body", GET_TWICE, Keep, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"),
        res("a second answer unasked", GET_TWICE, Keep,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsneaky"),
        res("answer says close", GET_TWICE, Keep, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"),
        res("early close mid-head", GET, Close, b"HTTP/1.1 200 OK\r\nContent-Le"),
        res("early close mid-body", GET, Close, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
        res("early close mid-chunk", GET, Close, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhel"),
        res("closed without an answer", GET, Close, b""),
        res("closed without an answer, HEAD", HEAD, Close, b""),
        res("no answer in time", GET, Keep, b""),
        res("partial head, then silence", GET, Keep, b"HTTP/1.1 200 OK\r\n"),
        res("garbage", GET, Close, b"garbage\r\n\r\n"),
        res("HTTP/2 status line", GET, Close, b"HTTP/2 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        res("status 600", GET, Close, b"HTTP/1.1 600 Beyond\r\nContent-Length: 5\r\n\r\nhello"),
        res("status 099", GET, Close, b"HTTP/1.1 099 Low\r\nContent-Length: 5\r\n\r\nhello"),
        res("odd status and reason", GET, Close, b"HTTP/1.1 299 Odd\r\nContent-Length: 5\r\n\r\nhello"),
        res("non-canonical reason", GET, Close, b"HTTP/1.1 200 Fine By Me\r\nContent-Length: 5\r\n\r\nhello"),
        res("no reason phrase", GET, Close, b"HTTP/1.1 404\r\nContent-Length: 5\r\n\r\nhello"),
        res("bare LF answer", GET, Close, b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello"),
        res("obs-fold in an answer", GET, Close, b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\nhello"),
        res("NUL in an answer header", GET, Close, b"HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\nContent-Length: 5\r\n\r\nhello"),
        res("hop-by-hop answer headers", GET, Close,
            b"HTTP/1.1 200 OK\r\nConnection: x-hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nContent-Length: 5\r\n\r\nhello"),
        res("upstream date and request id", GET, Close,
            b"HTTP/1.1 200 OK\r\nDate: Tue, 15 Nov 1994 08:12:31 GMT\r\nX-Request-Id: upstream-id\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\n\r\nhello"),
        res("empty body with a length", GET, Close, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        res("large answer head", GET, Close, &long_answer(70_000)),
        // The same through hyper's server: only the upstream clients differ.
        res("via hyper: plain answer", GET_VIA_HYPER, Close, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        res("via hyper: conflicting content-lengths", GET_VIA_HYPER, Close,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        res("via hyper: repeated content-length lines, same", GET_VIA_HYPER, Close,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
        res("via hyper: chunk size not hex", GET_VIA_HYPER, Close,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
        res("via hyper: chunked with content-length", GET_VIA_HYPER, Close,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        res("via hyper: declared trailers", GET_VIA_HYPER, Close,
            b"HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: t\r\n\r\n"),
        res("via hyper: close-delimited", GET_VIA_HYPER, Close, b"HTTP/1.1 200 OK\r\n\r\nhello until close"),
        res("via hyper: HTTP/1.0 answer with transfer-encoding", GET_VIA_HYPER, Close,
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        res("via hyper: HTTP/1.0 with a length", GET_VIA_HYPER, Close,
            b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        res("via hyper: 1xx before the final answer", GET_VIA_HYPER, Close,
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        res("via hyper: 204 with a length", GET_VIA_HYPER, Close, b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
        res("via hyper: odd status and reason", GET_VIA_HYPER, Close, b"HTTP/1.1 299 Odd\r\nContent-Length: 5\r\n\r\nhello"),
        res("via hyper: HEAD answered with a length", HEAD_VIA_HYPER, Close, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
        res("via hyper: closed without an answer, HEAD", HEAD_VIA_HYPER, Close, b""),
        res("via hyper: early close mid-body", GET_VIA_HYPER, Close, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
        res("via hyper: garbage", GET_VIA_HYPER, Close, b"garbage\r\n\r\n"),
    ]
}

/// A request with `n` header lines.
fn many(n: usize) -> Vec<u8> {
    let mut out = b"GET /many HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n".to_vec();
    for i in 2..n {
        out.extend_from_slice(format!("X-H{i}: {i}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A request whose head is about `size` bytes.
fn long_head(size: usize) -> Vec<u8> {
    let mut out =
        b"GET /long HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\nX-Long: ".to_vec();
    out.resize(size - 4, b'v');
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// An answer whose head is about `size` bytes.
fn long_answer(size: usize) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Long: ".to_vec();
    out.resize(size - 4, b'v');
    out.extend_from_slice(b"\r\n\r\nhello");
    out
}
