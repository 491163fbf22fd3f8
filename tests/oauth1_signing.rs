//! The `oauth1` hand-off's RSA-SHA1 signatures, made by OpenSSL: byte for byte
//! those of an independent implementation (RustCrypto's `rsa`; PKCS#1 v1.5 is
//! deterministic), from PKCS#8 and PKCS#1 key files alike; keys that are not
//! plain RSA private keys refused with a message that never quotes them; and
//! `oauth1 keygen` writing a key both implementations read.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use restgate::config::OAuth1;
use restgate::config::oauth1::load_private_key;
use restgate::proxy::oauth1::{Signer, base_string};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer as _};

const BASE_URL: &str = "https://jira.example.com";

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name)
}

fn signer(path: &std::path::Path) -> Signer {
    let key = load_private_key(path.to_str().unwrap()).unwrap();
    Signer::new(&OAuth1 {
        consumer_key: "restgate".into(),
        private_key: key,
        signed_base_url: BASE_URL.into(),
    })
}

/// The header's parameters, decoded.
fn header_params(header: &str) -> Vec<(String, String)> {
    header
        .strip_prefix("OAuth ")
        .unwrap()
        .split(", ")
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            let v = percent_encoding::percent_decode_str(v.trim_matches('"'))
                .decode_utf8()
                .unwrap();
            (k.to_owned(), v.into_owned())
        })
        .collect()
}

/// The signature restgate put in `header`, and the one RustCrypto's `rsa`
/// makes with `pem` over the same base string.
fn both_signatures(
    header: &str,
    params: &[(String, String)],
    path: &str,
    pem: &str,
) -> (Vec<u8>, Vec<u8>) {
    let oauth = header_params(header);
    let signature = oauth
        .iter()
        .find(|(k, _)| k == "oauth_signature")
        .map(|(_, v)| STANDARD.decode(v).unwrap())
        .unwrap();
    let mut all: Vec<(String, String)> = params.to_vec();
    all.extend(oauth.into_iter().filter(|(k, _)| k != "oauth_signature"));
    let base = base_string(&Method::POST, &format!("{BASE_URL}{path}"), &all);
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
    let reference = rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(key)
        .sign(base.as_bytes())
        .to_vec();
    (signature, reference)
}

#[test]
fn signatures_are_those_of_an_independent_implementation() {
    let params: Vec<(String, String)> = [
        ("jql", "project = ABC AND text ~ \"é & ü\""),
        ("xoauth_requestor_id", "alice"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for name in ["rsa1.pem", "rsa2.pem"] {
        let pem = std::fs::read_to_string(fixture(name)).unwrap();
        let s = signer(&fixture(name));
        for (i, nonce) in ["a1b2", "c3d4", "0000"].iter().enumerate() {
            let header = s
                .authorization(
                    &Method::POST,
                    "/jira/rest/api/2/search",
                    &params,
                    1_700_000_000 + i as u64,
                    nonce,
                )
                .expect("signed");
            let (got, want) = both_signatures(&header, &params, "/jira/rest/api/2/search", &pem);
            assert_eq!(got.len(), 256, "{name}");
            assert_eq!(got, want, "{name}, nonce {nonce}");
        }
    }
}

#[test]
fn a_pkcs1_key_file_signs_as_its_pkcs8_form() {
    let pem = std::fs::read_to_string(fixture("rsa1.pem")).unwrap();
    let pkcs1 = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
        .unwrap()
        .to_pkcs1_pem(LineEnding::LF)
        .unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pkcs1.pem");
    std::fs::write(&path, pkcs1.as_bytes()).unwrap();
    let params = vec![("xoauth_requestor_id".to_owned(), "bob".to_owned())];
    let from_pkcs1 = signer(&path)
        .authorization(&Method::POST, "/x", &params, 1, "n")
        .expect("signed");
    let from_pkcs8 = signer(&fixture("rsa1.pem"))
        .authorization(&Method::POST, "/x", &params, 1, "n")
        .expect("signed");
    assert_eq!(from_pkcs1, from_pkcs8);
    let (got, want) = both_signatures(&from_pkcs1, &params, "/x", &pem);
    assert_eq!(got, want);
}

#[test]
fn what_is_not_a_plain_rsa_private_key_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let rsa_pem = std::fs::read_to_string(fixture("rsa1.pem")).unwrap();
    let key = openssl::pkey::PKey::private_key_from_pem(rsa_pem.as_bytes()).unwrap();
    let cipher = openssl::symm::Cipher::aes_256_cbc();
    let encrypted_pkcs8 = String::from_utf8(
        key.private_key_to_pem_pkcs8_passphrase(cipher, b"pw")
            .unwrap(),
    )
    .unwrap();
    let encrypted_pkcs1 = String::from_utf8(
        key.rsa()
            .unwrap()
            .private_key_to_pem_passphrase(cipher, b"pw")
            .unwrap(),
    )
    .unwrap();
    assert!(encrypted_pkcs1.contains("Proc-Type: 4,ENCRYPTED"));
    // One body line of the real key, damaged: the DER no longer parses.
    let mut lines: Vec<&str> = rsa_pem.lines().collect();
    lines.truncate(lines.len() / 2);
    lines.push("-----END PRIVATE KEY-----");
    let truncated = lines.join("\n");
    let cases = [
        ("ec", std::fs::read_to_string(fixture("ec1.pem")).unwrap()),
        (
            "public",
            std::fs::read_to_string(fixture("rsa1.pub.pem")).unwrap(),
        ),
        ("encrypted-pkcs8", encrypted_pkcs8),
        ("encrypted-pkcs1", encrypted_pkcs1),
        ("truncated", truncated),
        ("two-keys", format!("{rsa_pem}{rsa_pem}")),
        ("text", "not a key\n".to_owned()),
        ("empty", String::new()),
    ];
    for (name, text) in cases {
        let path = dir.path().join(format!("{name}.pem"));
        std::fs::write(&path, &text).unwrap();
        let path = path.to_str().unwrap();
        let err = load_private_key(path).expect_err(name);
        assert_eq!(
            err,
            format!("{path} holds no RSA private key in PEM (PKCS#8 or PKCS#1)"),
            "{name}"
        );
        for line in text
            .lines()
            .filter(|l| l.len() > 20 && !l.starts_with("-----"))
        {
            assert!(!err.contains(line), "{name}: the message quotes the file");
        }
    }
    let missing = dir.path().join("missing.pem");
    let err = load_private_key(missing.to_str().unwrap()).unwrap_err();
    assert!(
        err.starts_with(&format!("cannot read {}", missing.display())),
        "{err}"
    );
}

#[test]
fn keygen_writes_a_pkcs8_key_that_both_implementations_read() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = |out: &std::path::Path, bits: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_restgate"))
            .args(["oauth1", "keygen", "--bits", bits, "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let small = dir.path().join("small.pem");
    let out = keygen(&small, "1024");
    assert_eq!(out.status.code(), Some(1));
    assert!(!small.exists());

    let path = dir.path().join("k.pem");
    let out = keygen(&path, "3072");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8");
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
    use rsa::traits::PublicKeyParts;
    assert_eq!(key.size() * 8, 3072);
    // The public key printed for the product is this key's.
    let stdout = String::from_utf8(out.stdout).unwrap();
    let start = stdout.find("-----BEGIN PUBLIC KEY-----").unwrap();
    let end = stdout.find("-----END PUBLIC KEY-----").unwrap();
    use rsa::pkcs8::DecodePublicKey;
    let printed = rsa::RsaPublicKey::from_public_key_pem(
        &stdout[start..end + "-----END PUBLIC KEY-----".len()],
    )
    .unwrap();
    assert_eq!(printed, key.to_public_key());
    // And restgate signs with it what RustCrypto's implementation signs.
    let params = vec![("xoauth_requestor_id".to_owned(), "carol".to_owned())];
    let header = signer(&path)
        .authorization(&Method::POST, "/y", &params, 2, "m")
        .expect("signed");
    let (got, want) = both_signatures(&header, &params, "/y", &pem);
    assert_eq!(got, want);
}
