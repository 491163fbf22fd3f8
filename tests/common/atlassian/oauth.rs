//! The mock's 2-legged OAuth verifier: the signature base string built with
//! its own code, not restgate's, so a signing mistake cannot hide behind the
//! same mistake; the timestamp window, nonce replay, and an unknown requestor
//! run as anonymous.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;

use super::{MockState, OAuthOutcome};

/// RFC 5849 §3.6 encoding, written independently of restgate's.
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pct_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The 2LOi check, as the products' `AuthenticatorImpl` does it.
pub(super) fn verify_oauth(
    s: &MockState,
    method: &Method,
    uri: &Uri,
    h: &HeaderMap,
    body: &Bytes,
    header: &str,
) -> OAuthOutcome {
    let mut oauth: Vec<(String, String)> = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            return OAuthOutcome::Problem("parameter_rejected");
        };
        oauth.push((pct_decode(k), pct_decode(v.trim_matches('"'))));
    }
    let get = |k: &str| oauth.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let required = [
        "oauth_consumer_key",
        "oauth_token",
        "oauth_signature_method",
        "oauth_signature",
        "oauth_timestamp",
        "oauth_nonce",
    ];
    if required.iter().any(|k| get(k).is_none()) || get("oauth_token") != Some("") {
        return OAuthOutcome::Problem("parameter_absent");
    }
    if get("oauth_consumer_key") != Some(s.cfg.consumer_key.as_str()) {
        return OAuthOutcome::Problem("consumer_key_unknown");
    }
    if get("oauth_signature_method") != Some("RSA-SHA1") {
        return OAuthOutcome::Problem("signature_method_rejected");
    }
    // Parameters: OAuth ones (but the signature and realm), the query, a form body.
    let mut params: Vec<(String, String)> = oauth
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k != "realm")
        .cloned()
        .collect();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    params.extend(query.iter().cloned());
    let is_form = h
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = if is_form {
        form_urlencoded::parse(body).into_owned().collect()
    } else {
        Vec::new()
    };
    params.extend(form.iter().cloned());
    let mut enc: Vec<(String, String)> = params.iter().map(|(k, v)| (pct(k), pct(v))).collect();
    enc.sort();
    let normalised = enc
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    // Tomcat rebuilds the URL from proxyName / proxyPort / scheme, not from the socket.
    let url = format!("{}{}", s.cfg.public_base, uri.path());
    let base = format!("{}&{}&{}", method.as_str(), pct(&url), pct(&normalised));
    let key = rsa::RsaPublicKey::from_public_key_pem(&s.cfg.public_key_pem).unwrap();
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(key);
    let sig_bytes = STANDARD
        .decode(get("oauth_signature").unwrap_or_default())
        .unwrap_or_default();
    let valid = rsa::pkcs1v15::Signature::try_from(sig_bytes.as_slice())
        .is_ok_and(|sig| verifier.verify(base.as_bytes(), &sig).is_ok());
    if !valid {
        return OAuthOutcome::Problem("signature_invalid");
    }
    let ts: i64 = get("oauth_timestamp")
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts).abs() > 300 {
        return OAuthOutcome::Problem("timestamp_refused");
    }
    if !s
        .nonces
        .lock()
        .unwrap()
        .insert(get("oauth_nonce").unwrap_or_default().to_owned())
    {
        return OAuthOutcome::Problem("nonce_used");
    }
    // getParameter: the query or a form body, never the Authorization header.
    let requestor = query
        .iter()
        .chain(form.iter())
        .find(|(k, _)| k == "xoauth_requestor_id")
        .or_else(|| {
            query
                .iter()
                .chain(form.iter())
                .find(|(k, _)| k == "user_id")
        })
        .map(|(_, v)| v.clone());
    match requestor {
        Some(_) if !s.cfg.impersonation => OAuthOutcome::Problem("permission_denied"),
        // UserManager.resolve: an unknown name resolves to null, and the request
        // runs as anonymous (the pitfall restgate guards against).
        Some(u) => match s.users.iter().find(|x| x.name == u) {
            Some(x) => OAuthOutcome::User(x.name.clone()),
            None => OAuthOutcome::Anonymous,
        },
        None => OAuthOutcome::Anonymous,
    }
}
