//! TLS to an `https://` upstream: the system's roots plus an optional CA file.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A client config trusting the system roots and the certificates in `ca_file`.
pub fn client_config(ca_file: Option<&str>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system roots are not fatal when a CA file is given.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(file) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("cannot read {file}: {e}"))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{file} is not PEM certificates: {e}"))?;
        if certs.is_empty() {
            return Err(format!("{file} holds no certificate"));
        }
        for c in certs {
            roots.add(c).map_err(|e| format!("{file}: {e}"))?;
        }
    }
    if roots.is_empty() {
        return Err("no trusted roots: the system has none readable; give ca_file".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
