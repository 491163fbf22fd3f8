//! KNOWN DIFFERENCES between the fast path and hyper, found by this fuzzer.
//!
//! Each entry is a real difference (a finding to fix or to document), with
//! the seeds that reproduce it and a `neutralise` function that removes
//! exactly that difference, and only for inputs of its shape, from both
//! outcomes: a case that differs is accepted only if it agrees once the
//! known differences it has are removed. Listed seeds are reported on every
//! run while they still differ. When a finding is fixed, delete its entry:
//! its seeds then have to agree outright.

use super::case::Case;
use super::rig::Outcome;
use super::wire::{Framing, Seen, find};

pub struct Known {
    pub id: &'static str,
    pub what: &'static str,
    /// Seeds (by name) that reproduce it.
    pub seeds: &'static [&'static str],
    /// Shows or not depending on timing: any seed may show it (none has to).
    pub racy: bool,
    /// Removes this difference from the outcomes (fast, hyper) of `case`,
    /// if `case` has the shape that shows it.
    pub neutralise: fn(&Case, &mut Outcome, &mut Outcome),
}

pub const KNOWN: &[Known] = &[
    Known {
        id: "K1",
        what: "Bodyless requests: the fast client's head drops the client's `Content-Length: 0` on \
               GET/HEAD/DELETE/OPTIONS/TRACE (hyper's client forwards it), and adds \
               `content-length: 0` to any other method that came without one (POST, PUT, PATCH, \
               CONNECT, lower-case or extension methods; hyper's client sends no length)",
        racy: false,
        seeds: &[
            "content-length 0 on a GET",
            "content-length 00 on a GET",
            "duplicate content-length 0 on a GET",
            "content-length 0 on a DELETE",
            "POST with no length and no body",
            "PUT with no length and no body",
            "lower-case method",
            "unknown method",
            "authority-form CONNECT",
            "CONNECT with an origin-form target",
        ],
        neutralise: |_, f, h| {
            for o in [f, h] {
                for s in &mut o.upstream {
                    if let Seen::Request { headers, body, .. } = s {
                        if body.is_empty() {
                            headers.retain(|(n, v)| !(n == "content-length" && zero(v)));
                        }
                    }
                }
            }
        },
    },
    Known {
        id: "K2",
        what: "An HTTP/1.0 upstream answer: hyper's server relays its version (`HTTP/1.0 200`, \
               and so a close-delimited body with `connection: close` where the length is \
               unknown); the fast loop always answers `HTTP/1.1` (chunked, connection kept)",
        racy: false,
        seeds: &[
            "close-delimited HTTP/1.0",
            "HTTP/1.0 keep-alive with a length",
        ],
        neutralise: |case, f, h| {
            for o in [f, h] {
                if !http10_answer(case) {
                    return;
                }
                // Only status and body are held equal for these.
                for v in &mut o.client {
                    for r in &mut v.responses {
                        r.version = 1;
                        r.framing = Framing::None;
                        r.headers.clear();
                    }
                    v.end = super::rig::End::Closed;
                }
            }
        },
    },
    Known {
        id: "K3",
        what: "After an HTTP/1.0 keep-alive upstream answer, hyper's client sends the next request \
               on that connection as `HTTP/1.0` with `connection: keep-alive`; the fast client \
               never reuses an HTTP/1.0 connection and always sends HTTP/1.1",
        racy: false,
        seeds: &["HTTP/1.0 keep-alive with a length"],
        neutralise: |case, f, h| {
            for o in [f, h] {
                if !http10_answer(case) {
                    return;
                }
                for s in &mut o.upstream {
                    if let Seen::Request {
                        version, headers, ..
                    } = s
                    {
                        *version = 1;
                        headers.retain(|(n, v)| !(n == "connection" && v == b"keep-alive"));
                    }
                }
            }
        },
    },
    Known {
        id: "K4",
        what: "Reason phrases: hyper's client keeps the upstream's (a `ReasonPhrase` extension) \
               and hyper's server writes it as is (`299 Odd`, `200 Fine By Me`, `404 ` for a \
               bare `404`); the fast client drops it, and the fast loop writes the canonical \
               phrase or none (`299 `, `600 `), hyper's server after the fast client `<none>`",
        racy: false,
        seeds: &[
            "status 600",
            "odd status and reason",
            "non-canonical reason",
            "no reason phrase",
            "via hyper: odd status and reason",
        ],
        neutralise: |case, f, h| {
            for o in [f, h] {
                if !matches!(case, Case::Response { .. }) {
                    return;
                }
                for v in &mut o.client {
                    for r in &mut v.responses {
                        r.reason.clear();
                    }
                }
            }
        },
    },
    Known {
        id: "K5",
        what: "An answer to HEAD with repeated equal `Content-Length` lines: hyper's server \
               refuses to write the head (a second length after it noted one for HEAD is a user \
               header error) and closes the connection without a response; the fast loop \
               answers, stating the length once",
        racy: false,
        seeds: &["repeated content-length lines, same, to HEAD"],
        neutralise: |case, f, h| {
            let Case::Response { ask, answer, .. } = case else {
                return;
            };
            let lines = answer
                .to_ascii_lowercase()
                .windows(16)
                .filter(|w| w == b"\ncontent-length:")
                .count();
            if !ask.head || lines < 2 {
                return;
            }
            for o in [f, h] {
                for v in &mut o.client {
                    v.responses.clear();
                    v.tail = super::wire::Tail::Truncated(None);
                    v.end = super::rig::End::Closed;
                }
            }
        },
    },
    Known {
        id: "K6",
        what: "`Trailer` in an upstream answer: hyper's server drops it where no chunked body can \
               follow (HEAD, 204, 304) and folds repeated lines into one; the fast loop relays \
               every line as is",
        racy: false,
        seeds: &["HEAD answered with a Trailer field"],
        neutralise: |case, f, h| {
            for o in [f, h] {
                if !matches!(case, Case::Response { .. }) {
                    return;
                }
                for v in &mut o.client {
                    for r in &mut v.responses {
                        r.headers.retain(|(n, _)| n != "trailer");
                    }
                }
            }
        },
    },
    Known {
        id: "K7",
        what: "restgate's own answers (401, 400, 502, 504 …) to HEAD: hyper's server states the \
               `content-length` the JSON body would have; the fast loop states none",
        racy: false,
        seeds: &["closed without an answer, HEAD"],
        neutralise: |_, f, h| {
            for o in [f, h] {
                for v in &mut o.client {
                    for r in &mut v.responses {
                        let own = r
                            .headers
                            .iter()
                            .any(|(n, v)| n == "cache-control" && v == b"no-store");
                        if own && r.framing == Framing::None {
                            r.headers.retain(|(n, _)| n != "content-length");
                        }
                    }
                }
            }
        },
    },
    Known {
        id: "K8",
        what: "`server.max_header_bytes` (64 KiB here) on a head that comes pipelined behind \
               another request: the fast loop hands the connection to hyper once that many bytes \
               are buffered, and hyper answers 431; hyper alone reads on into its buffer's spare \
               capacity and serves a 70 kB head (a lone 70 kB head is 431 on both)",
        racy: false,
        seeds: &["pipelined head over max_header_bytes"],
        neutralise: |case, f, h| {
            let Case::Request { bytes, .. } = case else {
                return;
            };
            if bytes.len() < 64 * 1024 {
                return;
            }
            let Some(v) = f.client.first() else { return };
            let Some(at) = v.responses.iter().position(|r| r.status == 431) else {
                return;
            };
            // Compare up to the fast path's 431.
            let forwarded = f.upstream.len();
            for o in [f, h] {
                o.upstream.truncate(forwarded);
                if let Some(v) = o.client.first_mut() {
                    v.responses.truncate(at);
                    v.tail = super::wire::Tail::Clean;
                    v.end = super::rig::End::Closed;
                }
            }
        },
    },
    Known {
        id: "K9",
        what: "A connection on which the client sends nothing: the fast loop closes it after \
               `server.header_read_timeout`; with the fast path off, hyper-util's HTTP/1-or-2 \
               detection waits for a first byte with no header timeout running, so only \
               `server.idle_timeout` (60 s by default) ends it. (A connection that sends only \
               the start of the HTTP/2 preface waits on both: the fast loop hands it to hyper.)",
        racy: false,
        seeds: &["nothing sent"],
        neutralise: |case, f, h| {
            if !matches!(case, Case::Request { bytes, .. } if bytes.is_empty()) {
                return;
            }
            for o in [f, h] {
                for v in &mut o.client {
                    if v.responses.is_empty() && v.end == super::rig::End::Deadline {
                        v.end = super::rig::End::Closed;
                    }
                }
            }
        },
    },
    Known {
        id: "K11",
        what: "hyper's server (fast path off) sometimes forwards a pipelined request and never \
               answers it: it reads the next head while the previous answer's body is still \
               streaming from hyper's client; if that request says `Connection: close` (or is \
               malformed, so the 400 cannot be written yet), the connection is closed as soon as \
               the previous answer ends (`State::try_keep_alive`: Reading::Closed with \
               Writing::KeepAlive), dropping the in-flight answer the upstream already gave. The \
               fast loop answers every request in order. Timing-dependent",
        racy: true,
        seeds: &[
            "pipelined bodyless requests",
            "pipelined invalid method after a request, long tail",
        ],
        neutralise: |case, f, h| {
            if !matches!(case, Case::Request { .. }) || f.upstream != h.upstream {
                return;
            }
            let (Some(fv), Some(hv)) = (f.client.first_mut(), h.client.first_mut()) else {
                return;
            };
            let prefix = hv.responses.len() < fv.responses.len()
                && fv.responses.starts_with(&hv.responses)
                && hv.end == super::rig::End::Closed
                && hv.tail == super::wire::Tail::Clean;
            if prefix {
                fv.responses.truncate(hv.responses.len());
                fv.tail = super::wire::Tail::Clean;
                fv.end = super::rig::End::Closed;
            }
        },
    },
    Known {
        id: "K12",
        what: "A malformed head that is not complete yet (no blank line), pipelined behind \
               another request: hyper alone answers 400 when the whole rest arrived in the read \
               it parses; after the fast loop's hand-off (and with hyper alone when the bytes \
               came in two reads) hyper waits for the head's end (`is_complete_fast` skips \
               re-parsing a partial head: hyper-util's HTTP/2 preface check splits the first \
               read at 24 bytes) and the connection ends silently at `header_read_timeout`. \
               Timing-dependent",
        racy: true,
        seeds: &["pipelined malformed head, incomplete"],
        neutralise: |case, f, h| {
            if !matches!(case, Case::Request { .. }) || f.upstream != h.upstream {
                return;
            }
            let (Some(fv), Some(hv)) = (f.client.first_mut(), h.client.first_mut()) else {
                return;
            };
            // hyper's own 400: no request id.
            let refusal = |r: &super::wire::Resp| {
                r.status == 400 && !r.headers.iter().any(|(n, _)| n == "x-request-id")
            };
            let extra = |a: &super::rig::ClientView, b: &super::rig::ClientView| {
                a.responses.len() == b.responses.len() + 1
                    && a.responses.starts_with(&b.responses)
                    && a.responses.last().is_some_and(refusal)
                    && a.end == super::rig::End::Closed
                    && b.end == super::rig::End::Closed
                    && a.tail == b.tail
            };
            if extra(fv, hv) {
                fv.responses.pop();
            } else if extra(hv, fv) {
                hv.responses.pop();
            }
        },
    },
    Known {
        id: "K13",
        what: "A client that closes its writing side right after pipelined requests: the fast \
               loop sees the end of stream while the first request runs and drops every request \
               (none is forwarded, no answer); hyper checks for the end of stream only once its \
               read buffer is empty, so it forwards and answers all but the last. A lone request \
               is dropped by both. Timing-dependent",
        racy: true,
        seeds: &[
            "early close at once, one request",
            "early close at once, pipelined requests",
            "early close at once, HTTP/1.0 request",
        ],
        neutralise: |case, f, h| {
            if !matches!(
                case,
                Case::Request {
                    mode: super::rig::Mode::HalfCloseAtOnce,
                    ..
                }
            ) {
                return;
            }
            let (Some(fv), Some(hv)) = (f.client.first(), h.client.first()) else {
                return;
            };
            if fv.end != hv.end || fv.tail != hv.tail {
                return;
            }
            // Whichever served fewer: the other's first requests and answers
            // are held to them.
            let (short, long) = if fv.responses.len() <= hv.responses.len() {
                (f, h)
            } else {
                (h, f)
            };
            let (n, m) = (short.client[0].responses.len(), short.upstream.len());
            if long.client[0]
                .responses
                .starts_with(&short.client[0].responses)
                && long.upstream.starts_with(&short.upstream)
            {
                long.client[0].responses.truncate(n);
                long.upstream.truncate(m);
            }
        },
    },
    Known {
        id: "K14",
        what: "A 204 or 304 answer with `Content-Length` to HEAD: hyper's server writes the \
               length (its HEAD branch does not apply the 204/304 rule); the fast loop drops it, \
               as both do for GET",
        racy: false,
        seeds: &["204 with a length, to HEAD", "304 with a length, to HEAD"],
        neutralise: |case, f, h| {
            if !matches!(case, Case::Response { ask, .. } if ask.head) {
                return;
            }
            for o in [f, h] {
                for v in &mut o.client {
                    for r in &mut v.responses {
                        if r.status == 204 || r.status == 304 {
                            r.headers.retain(|(n, _)| n != "content-length");
                        }
                    }
                }
            }
        },
    },
    Known {
        id: "K15",
        what: "An HTTP/1.0 upstream answer with `Transfer-Encoding` to a HEAD: the fast client \
               treats its framing as faulty (RFC 9112 §6.1) and answers 502, as both do for a \
               GET; hyper's client, with no body to read after a HEAD, relays it",
        racy: false,
        seeds: &["HTTP/1.0 answer with transfer-encoding, to HEAD"],
        neutralise: |case, f, h| {
            let te = matches!(case, Case::Response { ask, answer, .. }
                if ask.head && find(&answer.to_ascii_lowercase(), b"transfer-encoding").is_some());
            if !te || !http10_answer(case) {
                return;
            }
            // Only what the upstream received is held equal for these.
            for o in [f, h] {
                o.client.clear();
            }
        },
    },
];

/// A `Content-Length` value that says 0, in any spelling (`0`, `00`, `0, 0`).
fn zero(value: &[u8]) -> bool {
    value.split(|&b| b == b',').all(|t| {
        let t = t.trim_ascii();
        !t.is_empty() && t.iter().all(|&b| b == b'0')
    })
}

/// A response case whose upstream answers `HTTP/1.0`.
fn http10_answer(case: &Case) -> bool {
    matches!(case, Case::Response { answer, .. } if find(answer, b"HTTP/1.0 ").is_some())
}

/// Whether `fast` and `hyper` agree once every known difference is removed,
/// and which known differences that needed (those without which they
/// would not agree).
pub fn agree_modulo_known(
    case: &Case,
    fast: &Outcome,
    hyper: &Outcome,
) -> Option<Vec<&'static str>> {
    let agree_without = |skip: Option<&str>| {
        let (mut f, mut h) = (fast.clone(), hyper.clone());
        for k in KNOWN.iter().filter(|k| Some(k.id) != skip) {
            (k.neutralise)(case, &mut f, &mut h);
        }
        f == h
    };
    if !agree_without(None) {
        return None;
    }
    Some(
        KNOWN
            .iter()
            .filter(|k| !agree_without(Some(k.id)))
            .map(|k| k.id)
            .collect(),
    )
}
