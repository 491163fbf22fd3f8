//! TLS material a config names, read and checked when the config loads: the
//! listener's certificate (rustls with ring, TLS 1.2 and 1.3, HTTP/2 by
//! ALPN), the upstream's trusted roots and client certificate, and a
//! provider's extra CA certificates. Errors name files, never their contents.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A server config from PEM files: the certificate chain (leaf first) and its
/// private key. Errors never quote the key.
pub fn server_config(cert_file: &str, key_file: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("cannot read {cert_file}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{cert_file} is not a PEM certificate chain: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{cert_file} holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|_| format!("{key_file} holds no private key in PEM"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not fit together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client certificate restgate presents to the upstream (mutual TLS).
#[derive(Debug, Clone)]
pub struct ClientCert {
    pub cert_file: String,
    pub key_file: String,
}

/// A client config trusting the system roots and the certificates in `ca_file`,
/// presenting `client_cert` when the upstream asks for one.
pub fn client_config(
    ca_file: Option<&str>,
    client_cert: Option<&ClientCert>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system roots are not fatal when a CA file is given.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(file) = ca_file {
        for c in read_chain(file)? {
            roots.add(c).map_err(|e| format!("{file}: {e}"))?;
        }
    }
    if roots.is_empty() {
        return Err("no trusted roots: the system has none readable; give ca_file".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots);
    let config = match client_cert {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let chain = read_chain(&c.cert_file)?;
            // Errors name the file, never its contents.
            let key = PrivateKeyDer::from_pem_file(&c.key_file)
                .map_err(|_| format!("{} holds no private key in PEM", c.key_file))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key do not fit together: {e}"))?
        }
    };
    Ok(Arc::new(config))
}

/// The PEM certificates in `file`, at least one.
fn read_chain(file: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("cannot read {file}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{file} is not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{file} holds no certificate"));
    }
    Ok(certs)
}

/// The PEM certificates of a provider's `ca_file`, at least one: what config
/// validation checks, without building a client.
pub fn read_ca_file(ca_file: &str) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(ca_file).map_err(|e| format!("cannot read {ca_file}: {e}"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| format!("{ca_file} is not PEM certificates"))?;
    if certs.is_empty() {
        return Err(format!("{ca_file} holds no certificate"));
    }
    Ok(certs)
}
