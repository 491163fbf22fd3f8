//! TLS to an `https://` upstream: the system's roots plus an optional CA file,
//! and an optional client certificate.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

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
