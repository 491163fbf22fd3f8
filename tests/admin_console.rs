//! The admin console over HTTP (the browser tests drive the same pages):
//! every page carries the guarding headers; a pasted credential never comes
//! back in a page nor goes into a log; a state-changing request from another
//! site, or one addressed by a name other than loopback, is refused; with an
//! admin token the pages need it (a browser may give it as the Basic
//! password); decisions are listed and filtered without query strings; the
//! test-token page shows attribute paths and their TOML line; eviction from
//! the console makes the next request ask the provider again.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod spawned;
    pub mod upstream;
}

use std::net::SocketAddr;

use base64::Engine as _;
use bytes::Bytes;
use common::gateway::{TestResponse, bearer_to, send_to};
use common::idp::FakeIdp;
use common::setup::{config, setup, setup_server};
use common::spawned::Spawned;
use common::upstream::RecordingUpstream;

const PAGES: [&str; 5] = ["/", "/decisions", "/test-token", "/test-provider", "/evict"];

async fn get(admin: SocketAddr, path: &str) -> TestResponse {
    send_to(admin, "GET", path, &[], Bytes::new()).await
}

/// A form POST as the console's own page sends it.
async fn post_form(admin: SocketAddr, path: &str, form: &[(&str, &str)]) -> TestResponse {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let origin = format!("http://{admin}");
    send_to(
        admin,
        "POST",
        path,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", &origin),
            ("sec-fetch-site", "same-origin"),
        ],
        Bytes::from(body),
    )
    .await
}

fn text(r: &TestResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn header<'a>(r: &'a TestResponse, name: &str) -> &'a str {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn every_page_and_asset_carries_the_guarding_headers() {
    let (_idp, _up, gw) = setup("").await;
    let mut paths: Vec<&str> = PAGES.to_vec();
    paths.extend([
        "/assets/console.css",
        "/assets/console.js",
        "/status",
        "/metrics",
    ]);
    for path in paths {
        let r = get(gw.admin, path).await;
        assert_eq!(r.status, 200, "{path}");
        let csp = header(&r, "content-security-policy");
        assert!(
            csp.contains("default-src 'self'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
                && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "same-origin", "{path}");
        assert_eq!(header(&r, "cache-control"), "no-store", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
    }
    // The pages hold no inline script or style (the policy would block them).
    for path in PAGES {
        let page = text(&get(gw.admin, path).await);
        assert!(
            page.contains("<script src=\"/assets/console.js\""),
            "{path}"
        );
        assert!(
            !page.contains("<script>") && !page.contains("style=\""),
            "{path}"
        );
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{path}: no external resource"
        );
    }
}

#[tokio::test]
async fn test_token_shows_the_decision_the_attributes_and_never_the_token() {
    let (idp, _up, gw) = setup("").await;
    let good = "tok-console-GOOD-71c3a9e5b2";
    idp.add_user(good, "alice");
    let r = post_form(gw.admin, "/test-token", &[("credential", good)]).await;
    assert_eq!(r.status, 200);
    let page = text(&r);
    assert!(
        page.contains("<strong>ACCEPTED</strong>: acts as alice"),
        "{page}"
    );
    assert!(
        page.contains("id=\"identity\"><strong>alice</strong>"),
        "{page}"
    );
    assert!(page.contains("data-path=\"username\""), "{page}");
    assert!(
        page.contains("username_attribute = &quot;username&quot;"),
        "{page}"
    );
    assert!(page.contains("← username_attribute"), "{page}");
    assert!(!page.contains(good), "the token is never shown back");
    assert!(!page.contains("GOOD-71c3"), "not even in part");

    let bad = "tok-console-BAD-2f8d6b4e10";
    let page = text(&post_form(gw.admin, "/test-token", &[("credential", bad)]).await);
    assert!(page.contains("<strong>REFUSED</strong>"), "{page}");
    assert!(!page.contains(bad));
    // A Basic credential's password is not shown back either.
    let basic = "alice:s3cret-basic-password-99";
    let page = text(
        &post_form(
            gw.admin,
            "/test-token",
            &[("credential", basic), ("basic", "1")],
        )
        .await,
    );
    assert!(!page.contains("s3cret-basic-password-99"), "{page}");
    // Nothing to test: a clear message.
    let r = post_form(gw.admin, "/test-token", &[("credential", "  ")]).await;
    assert_eq!(r.status, 400);
    assert!(text(&r).contains("Paste a credential first"));
}

#[tokio::test]
async fn a_request_from_another_site_or_another_name_is_refused() {
    let (idp, _up, gw) = setup("").await;
    idp.add_user("tok-csrf-1234567", "alice");
    let form = Bytes::from_static(b"user=alice");
    for headers in [
        vec![("origin", "http://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", "null")],
    ] {
        for path in ["/evict", "/test-token", "/cache/evict"] {
            let r = send_to(gw.admin, "POST", path, &headers, form.clone()).await;
            assert_eq!(r.status, 403, "{path} {headers:?}");
            assert!(text(&r).contains("cross_origin"));
        }
    }
    // A page whose name was rebound to 127.0.0.1 cannot read the console.
    for path in ["/", "/decisions", "/status"] {
        for host in [
            "attacker.example:9901",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
        ] {
            let r = send_to(gw.admin, "GET", path, &[("host", host)], Bytes::new()).await;
            assert_eq!(r.status, 403, "{path} {host}");
        }
    }
    for host in ["localhost:9901", "127.0.0.1", "[::1]:9901"] {
        let r = send_to(gw.admin, "GET", "/", &[("host", host)], Bytes::new()).await;
        assert_eq!(r.status, 200, "{host}");
    }
    // The health probes answer whatever the name.
    let r = send_to(
        gw.admin,
        "GET",
        "/healthz",
        &[("host", "pod-ip:9901")],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 200);
    // The page's own POST is accepted.
    let r = post_form(gw.admin, "/evict", &[("user", "alice")]).await;
    assert_eq!(r.status, 200);
    assert!(text(&r).contains("Evicted user alice on this replica."));
}

#[tokio::test]
async fn with_an_admin_token_the_pages_need_it_and_a_browser_may_give_it_as_basic() {
    let dir = tempfile::tempdir().unwrap();
    let token = "console-admin-token-4c1d8e2f9a";
    let file = dir.path().join("admin.token");
    std::fs::write(&file, token).unwrap();
    let (_idp, _up, gw) = setup_server(&format!("admin_token_file = \"{}\"", file.display())).await;
    for path in PAGES {
        let r = get(gw.admin, path).await;
        assert_eq!(r.status, 401, "{path}");
        let challenges: Vec<&str> = r
            .headers
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(
            challenges.iter().any(|c| c.starts_with("Basic")),
            "{challenges:?}"
        );
        assert!(!text(&r).contains(token));
    }
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let good = basic("admin", token);
    let r = send_to(
        gw.admin,
        "GET",
        "/",
        &[("authorization", &good)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(text(&r).contains("<h1>Overview</h1>"));
    let wrong = basic("admin", "console-admin-token-4c1d8e2f9b");
    let r = send_to(
        gw.admin,
        "GET",
        "/",
        &[("authorization", &wrong)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 401);
    // A loopback listener answers loopback names only, even with the token:
    // a rebinding page must not get to prompt for it under its own name.
    let r = send_to(
        gw.admin,
        "GET",
        "/decisions",
        &[("authorization", &good), ("host", "attacker.example:9901")],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(
        r.headers.get("www-authenticate").is_none(),
        "no login prompt"
    );
    // The credential does not waive the same-origin check, and another
    // site's request gets no login prompt.
    for auth in [Some(&good), None] {
        let mut headers = vec![("origin", "http://evil.example")];
        if let Some(a) = auth {
            headers.push(("authorization", a.as_str()));
        }
        let r = send_to(
            gw.admin,
            "POST",
            "/evict",
            &headers,
            Bytes::from_static(b"user=alice"),
        )
        .await;
        assert_eq!(r.status, 403);
        assert!(r.headers.get("www-authenticate").is_none());
    }
}

#[tokio::test]
async fn decisions_are_listed_with_their_reason_and_found_by_user_without_query_strings() {
    let (idp, _up, gw) =
        setup("[[route]]\npath = \"/rest/admin/\"\nallow_users = [\"root\"]\n").await;
    idp.add_user("tok-dec-alice-1", "alice");
    idp.add_user("tok-dec-bob-22", "bob");
    let ok = bearer_to(
        gw.addr,
        "/rest/api/2/myself?jql=secret-query-value",
        "tok-dec-alice-1",
    )
    .await;
    assert_eq!(ok.status, 200);
    let refused = bearer_to(gw.addr, "/rest/admin/x", "tok-dec-alice-1").await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let other = bearer_to(gw.addr, "/rest/api/2/myself", "tok-dec-bob-22").await;
    assert_eq!(other.status, 200);
    let unknown = bearer_to(gw.addr, "/rest/api/2/myself", "tok-dec-nobody").await;
    assert_eq!(unknown.status, 401);

    let all = text(&get(gw.admin, "/decisions").await);
    assert!(all.contains("4 of the last 4 decisions"), "{all}");
    assert!(
        !all.contains("secret-query-value") && !all.contains("jql"),
        "no query string"
    );
    assert!(!all.contains("tok-dec"), "no token");
    assert!(all.contains("data-reason=\"inactive\""), "{all}");
    let alice = text(&get(gw.admin, "/decisions?user=alice").await);
    assert!(alice.contains("2 of the last 4 decisions"), "{alice}");
    assert!(alice.contains("data-status=\"403\""), "{alice}");
    assert!(!alice.contains(">bob<"), "{alice}");
    let refusals = text(&get(gw.admin, "/decisions?status=403").await);
    assert!(refusals.contains("1 of the last 4 decisions"), "{refusals}");
    let rid = refused
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        refusals.contains(rid),
        "the request id leads from a complaint to its row"
    );
}

#[tokio::test]
async fn the_overview_shows_each_provider_and_the_last_hour() {
    let (idp, _up, gw) = setup("").await;
    idp.add_user("tok-ov-1", "alice");
    assert_eq!(
        bearer_to(gw.addr, "/rest/api/2/myself", "tok-ov-1")
            .await
            .status,
        200
    );
    let page = text(&get(gw.admin, "/").await);
    assert!(
        page.contains("<tr data-provider=\"idp\" data-state=\"up\">"),
        "{page}"
    );
    assert!(page.contains("id=\"auth-state\""));
    assert!(page.contains("<strong class=\"ok\">on</strong>"));
    assert!(page.contains("<p>1 entry</p>"), "{page}");
    assert!(
        page.contains("<rect class=\"o-authenticated\""),
        "the chart has the request"
    );
    assert!(
        page.contains("<polyline class=\"line l0\""),
        "the provider's call time"
    );
}

#[tokio::test]
async fn evicting_from_the_console_makes_the_next_request_ask_the_provider() {
    let (idp, _up, gw) = setup("").await;
    idp.add_user("tok-ev-1", "alice");
    assert_eq!(bearer_to(gw.addr, "/rest/x", "tok-ev-1").await.status, 200);
    assert_eq!(bearer_to(gw.addr, "/rest/x", "tok-ev-1").await.status, 200);
    assert_eq!(idp.calls(), 1, "cached");
    let r = post_form(gw.admin, "/evict", &[("user", "alice")]).await;
    assert!(text(&r).contains("Evicted user alice"));
    assert_eq!(bearer_to(gw.addr, "/rest/x", "tok-ev-1").await.status, 200);
    assert_eq!(idp.calls(), 2, "asked again after the eviction");
    let r = post_form(gw.admin, "/evict", &[("token", "tok-ev-1")]).await;
    assert!(text(&r).contains("Evicted the token"));
    assert!(!text(&r).contains("tok-ev-1"));
    assert_eq!(bearer_to(gw.addr, "/rest/x", "tok-ev-1").await.status, 200);
    assert_eq!(idp.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_token_goes_into_no_log_line() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    let token = "tok-LOGGED-NEVER-9d3b7f1a";
    idp.add_user(token, "alice");
    let gw = Spawned::start(&config(&idp, &up, ""), "trace");
    let admin = gw.admin.expect("admin listener");
    let r = post_form(admin, "/test-token", &[("credential", token)]).await;
    assert!(text(&r).contains("ACCEPTED"));
    let r = post_form(admin, "/evict", &[("token", token)]).await;
    assert_eq!(r.status, 200);
    let (status, logs) = gw.stop();
    assert!(status.success());
    assert!(logs.contains("TRACE"), "trace logging was on");
    assert!(
        !logs.contains(token) && !logs.contains("LOGGED-NEVER"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_decision_keeps_a_long_path_short() {
    let (_idp, _up, gw) = setup("").await;
    let long = format!("/rest/{}", "a".repeat(60_000));
    let r = send_to(gw.addr, "GET", &long, &[], Bytes::new()).await;
    assert_eq!(r.status, 401);
    let page = text(&get(gw.admin, "/decisions").await);
    assert!(
        page.contains("1 of the last 1 decisions"),
        "{}",
        &page[..2000.min(page.len())]
    );
    assert!(
        page.len() < 10_000,
        "the page holds the cut path only: {} bytes",
        page.len()
    );
    assert!(page.contains(&format!("/rest/{}…", "a".repeat(506))));
}
