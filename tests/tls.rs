//! TLS on the listener with a certificate made in the test: HTTP/2 by ALPN,
//! HTTP/1.1, X-Forwarded-Proto https; config errors for a broken pair.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod raw;
    pub mod setup;
    pub mod upstream;
}

use common::gateway::*;
use common::idp::*;
use common::raw::*;
use common::setup::*;
use common::upstream::*;

fn certificate(dir: &std::path::Path) -> (String, String, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (
        cert.display().to_string(),
        key.display().to_string(),
        ck.cert.pem(),
    )
}

#[tokio::test]
async fn tls_with_http2_by_alpn_and_http1() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = certificate(dir.path());
    let (idp, up, gw) = setup_server(&format!(
        "tls_cert_file = \"{cert}\"\ntls_key_file = \"{key}\""
    ))
    .await;
    idp.add_user("tok-tls", "alice");
    // reqwest here has no bundled crypto provider: restgate's client installs ring.
    let _ = restgate::providers::http_client();
    let client = |h2: bool| {
        let b = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .resolve("localhost", gw.addr);
        if h2 { b } else { b.http1_only() }.build().unwrap()
    };
    let url = format!("https://localhost:{}/rest/api/2/myself", gw.addr.port());
    let res = client(true)
        .get(&url)
        .bearer_auth("tok-tls")
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2, "ALPN chose h2");
    assert_eq!(res.status(), 200);
    assert_eq!(
        up.last().header("x-forwarded-proto").as_deref(),
        Some("https")
    );
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("alice")
    );
    // HTTP/1.1 over TLS: a GET on the lean loop, then on the same
    // connection a POST with a body (handed to hyper), then a GET again.
    let http1 = client(false);
    for (method, body) in [("GET", ""), ("POST", "{\"a\":1}"), ("GET", "")] {
        let res = http1
            .request(method.parse().unwrap(), &url)
            .bearer_auth("tok-tls")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.version(), reqwest::Version::HTTP_11);
        assert_eq!(res.status(), 200, "{method}");
        let seen = up.last();
        assert_eq!((seen.method.as_str(), seen.body_len), (method, body.len()));
        assert_eq!(seen.header("x-forwarded-user").as_deref(), Some("alice"));
    }
    // Cleartext to the TLS port gets no HTTP answer.
    let raw_res = raw(
        gw.addr,
        b"GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!raw_res.starts_with("HTTP/1.1 200"), "{raw_res}");
}

#[test]
fn a_broken_certificate_pair_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _key, _) = certificate(dir.path());
    let other = rcgen::generate_simple_self_signed(vec!["other".to_owned()]).unwrap();
    let wrong_key = dir.path().join("wrong.key");
    std::fs::write(&wrong_key, other.signing_key.serialize_pem()).unwrap();
    let parse = |server: String| {
        let text = format!("[server]\n{server}\n[upstream]\nurl = \"http://127.0.0.1:1\"\n");
        restgate::config::parse(&text, std::path::Path::new("t.toml"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let err = parse(format!(
        "tls_cert_file = \"{cert}\"\ntls_key_file = \"{}\"",
        wrong_key.display()
    ))
    .unwrap_err();
    assert!(
        err.contains("server.tls_cert_file") && err.contains("do not fit"),
        "{err}"
    );
    let err = parse(format!("tls_cert_file = \"{cert}\"")).unwrap_err();
    assert!(err.contains("server.tls_key_file: missing"), "{err}");
    let err =
        parse("tls_cert_file = \"/nonexistent.crt\"\ntls_key_file = \"/nonexistent.key\"".into())
            .unwrap_err();
    assert!(err.contains("cannot read /nonexistent.crt"), "{err}");
}

/// A TLS terminator in front of a plain upstream (as a real https Jira would be);
/// returns its address and the file of the CA that signs its certificate.
async fn tls_in_front_of(
    plain: std::net::SocketAddr,
    dir: &std::path::Path,
) -> (std::net::SocketAddr, String) {
    let (cert, key, _) = certificate(dir);
    let config = restgate::config::tls::server_config(&cert, &key).unwrap();
    (terminate(config, plain).await, cert)
}

/// Accepts TLS with `config` and relays each connection to `plain`.
async fn terminate(
    config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
    plain: std::net::SocketAddr,
) -> std::net::SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let Ok(mut inner) = tokio::net::TcpStream::connect(plain).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut inner).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_https_upstream_is_verified_with_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.add_user("tok-https-up", "alice");
    let (tls_addr, ca) = tls_in_front_of(up.addr, dir.path()).await;
    let toml = config(&idp, &up, "").replace(
        &format!("url = \"http://{}\"", up.addr),
        &format!(
            "url = \"https://localhost:{}\"\nca_file = \"{ca}\"",
            tls_addr.port()
        ),
    );
    assert!(toml.contains("https://localhost"));
    let gw = TestGateway::start(&toml).await;
    let res = gw.bearer("/rest/api/2/myself", "tok-https-up").await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("alice")
    );

    // Without the CA, the upstream's certificate is not trusted: 502, never a pass.
    let untrusted = toml.replace(&format!("\nca_file = \"{ca}\""), "");
    let gw = TestGateway::start(&untrusted).await;
    let res = gw.bearer("/rest/api/2/myself", "tok-https-up").await;
    assert_eq!(res.status, 502);
}

#[tokio::test]
async fn an_https_provider_is_verified_with_its_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.add_user("tok-https-idp", "alice");
    let (tls_addr, ca) = tls_in_front_of(idp.addr, dir.path()).await;
    let https = format!("https://localhost:{}/introspect", tls_addr.port());
    let base = config(&idp, &up, "").replace(&idp.url("/introspect"), &https);
    assert!(base.contains(&https));
    let gw = TestGateway::start(&format!("{base}ca_file = \"{ca}\"\n")).await;
    let res = gw.bearer("/rest/api/2/myself", "tok-https-idp").await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("alice")
    );
    // Without the CA the provider's certificate is not trusted: 503, never a pass.
    let gw = TestGateway::start(&base).await;
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-https-idp")
            .await
            .status,
        503
    );
}

/// A CA, a client certificate it issued (PEM files in `dir`), and the CA's DER.
fn client_certificate(dir: &std::path::Path) -> (String, String, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let mut ca = CertificateParams::new(vec![]).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec!["restgate".to_owned()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let cert = dir.join("client.crt");
    let key = dir.join("client.key");
    std::fs::write(&cert, leaf_cert.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    (
        cert.display().to_string(),
        key.display().to_string(),
        ca_cert.der().to_vec(),
    )
}

/// A TLS terminator that demands a client certificate issued by `client_ca`.
async fn mtls_in_front_of(
    plain: std::net::SocketAddr,
    dir: &std::path::Path,
    client_ca: Vec<u8>,
) -> (std::net::SocketAddr, String) {
    use rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let (cert, key, _) = certificate(dir);
    let chain = vec![rustls::pki_types::CertificateDer::from_pem_file(&cert).unwrap()];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(client_ca.into()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    (terminate(std::sync::Arc::new(config), plain).await, cert)
}

#[tokio::test]
async fn a_client_certificate_is_presented_to_an_upstream_that_demands_one() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.add_user("tok-mtls", "alice");
    let (client_cert, client_key, client_ca) = client_certificate(dir.path());
    let (tls_addr, ca) = mtls_in_front_of(up.addr, dir.path(), client_ca).await;
    let without = config(&idp, &up, "").replace(
        &format!("url = \"http://{}\"", up.addr),
        &format!(
            "url = \"https://localhost:{}\"\nca_file = \"{ca}\"",
            tls_addr.port()
        ),
    );
    assert!(without.contains("https://localhost"));
    let with = without.replace(
        &format!("ca_file = \"{ca}\""),
        &format!(
            "ca_file = \"{ca}\"\nclient_cert_file = \"{client_cert}\"\nclient_key_file = \"{client_key}\""
        ),
    );
    assert!(with.contains("client_cert_file"));
    let gw = TestGateway::start(&with).await;
    let res = gw.bearer("/rest/api/2/myself", "tok-mtls").await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(
        up.last().header("x-forwarded-user").as_deref(),
        Some("alice")
    );
    let seen = up.count();
    // Without the certificate the upstream refuses the handshake: 502.
    let gw = TestGateway::start(&without).await;
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-mtls").await.status,
        502
    );
    assert_eq!(up.count(), seen, "nothing reached the upstream");
}

#[test]
fn a_client_certificate_needs_its_key_and_an_https_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = client_certificate(dir.path());
    let (_, other_key, _) = {
        let d = dir.path().join("other");
        std::fs::create_dir(&d).unwrap();
        client_certificate(&d)
    };
    let parse = |upstream: String| {
        let text = format!("[upstream]\n{upstream}\n");
        restgate::config::parse(&text, std::path::Path::new("t.toml"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let https = "url = \"https://jira.example.com\"";
    assert!(
        parse(format!(
            "{https}\nclient_cert_file = \"{cert}\"\nclient_key_file = \"{key}\""
        ))
        .is_ok()
    );
    let err = parse(format!("{https}\nclient_cert_file = \"{cert}\"")).unwrap_err();
    assert!(err.contains("upstream.client_key_file: missing"), "{err}");
    let err = parse(format!("{https}\nclient_key_file = \"{key}\"")).unwrap_err();
    assert!(err.contains("upstream.client_cert_file: missing"), "{err}");
    let err = parse(format!(
        "{https}\nclient_cert_file = \"{cert}\"\nclient_key_file = \"{other_key}\""
    ))
    .unwrap_err();
    assert!(
        err.contains("upstream.client_cert_file") && err.contains("do not fit"),
        "{err}"
    );
    let err = parse(format!(
        "url = \"http://jira\"\nclient_cert_file = \"{cert}\"\nclient_key_file = \"{key}\""
    ))
    .unwrap_err();
    assert!(
        err.contains("upstream.client_cert_file: only used with an https"),
        "{err}"
    );
    // The key's contents never appear in an error.
    let key_pem = std::fs::read_to_string(&key).unwrap();
    let body = key_pem.lines().nth(1).unwrap();
    assert!(!err.contains(body));
}
