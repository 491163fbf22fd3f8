//! TLS on the listener with a certificate made in the test: HTTP/2 by ALPN,
//! HTTP/1.1, X-Forwarded-Proto https; config errors for a broken pair.

mod common;

use common::*;

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
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.add_user("tok-tls", "alice");
    let toml = format!(
        "[server]\ntls_cert_file = \"{cert}\"\ntls_key_file = \"{key}\"\n{}",
        config(&idp, &up, "")
    );
    let gw = TestGateway::start(&toml).await;
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
    let res = client(false)
        .get(&url)
        .bearer_auth("tok-tls")
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert_eq!(res.status(), 200);
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

/// A TLS terminator in front of a plain upstream (as a real https Jira would be).
async fn tls_in_front_of(
    plain: std::net::SocketAddr,
    dir: &std::path::Path,
) -> (std::net::SocketAddr, String) {
    let (cert, key, pem) = certificate(dir);
    let config = restgate::server::tls::server_config(&cert, &key).unwrap();
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
    let ca = dir.join("upstream-ca.pem");
    std::fs::write(&ca, pem).unwrap();
    (addr, ca.display().to_string())
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
