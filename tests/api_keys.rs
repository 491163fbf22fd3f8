//! API keys: `restgate key generate` output parses back into config, and each
//! way of presenting a key gets the right outcome.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod upstream;
}

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::setup::*;

/// Runs `restgate key generate` and returns (key, [[api_keys]] block).
fn generate(user: &str, expires: Option<&str>) -> (String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_restgate"));
    cmd.args([
        "key",
        "generate",
        "--user",
        user,
        "--name",
        &format!("{user}-key"),
    ]);
    if let Some(e) = expires {
        cmd.args(["--expires", e]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let key = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("rgk_"))
        .expect("the key is printed")
        .to_owned();
    let block = text[text.find("[[api_keys]]").expect("the block is printed")..].to_owned();
    assert!(!block.contains(&key), "the block holds only the digest");
    (key, block)
}

#[tokio::test]
async fn generated_keys_authenticate_in_every_accepted_form() {
    let (key, block) = generate("ci-bot", Some("2099-12-31"));
    // A key whose last day has passed since it was made (key generate
    // refuses a date already past, so the config's line is aged here).
    let (old_key, old_block) = generate("old-bot", Some("2099-01-01"));
    let old_block = old_block.replace("2099-01-01", "2020-01-01");
    assert!(
        key.len() >= 4 + 40,
        "prefix and at least 128 bits of base62"
    );
    let (idp, up, gw) = setup(&format!("\n{block}\n{old_block}")).await;
    let bearer = format!("Bearer {key}");
    let basic = |user: &str, k: &str| format!("Basic {}", STANDARD.encode(format!("{user}:{k}")));
    let cases: Vec<(Vec<(&str, String)>, u16)> = vec![
        (vec![("authorization", bearer.clone())], 200),
        (vec![("authorization", basic("ci-bot", &key))], 200),
        (vec![("x-api-key", key.clone())], 200),
        (vec![("authorization", basic("alice", &key))], 401),
        (vec![("authorization", format!("Bearer {old_key}"))], 401),
        (
            vec![(
                "authorization",
                "Bearer rgk_NeverIssuedNeverIssuedNeverIssued12345678".into(),
            )],
            401,
        ),
        (vec![("authorization", "Bearer rgk_".into())], 401),
        (vec![("x-api-key", "rgk_garbage!".into())], 401),
    ];
    for (headers, want) in cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = gw.get("/rest/api/2/myself", &h).await;
        assert_eq!(
            res.status,
            want,
            "{:?}",
            headers.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        if want == 200 {
            let seen = up.last();
            assert_eq!(seen.header("x-forwarded-user").as_deref(), Some("ci-bot"));
            assert!(seen.header("authorization").is_none() && seen.header("x-api-key").is_none());
        } else {
            assert_eq!(res.error(), "invalid_token");
        }
    }
    assert_eq!(idp.calls(), 0, "keys never reach a provider");
}

#[test]
fn key_generate_refuses_bad_input_and_reads_the_configured_prefix() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_restgate"))
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(
        run(&["key", "generate", "--user", "x", "--expires", "soon"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        run(&["key", "generate", "--user", "bad\tuser"])
            .status
            .code(),
        Some(1)
    );
    // No --user is bad input too (1, not clap's usage code), with a hint.
    let none = run(&["key", "generate"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("--user is required"));
    // A last day already past would make a key that never works.
    let past = run(&["key", "generate", "--user", "x", "--expires", "2020-01-01"]);
    assert_eq!(past.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&past.stderr).contains("in the past"));
    assert!(past.stdout.is_empty(), "no key is printed");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("r.toml");
    std::fs::write(
        &cfg,
        // The provider's secret variable is not set: only the prefix is read.
        "[upstream]\nurl = \"http://127.0.0.1:1\"\n[auth]\napi_key_prefix = \"acme_\"\n\
         [providers.idp]\nkind = \"custom\"\nvalidation = \"introspection\"\n\
         introspection_endpoint = \"https://idp.example/i\"\nclient_id = \"gw\"\n\
         client_secret_env = \"RESTGATE_TEST_SURELY_UNSET_SECRET\"\n",
    )
    .unwrap();
    let out = run(&[
        "key",
        "generate",
        "--user",
        "ci",
        "--json",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = v["key"].as_str().unwrap();
    assert!(key.starts_with("acme_") && key.len() == 5 + 40, "{key}");
    assert!(v["hash"].as_str().unwrap().starts_with("sha256:"));
    // Two keys are never the same.
    let again: serde_json::Value =
        serde_json::from_slice(&run(&["key", "generate", "--user", "ci", "--json"]).stdout)
            .unwrap();
    assert_ne!(again["key"], v["key"]);
}
