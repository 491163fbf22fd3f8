use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::config::{Mapping, Validation, parse_attr};

fn provider(username: &[&str]) -> Provider {
    Provider {
        name: Arc::from("idp"),
        kind: "custom".into(),
        validation: Validation::Userinfo {
            endpoint: "http://127.0.0.1/u".parse().unwrap(),
        },
        client_id: None,
        client_secret: None,
        scope: None,
        token_endpoint: None,
        mapping: Mapping {
            username: username.iter().map(|a| parse_attr(a).unwrap()).collect(),
            email: vec![parse_attr("email").unwrap()],
            lowercase: false,
            strip_domain: false,
            service_account: Some("svc".into()),
            client_accounts: BTreeMap::from([("ci".to_owned(), "svc-ci".to_owned())]),
            client_credentials: crate::config::CcRule::SubIsClient,
            client_id_claims: &["client_id", "azp", "cid", "appid"],
        },
        allowed_audiences: vec![],
        allowed_clients: vec![],
        token_prefixes: vec![],
        issuer: crate::config::Issuer::Unknown,
        timeout: Duration::from_secs(1),
        max_concurrent: 64,
        ca_file: None,
    }
}

fn user(v: &Verdict) -> &str {
    match v {
        Verdict::Active(p) => &p.user,
        Verdict::Refused(r) => r.as_str(),
    }
}

#[test]
fn attribute_paths_parse_to_json_pointers() {
    let table = [
        ("username", "/username"),
        ("user.login", "/user/login"),
        ("emails[0]", "/emails/0"),
        ("a.b[2][3]", "/a/b/2/3"),
        ("/signInNames.emailAddress", "/signInNames.emailAddress"),
        (
            "/https:~1~1slack.com~1user_id",
            "/https:~1~1slack.com~1user_id",
        ),
    ];
    for (written, pointer) in table {
        assert_eq!(parse_attr(written).unwrap().pointer, pointer, "{written}");
    }
    for bad in ["a..b", ".a", "emails[x]", "emails[0", "/a~2"] {
        assert!(parse_attr(bad).is_err(), "{bad}");
    }
}

#[test]
fn first_present_attribute_wins_and_awkward_keys_work() {
    let p = provider(&["/signInNames.emailAddress", "emails[0]", "user.login"]);
    let now = 1000;
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"signInNames.emailAddress": "a@x"}),
            now
        )),
        "a@x"
    );
    assert_eq!(
        user(&map_claims(&p, &json!({"emails": ["b@x", "c@x"]}), now)),
        "b@x"
    );
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"user": {"login": "carol"}, "emails": []}),
            now
        )),
        "carol"
    );
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"user": {"login": ""}, "sub": "x"}),
            now
        )),
        "no_username"
    );
}

#[test]
fn expiry_and_not_before_are_enforced() {
    let p = provider(&["username"]);
    assert_eq!(
        user(&map_claims(&p, &json!({"username": "a", "exp": 999}), 1000)),
        "expired"
    );
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"username": "a", "exp": "2000"}),
            1000
        )),
        "a"
    );
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"username": "a", "nbf": 1100}),
            1000
        )),
        "not_yet_valid"
    );
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"username": "a", "nbf": 1030}),
            1000
        )),
        "a"
    );
}

#[test]
fn client_credentials_detection_for_custom_providers() {
    let p = provider(&["username"]);
    let cc = |claims| match map_claims(&p, &claims, 0) {
        Verdict::Active(pr) => (pr.user.clone(), pr.client_credentials),
        Verdict::Refused(r) => (r.as_str().to_owned(), false),
    };
    assert_eq!(
        cc(json!({"sub": "ci", "client_id": "ci"})),
        ("svc-ci".into(), true)
    );
    assert_eq!(cc(json!({"client_id": "job"})), ("svc".into(), true));
    assert_eq!(
        cc(json!({"username": "alice", "client_id": "cli", "sub": "u1"})),
        ("alice".into(), false)
    );
    let mut none = provider(&["username"]);
    none.mapping.service_account = None;
    assert_eq!(
        user(&map_claims(&none, &json!({"client_id": "job"}), 0)),
        "no_service_account"
    );
}

#[test]
fn audience_and_client_allow_lists_bind_the_token() {
    let mut p = provider(&["username"]);
    p.allowed_audiences = vec!["api://gw".into()];
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"username": "a", "aud": ["x", "api://gw"]}),
            0
        )),
        "a"
    );
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"username": "a", "aud": "other"}),
            0
        )),
        "wrong_audience"
    );
    assert_eq!(
        user(&map_claims(&p, &json!({"username": "a"}), 0)),
        "wrong_audience"
    );
    p.allowed_audiences.clear();
    p.allowed_clients = vec!["cli".into()];
    assert_eq!(
        user(&map_claims(&p, &json!({"username": "a", "azp": "cli"}), 0)),
        "a"
    );
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"username": "a", "client_id": "evil"}),
            0
        )),
        "wrong_client"
    );
}

#[test]
fn scopes_come_from_scope_or_scp() {
    let p = provider(&["username"]);
    let scopes = |c| match map_claims(&p, &c, 0) {
        Verdict::Active(pr) => pr.scopes.clone(),
        Verdict::Refused(_) => vec![],
    };
    assert_eq!(
        scopes(json!({"username": "a", "scope": "read  write"})),
        ["read", "write"]
    );
    assert_eq!(
        scopes(json!({"username": "a", "scp": ["x", "y"]})),
        ["x", "y"]
    );
    assert_eq!(scopes(json!({"username": "a", "scp": "z"})), ["z"]);
}

#[test]
fn usernames_with_control_characters_are_refused() {
    let p = provider(&["username"]);
    assert_eq!(
        user(&map_claims(
            &p,
            &json!({"username": "a\nX-Forwarded-User: admin"}),
            0
        )),
        "no_username"
    );
    assert_eq!(
        user(&map_claims(&p, &json!({"username": " padded"}), 0)),
        "no_username"
    );
    assert!(is_valid_username("jürgen.müller"));
}
