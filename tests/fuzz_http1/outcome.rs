//! What one gateway did with a case, with the per-request values normalised
//! and failures reduced to their class.

#[allow(unused_imports, reason = "the outcome types are the rig's")]
use super::rig::*;
use super::wire::{self, *};

/// Everything one gateway did with a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What each client connection got, in order.
    pub client: Vec<ClientView>,
    /// What the upstream received, in order.
    pub upstream: Vec<Seen>,
}

/// Replaces the values restgate makes per request, and only those:
/// - `x-request-id` (src/layers/access.rs): restgate keeps a sane one the
///   client sent and otherwise generates 32 random hex digits, forwarded
///   upstream and returned to the client. A generated one (32 lower-case hex
///   digits found nowhere in the case's input) becomes `<generated>`.
/// - `date` on responses to the client: the gateway adds the current time
///   when the upstream sent none (src/http1/write.rs, hyper's server). A
///   value found nowhere in the input (the scripted upstream's own `Date` is
///   passed through, and compared) becomes `<date>`.
///
/// And one value that differs per gateway, not per request: a request
/// without `Host` (HTTP/1.0) gets the upstream's authority as `Host` and
/// `X-Forwarded-Host` (src/proxy/forward.rs), and each gateway has its own
/// upstream port: `upstream` (that authority) becomes `<upstream>`.
///
/// Nothing else differs per request: `X-Forwarded-For` is the peer's IP
/// without a port (src/proxy/forward.rs, `Peer`), both clients are
/// 127.0.0.1, and `X-Forwarded-Proto` / `-Host` come from the request.
pub fn normalise(outcome: &mut Outcome, input: &[u8], upstream: &str) {
    let fix = |headers: &mut Headers, dates: bool| {
        for (name, value) in headers.iter_mut() {
            if (name == "host" || name == "x-forwarded-host")
                && value.as_slice() == upstream.as_bytes()
                && wire::find(input, value).is_none()
            {
                *value = b"<upstream>".to_vec();
                continue;
            }
            let generated = name == "x-request-id"
                && value.len() == 32
                && value
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                && wire::find(input, value).is_none();
            if generated {
                *value = b"<generated>".to_vec();
            } else if dates && name == "date" && wire::find(input, value).is_none() {
                *value = b"<date>".to_vec();
            }
        }
        headers.sort();
    };
    for view in &mut outcome.client {
        for r in &mut view.responses {
            fix(&mut r.headers, true);
        }
        if let Tail::Truncated(Some(r)) = &mut view.tail {
            fix(&mut r.headers, true);
        }
    }
    for seen in &mut outcome.upstream {
        if let Seen::Request { headers, .. } = seen {
            fix(headers, false);
        }
    }
}

/// A client connection that got no whole final response, reduced to that
/// fact and how the connection ended. For upstream answers the two paths
/// are held to the same class of failure, not the same failure: when the
/// upstream's answer breaks, one may already have sent the head (and some
/// body) where the other sent nothing, depending on when the break shows.
/// A 502 or 504 is a whole response and is compared in full.
pub fn classify_failure(view: &mut ClientView) {
    let whole_final = view.responses.iter().any(|r| r.status >= 200);
    if !whole_final {
        view.responses.clear();
        view.tail = Tail::Truncated(None);
    }
}
