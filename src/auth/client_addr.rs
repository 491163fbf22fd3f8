//! Which client a request comes from, for its budget: the connection's
//! peer, or, when the peer is a trusted proxy (`server.trusted_proxies`),
//! the right-most `X-Forwarded-For` address that is not itself a trusted
//! proxy. Addresses to its left were written by the client and are never
//! believed: a client must not pick its own budget.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The client address of a request from `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Every X-Forwarded-For line, in order, as one list; walked from the
    // right, the nearest hop first.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Garbage written by whoever is left of the last trusted hop:
            // the last address a trusted proxy vouched for stands.
            return peer;
        };
        if !is_trusted(&ip) {
            return ip;
        }
    }
    peer
}

/// An address as proxies write it: bare, bracketed IPv6, or with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("203.0.113.9"), &headers(&[]), &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ];
        let peer = ip("127.0.0.1");
        assert_eq!(
            client_ip(peer, &headers(&["5.5.5.5"]), &trusted),
            ip("5.5.5.5")
        );
        assert_eq!(
            client_ip(peer, &headers(&["9.9.9.9, 5.5.5.5, 10.1.2.3"]), &trusted),
            ip("5.5.5.5"),
            "the client's own left part is not believed"
        );
        assert_eq!(
            client_ip(peer, &headers(&["9.9.9.9", "5.5.5.5"]), &trusted),
            ip("5.5.5.5"),
            "several header lines are one list"
        );
        assert_eq!(
            client_ip(peer, &headers(&["10.0.0.7"]), &trusted),
            peer,
            "all trusted"
        );
        assert_eq!(client_ip(peer, &headers(&[]), &trusted), peer);
        assert_eq!(
            client_ip(peer, &headers(&["1.1.1.1, garbage"]), &trusted),
            peer
        );
        assert_eq!(
            client_ip(peer, &headers(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(peer, &headers(&["5.5.5.5:1234"]), &trusted),
            ip("5.5.5.5")
        );
    }
}
