//! No spelling of a protected path is matched as an unprotected one.

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

/// Gateway where `/rest/` is protected and everything else passes anonymously.
async fn gateway() -> (FakeIdp, RecordingUpstream, TestGateway) {
    setup("").await
}

#[tokio::test]
async fn bypass_attempts_are_refused_or_matched_canonically() {
    let (_idp, up, gw) = gateway().await;
    // Each either gets 400, or is matched as /rest/… and so needs a credential.
    let table = [
        "/rest;x/api/2/myself",
        "/rest;jsessionid=abc/api/2/myself",
        "//rest/api/2/myself",
        "/./rest/api/2/myself",
        "/%72est/api/2/myself",
        "/%72%65%73%74/api/2/myself",
        "/x/../rest/api/2/myself",
        "/rest/%2e%2e/rest/api/2/myself",
        "/rest/..;/rest/api/2/myself",
        "/static/%2e%2e/rest/api/2/myself",
        "/rest%2Fapi/2/myself",
        "/rest%2fapi/2/myself",
        "/static/..%2Frest/api/2/myself",
        "/rest%5Capi/2/myself",
        "/rest%3Bx/api",
        "/rest%00/api/2/myself",
        "/rest/api%zz",
        "/rest/api%2",
        "/static/%ff/../rest/api",
        "/../rest/api/2/myself",
    ];
    for path in table {
        let res = gw.get(path, &[]).await;
        assert!(
            res.status == 400 || (res.status == 401 && res.error() == "unauthorized"),
            "{path} gave {} {:?}",
            res.status,
            res.body
        );
        if res.status == 400 {
            assert_eq!(res.error(), "invalid_request", "{path}");
        }
    }
    assert_eq!(up.count(), 0, "none of them reached the upstream");
}

#[tokio::test]
async fn raw_backslash_and_control_characters_are_refused() {
    let (_idp, up, gw) = gateway().await;
    for req in [
        &b"GET /static\\..\\rest/api/2/myself HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        &b"GET /rest\\api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
    ] {
        let res = raw(gw.addr, req).await;
        let status = raw_status(&res);
        assert!(status == 400 || status == 401, "{res}");
    }
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn canonical_variants_of_unprotected_paths_pass_as_sent() {
    let (_idp, up, gw) = gateway().await;
    let res = gw
        .get("/secure/./Dashboard.jspa;jsessionid=1?a=b", &[])
        .await;
    assert_eq!(res.status, 200);
    // The forwarded path stays exactly as the client sent it.
    assert_eq!(up.last().uri, "/secure/./Dashboard.jspa;jsessionid=1?a=b");
    // Prefixes match whole segments: /restx is not /rest.
    assert_eq!(gw.get("/restx/api", &[]).await.status, 200);
}
