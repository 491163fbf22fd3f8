//! Property tests (a fixed number of cases, so CI is deterministic in cost):
//! path canonicalisation and credential parsing on arbitrary input.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;
use restgate::auth::credential::{Classifier, Credential};
use restgate::auth::route::RouteTable;
use restgate::core::path::{PathPrefix, canonicalize};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2000,
        ..ProptestConfig::default()
    }
}

/// Pieces that spell segments many ways: encodings of "rest", dot segments,
/// parameters, separators and the bytes that must be refused.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "rest",
        "%72est",
        "re%73t",
        "%72%65%73%74",
        "REST",
        "api",
        "2",
        "myself",
        "x",
        "",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        ";p",
        ";jsessionid=1",
        "%3B",
        "%2F",
        "%5C",
        "\\",
        "%00",
        "%",
        "%zz",
        "/",
        "//",
        "..;",
        "%252e",
        "é",
        "%C3%A9",
        "%FF",
    ])
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..10).prop_map(|v| format!("/{}", v.concat()))
}

proptest! {
    #![proptest_config(config())]

    /// Never panics; a canonical path has no empty, dot or separator segment.
    #[test]
    fn canonical_paths_are_clean(p in path()) {
        if let Ok(segments) = canonicalize(&p) {
            for s in &segments {
                prop_assert!(!s.is_empty() && s != "." && s != "..");
                prop_assert!(!s.contains('/') && !s.contains('\\') && !s.contains('\0') && !s.contains(';'));
            }
        }
    }

    /// Canonicalising a canonical path changes nothing (one decoding only:
    /// `%` stays a literal `%25` when re-encoded).
    #[test]
    fn canonicalisation_is_idempotent(p in path()) {
        if let Ok(segments) = canonicalize(&p) {
            let again: String = segments.iter().map(|s| format!("/{}", s.replace('%', "%25"))).collect();
            let again = if again.is_empty() { "/".to_owned() } else { again };
            let twice = canonicalize(&again).expect("a canonical path canonicalises");
            prop_assert_eq!(segments, twice);
        }
    }

    /// Whatever the spelling, a path whose canonical first segment is `rest`
    /// is protected, and one whose is not, is not.
    #[test]
    fn protection_follows_the_canonical_path(p in path()) {
        let table = RouteTable::new(&[], &[PathPrefix::parse("/rest/").unwrap()]);
        if let Ok(segments) = canonicalize(&p) {
            let protected = table.lookup(&Method::GET, &segments).protected;
            prop_assert_eq!(protected, segments.first().map(Cow::as_ref) == Some("rest"));
        }
    }

    /// Arbitrary Authorization and API key headers never panic the classifier.
    #[test]
    fn classification_never_panics(authz in prop::collection::vec(any::<u8>(), 0..80), key in prop::option::of("[ -~]{0,40}")) {
        let classifier = Classifier {
            api_key_prefix: "rgk_".into(),
            api_key_header: HeaderName::from_static("x-api-key"),
            session_cookies: vec!["JSESSIONID".into()],
        };
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&authz) {
            h.insert("authorization", v);
        }
        if let Some(k) = key.and_then(|k| HeaderValue::from_str(&k).ok()) {
            h.insert("x-api-key", k);
        }
        let _ = classifier.classify(&h);
    }

    /// A well-formed bearer token comes back exactly (or is recognised as an
    /// API key or an Atlassian-native token), never mangled.
    #[test]
    fn bearer_tokens_round_trip(t in "[A-Za-z0-9._~+/-]{1,60}={0,2}", spaces in 1usize..4) {
        let classifier = Classifier {
            api_key_prefix: "rgk_".into(),
            api_key_header: HeaderName::from_static("x-api-key"),
            session_cookies: vec![],
        };
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(&format!("Bearer{}{t}", " ".repeat(spaces))).unwrap());
        match classifier.classify(&h) {
            Ok(Credential::Bearer(token)) => prop_assert_eq!(token.expose(), t.as_str()),
            Ok(Credential::ApiKey { .. }) => prop_assert!(t.starts_with("rgk_")),
            Ok(Credential::Native(_)) => {}
            other => prop_assert!(false, "{other:?}"),
        }
    }
}
