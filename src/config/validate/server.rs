//! `[server]`.

use std::path::Path;

use super::super::locate::KeyPath;
use super::super::raw;
use super::super::types::*;
use super::cx::{Cx, resolve};

impl Cx {
    pub(super) fn server(&mut self, raw: &raw::RawServer, base: &Path) -> Server {
        let p = KeyPath::root("server");
        let addr = |cx: &mut Cx, key: &str, v: Option<&String>, default: &str| {
            let text = v.map(String::as_str).unwrap_or(default);
            text.parse().unwrap_or_else(|_| {
                cx.err(
                    &p.key(key),
                    format!("{text:?} is not a socket address; write e.g. \"0.0.0.0:8080\""),
                );
                default.parse().expect("default address")
            })
        };
        let listen: std::net::SocketAddr =
            addr(self, "listen", raw.listen.as_ref(), "0.0.0.0:8080");
        let admin_listen: std::net::SocketAddr = addr(
            self,
            "admin_listen",
            raw.admin_listen.as_ref(),
            "127.0.0.1:9901",
        );
        let admin_token = self.secret(&p, "admin_token", None, raw.admin_token_file.as_ref(), base);
        if !admin_listen.ip().is_loopback() && raw.admin_token_file.is_none() {
            self.err(
                &p.key("admin_listen"),
                format!(
                    "{admin_listen} is reachable from other hosts, and the admin endpoints show \
                     identities and evict: set server.admin_token_file (a file holding a long \
                     random token) or listen on 127.0.0.1"
                ),
            );
        }
        if let Some(t) = &admin_token {
            if t.expose().trim() != t.expose() && !self.skip_secrets {
                self.err(
                    &p.key("admin_token_file"),
                    "the token starts or ends with a space: a client could never send it; write the token alone",
                );
            } else if t.expose().len() < 16 && !self.skip_secrets {
                self.err(
                    &p.key("admin_token_file"),
                    "the token is too short to resist guessing: use 16 or more characters, e.g. `openssl rand -hex 32`",
                );
            }
        }
        let max_header_bytes = raw.max_header_bytes.unwrap_or(65536);
        if !(8192..=1 << 20).contains(&max_header_bytes) {
            self.err(
                &p.key("max_header_bytes"),
                "must be between 8192 and 1048576",
            );
        }
        let tls = match (&raw.tls_cert_file, &raw.tls_key_file) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                match super::super::tls::server_config(&resolve(base, cert), &resolve(base, key)) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        self.err(&p.key("tls_cert_file"), e);
                        None
                    }
                }
            }
            (Some(_), None) => {
                self.err(
                    &p.key("tls_key_file"),
                    "missing: the private key of tls_cert_file",
                );
                None
            }
            (None, Some(_)) => {
                self.err(
                    &p.key("tls_cert_file"),
                    "missing: the certificate chain for tls_key_file",
                );
                None
            }
        };
        Server {
            listen,
            admin_listen,
            header_read_timeout: self.duration(
                &p.key("header_read_timeout"),
                raw.header_read_timeout.as_ref(),
                "10s",
            ),
            idle_timeout: self.duration(&p.key("idle_timeout"), raw.idle_timeout.as_ref(), "60s"),
            max_header_bytes: max_header_bytes.clamp(8192, 1 << 20) as usize,
            tls,
            max_connections: self.positive(&p.key("max_connections"), raw.max_connections, 10_000),
            trusted_proxies: self
                .trusted_proxies(&p.key("trusted_proxies"), raw.trusted_proxies.as_deref()),
            admin_token,
            fast_http1: raw.fast_http1.unwrap_or(true)
                && std::env::var_os("RESTGATE_FAST_HTTP1").is_none_or(|v| v != "0"),
            shutdown_timeout: self.duration(
                &p.key("shutdown_timeout"),
                raw.shutdown_timeout.as_ref(),
                "30s",
            ),
        }
    }
}

impl Cx {
    /// Refuses an upstream that is restgate's own listener: every request
    /// would come back to it until its head grew too large.
    pub(super) fn not_itself(&mut self, server: &Server, upstream: &Upstream) {
        let url = &upstream.url;
        let Some(host) = url.host() else { return };
        let port = url.port_u16().unwrap_or(match url.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        if port != server.listen.port() {
            return;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let upstream_ip = match host {
            "localhost" => Some(std::net::IpAddr::from([127, 0, 0, 1])),
            h => h.parse::<std::net::IpAddr>().ok(),
        };
        let Some(ip) = upstream_ip else { return };
        let listen = server.listen.ip();
        let same = ip == listen
            || (listen.is_unspecified() && (ip.is_loopback() || ip.is_unspecified()))
            || (listen.is_loopback() && ip.is_unspecified());
        if same {
            self.err(
                &KeyPath::root("upstream").key("url"),
                format!(
                    "{url} is restgate's own listener (server.listen = {}): requests would loop; point it at the product (e.g. Jira on another port)",
                    server.listen
                ),
            );
        }
    }
}
