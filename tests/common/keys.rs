//! JWT fixtures: the test keys in tests/fixtures/keys, their public JWKs,
//! and tokens signed with them.

use std::path::Path;

use serde_json::Value;

/// A test key: `rsa1`, `rsa2` or `ec1` (tests/fixtures/keys).
pub fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keys")
            .join(name),
    )
    .unwrap()
}

/// The public JWK of a test key.
#[allow(dead_code, reason = "some test binaries publish no keys")]
pub fn jwk(name: &str) -> Value {
    serde_json::from_slice(&key_file(&format!("{name}.jwk.json"))).unwrap()
}

/// Signs claims with a test key under a `kid`.
pub fn sign(key: &str, kid: &str, claims: &Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let pem = key_file(&format!("{key}.pem"));
    let (alg, enc) = if key.starts_with("ec") {
        (Algorithm::ES256, EncodingKey::from_ec_pem(&pem).unwrap())
    } else {
        (Algorithm::RS256, EncodingKey::from_rsa_pem(&pem).unwrap())
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &enc).unwrap()
}
