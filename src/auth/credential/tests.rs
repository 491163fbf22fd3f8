use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn classifier() -> Classifier {
    Classifier {
        api_key_prefix: "rgk_".into(),
        api_key_header: HeaderName::from_static("x-api-key"),
        session_cookies: vec!["JSESSIONID".into(), "seraph.rememberme.cookie".into()],
    }
}

fn classify(headers: &[(&str, &str)]) -> Result<Credential, CredentialError> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    classifier().classify(&map)
}

fn name(r: Result<Credential, CredentialError>) -> String {
    match r {
        Ok(c) => class_name(&c).into_owned(),
        Err(e) => format!("error:{e:?}"),
    }
}

fn pat() -> String {
    let mut raw = b"000123456789:".to_vec();
    raw.extend([7u8; 20]);
    STANDARD.encode(raw)
}

#[test]
fn classification_follows_the_spec_table() {
    let basic_key = format!("Basic {}", STANDARD.encode("ci:rgk_abc"));
    let basic = format!("Basic {}", STANDARD.encode("alice:pw"));
    let bearer_pat = format!("Bearer {}", pat());
    let dc = format!(
        "Bearer {}.{}.sig",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"id":"1"}"#)
    );
    let not_dc = format!(
        "Bearer {}.{}.sig",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"id":"1"}"#)
    );
    let table: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "none"),
        (vec![("authorization", "Bearer rgk_abc")], "api_key"),
        (vec![("authorization", &basic_key)], "api_key"),
        (vec![("x-api-key", "rgk_abc")], "api_key"),
        (
            vec![
                ("x-api-key", "anything"),
                ("authorization", "Bearer opaque"),
            ],
            "api_key",
        ),
        (vec![("authorization", &bearer_pat)], "native:pat"),
        (
            vec![("authorization", "Bearer BBDC-abc")],
            "native:bitbucket_token",
        ),
        (vec![("authorization", &dc)], "native:dc_oauth2"),
        (vec![("authorization", &not_dc)], "bearer"),
        (vec![("authorization", "Bearer opaque.token-1")], "bearer"),
        (
            vec![("authorization", "bearer lower-case-scheme")],
            "bearer",
        ),
        (vec![("authorization", &basic)], "native:basic"),
        (
            vec![("authorization", "OAuth oauth_consumer_key=\"x\"")],
            "native:oauth1",
        ),
        (
            vec![("authorization", "Negotiate abc")],
            "native:other_scheme",
        ),
        (
            vec![("cookie", "a=b; JSESSIONID=x")],
            "native:session_cookie",
        ),
        (vec![("cookie", "AWSALB=x")], "none"),
    ];
    for (headers, want) in table {
        assert_eq!(name(classify(&headers)), want, "{headers:?}");
    }
}

#[test]
fn malformed_credentials_are_errors() {
    use CredentialError as E;
    let table: Vec<(Vec<(&str, &str)>, CredentialError)> = vec![
        (vec![("authorization", "Bearer")], E::EmptyBearer),
        (vec![("authorization", "Bearer    ")], E::EmptyBearer),
        (vec![("authorization", "Bearer a b")], E::TwoTokens),
        (vec![("authorization", "Bearer a,b")], E::BadToken),
        (vec![("authorization", "Bearer ===")], E::BadToken),
        (vec![("authorization", "Basic %%%")], E::BadBasic),
        (vec![("authorization", "Basic bm9jb2xvbg==")], E::BadBasic),
        (
            vec![("authorization", "Bearer a"), ("authorization", "Bearer b")],
            E::DuplicateAuthorization,
        ),
        (
            vec![("x-api-key", "a"), ("x-api-key", "b")],
            E::DuplicateApiKey,
        ),
        (vec![("x-api-key", " ")], E::EmptyApiKey),
        (vec![("authorization", "Bearer a\tb")], E::BadCharacters),
    ];
    for (headers, want) in table {
        assert_eq!(classify(&headers).err(), Some(want), "{headers:?}");
    }
}

#[test]
fn bearer_token_is_the_exact_token_and_prints_redacted() {
    let Ok(Credential::Bearer(t)) = classify(&[("authorization", "Bearer   tok-123==  ")]) else {
        panic!()
    };
    assert_eq!(t.expose(), "tok-123==");
    assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    let Ok(Credential::ApiKey { key, .. }) = classify(&[("x-api-key", "rgk_x")]) else {
        panic!()
    };
    assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
}

#[test]
fn native_token_shapes() {
    assert_eq!(native_token(&pat()), Some(NativeKind::PersonalAccessToken));
    // 44 characters but not digits + ':' inside.
    assert_eq!(native_token(&STANDARD.encode([b'a'; 33])), None);
    assert_eq!(
        native_token("BBDC-anything"),
        Some(NativeKind::BitbucketToken)
    );
    assert_eq!(native_token("eyJhbGciOiJSUzI1NiJ9.e30.sig"), None);
}

#[test]
fn only_an_hs256_jwt_holding_just_an_id_is_a_dc_oauth2_token() {
    let jwt = |header: &str, payload: &str, rest: &str| {
        format!(
            "{}.{}{rest}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        )
    };
    let dc = Some(NativeKind::DataCenterOAuth2);
    let cases = [
        (jwt(r#"{"alg":"HS256"}"#, r#"{"id":"7"}"#, ".sig"), dc),
        (
            jwt(
                r#" {"typ":"JWT", "alg" : "HS256","kid":"k"}"#,
                r#"{"id":7}"#,
                ".s",
            ),
            dc,
        ),
        (
            jwt(r#"{"alg":"HS\u0032256"}"#, r#"{"id":"7"}"#, ".sig"),
            None,
        ),
        (
            jwt(r#"{"alg":"HS\u0032\u00356"}"#, r#"{"id":"7"}"#, ".sig"),
            dc,
        ),
        (jwt(r#"{"alg":"RS256"}"#, r#"{"id":"7"}"#, ".sig"), None),
        (jwt(r#"{"typ":"JWT"}"#, r#"{"id":"7"}"#, ".sig"), None),
        (jwt(r#"["HS256"]"#, r#"{"id":"7"}"#, ".sig"), None),
        (
            jwt(r#"{"alg":"HS256"}"#, r#"{"id":"7","sub":"a"}"#, ".sig"),
            None,
        ),
        (jwt(r#"{"alg":"HS256"}"#, r#"["id"]"#, ".sig"), None),
        (jwt(r#"{"alg":"HS256"}"#, r#"{"id":"7"}"#, ""), None),
        (
            jwt(r#"{"alg":"HS256"}"#, r#"{"id":"7"}"#, ".sig.more"),
            None,
        ),
        (jwt(r#"{"alg":"HS256""#, r#"{"id":"7"}"#, ".sig"), None),
    ];
    for (token, want) in cases {
        assert_eq!(native_token(&token), want, "{token}");
    }
}

#[test]
fn b64token_takes_exactly_rfc_6750s_characters() {
    let allowed: Vec<u8> = (0..=255u8)
        .filter(|&b| is_b64token(&format!("a{}", char::from(b))))
        .collect();
    let want: Vec<u8> = (b'0'..=b'9')
        .chain(b'A'..=b'Z')
        .chain(b'a'..=b'z')
        .chain(*b"+-./_~")
        .chain(*b"=")
        .collect::<std::collections::BTreeSet<u8>>()
        .into_iter()
        .collect();
    assert_eq!(allowed, want);
    // `=` only at the end, and not alone.
    assert!(is_b64token("ab=="));
    assert!(!is_b64token("a=b"));
    assert!(!is_b64token("=="));
}
