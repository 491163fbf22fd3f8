//! `[directory] kind = "atlassian"`: users looked up in the product's own user
//! API with an admin's personal access token; found and not-found cached; the
//! API down is 503.

mod common {
    pub mod atlassian;
    pub mod client;
    pub mod gateway;
    pub mod idp;
}

use common::atlassian::{OAuthOutcome, Product, ProductMock, admin_pat, oauth1_gateway};
use common::gateway::*;
use common::idp::*;

/// restgate in oauth1 mode in front of a mock, with the product as directory.
async fn gateway(
    product: Product,
    ctx: &str,
    by: &str,
) -> (FakeIdp, ProductMock, TestGateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("admin.pat"), admin_pat()).unwrap();
    let name = match product {
        Product::Jira => "jira",
        Product::Confluence => "confluence",
        Product::Bitbucket => "bitbucket",
    };
    let extra = format!(
        "email_attribute = \"email\"\n[cache]\nnegative_ttl = \"1h\"\n[directory]\nkind = \"atlassian\"\nproduct = \"{name}\"\n\
         match = \"{by}\"\ncontext_path = \"{ctx}\"\ntoken_file = \"{}\"\n",
        dir.path().join("admin.pat").display()
    );
    let (idp, mock, gw) = oauth1_gateway(product, ctx, &extra).await;
    // Tokens whose email is not the username's: directory by email must map them.
    idp.add_token(
        "tok-mail-bob",
        serde_json::json!({"username": "robert.b", "email": "BOB@corp.example", "sub": "s-bob"}),
    );
    (idp, mock, gw, dir)
}

fn whoami(product: Product, ctx: &str) -> String {
    match product {
        Product::Jira => format!("{ctx}/rest/api/2/myself"),
        Product::Confluence => format!("{ctx}/rest/api/user/current"),
        Product::Bitbucket => format!("{ctx}/plugins/servlet/applinks/whoami"),
    }
}

#[tokio::test]
async fn lookups_by_username_in_each_products_shape_are_cached_both_ways() {
    for (product, ctx) in [
        (Product::Jira, "/jira"),
        (Product::Confluence, ""),
        (Product::Bitbucket, "/bitbucket"),
    ] {
        let (_idp, mock, gw, _dir) = gateway(product, ctx, "username").await;
        let path = whoami(product, ctx);
        assert_eq!(
            gw.bearer(&path, "tok-alice").await.status,
            200,
            "{product:?}"
        );
        assert_eq!(gw.bearer(&path, "tok-alice").await.status, 200);
        assert_eq!(mock.user_api_calls(), 1, "{product:?}: found is cached");
        // An unknown user is refused before the product is asked to run anything.
        let before = mock.oauth_outcomes().len();
        for _ in 0..2 {
            let res = gw.bearer(&path, "tok-zed").await;
            assert_eq!(
                (res.status, res.error().as_str()),
                (403, "unknown_user"),
                "{product:?}"
            );
        }
        assert_eq!(mock.user_api_calls(), 2, "{product:?}: not found is cached");
        assert_eq!(
            mock.oauth_outcomes().len(),
            before,
            "no signed request for an unknown user"
        );
    }
}

#[tokio::test]
async fn lookups_by_email_map_to_the_products_username() {
    for (product, ctx) in [(Product::Jira, ""), (Product::Bitbucket, "")] {
        let (_idp, mock, gw, _dir) = gateway(product, ctx, "email").await;
        let res = gw.bearer(&whoami(product, ctx), "tok-mail-bob").await;
        assert_eq!(res.status, 200, "{product:?}: {:?}", res.body);
        assert_eq!(
            mock.oauth_outcomes(),
            vec![OAuthOutcome::User("bob".into())],
            "{product:?}"
        );
    }
}

#[tokio::test]
async fn the_user_api_down_is_503_not_a_pass() {
    let (_idp, mock, gw, _dir) = gateway(Product::Jira, "", "username").await;
    mock.set_user_api_down(true);
    let res = gw.bearer("/rest/api/2/myself", "tok-alice").await;
    assert_eq!(res.status, 503);
    assert_eq!(res.header("retry-after"), Some("5"));
    assert!(mock.oauth_outcomes().is_empty(), "nothing was forwarded");
    // Failures are not cached: once the API is back, the lookup succeeds.
    mock.set_user_api_down(false);
    assert_eq!(
        gw.bearer("/rest/api/2/myself", "tok-alice").await.status,
        200
    );
}

#[test]
fn confluence_cannot_look_up_by_email() {
    let text = "[upstream]\nurl = \"http://127.0.0.1:1\"\n[directory]\nkind = \"atlassian\"\nproduct = \"confluence\"\nmatch = \"email\"\ntoken_env = \"PATH\"\n";
    let err = restgate::config::parse(text, std::path::Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("directory.match") && err.contains("cannot find a user by email"),
        "{err}"
    );
}
