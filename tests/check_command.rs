//! `restgate check`: every error at once, with file, line and key; exit 1.

use std::path::Path;
use std::process::Command;

fn check(path: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_restgate"))
        .args(["check", "--config"])
        .arg(path)
        .env_remove("RESTGATE_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn broken_configs_print_every_error_with_line_and_key_and_exit_1() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    // (file, lines that must all appear in stderr)
    let table: &[(&str, &[&str])] = &[
        (
            "unknown_key.toml",
            &["unknown_key.toml:3: upstream.identity_headr: unknown key"],
        ),
        ("bad_toml.toml", &["bad_toml.toml:2: not valid TOML"]),
        ("missing_upstream.toml", &["upstream.url: missing"]),
        (
            "wrong_type.toml",
            &["wrong_type.toml:3: upstream.strip_authorization: invalid type"],
        ),
        (
            "many_errors.toml",
            &[
                "many_errors.toml:2: server.listen: \"not-an-address\" is not a socket address",
                "many_errors.toml:3: server.header_read_timeout: invalid duration",
                "many_errors.toml:6: upstream.url: give the origin only",
                "many_errors.toml:9: auth.providers[1]: no [providers.ghost] table",
                "many_errors.toml:10: auth.native: \"maybe\" is not one of \"pass\", \"reject\"",
                "many_errors.toml:15: providers.okta.introspection_endpoint: \"ftp://idp.example/introspect\" must be an http:// or https:// URL",
                "providers.okta.client_id: missing",
                "many_errors.toml:16: providers.okta.client_secret_env: environment variable RESTGATE_TEST_SURELY_UNSET_VAR is not set",
                "many_errors.toml:17: providers.okta.timeout: invalid duration \"3x\"",
                "many_errors.toml:20: cache.ttl: invalid duration \"forever\"",
                "many_errors.toml:23: route[0].path: \"/rest%2Fapi\" is not a canonical path prefix",
                "many_errors.toml:24: route[0].methods[0]: \"GRAB\" is not an HTTP method",
            ],
        ),
        (
            "provider_missing_endpoint.toml",
            &["provider_missing_endpoint.toml:4: providers.idp.userinfo_endpoint: missing"],
        ),
        (
            "unknown_provider_kind.toml",
            &["unknown_provider_kind.toml:5: providers.idp.kind:"],
        ),
        (
            "bad_api_key.toml",
            &[
                "bad_api_key.toml:7: api_keys[0].hash: expected \"sha256:\" and 64 hex digits (never the key itself)",
            ],
        ),
        (
            "unknown_section.toml",
            &["unknown_section.toml:4: providerz: unknown section"],
        ),
    ];
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = table.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every broken fixture has expectations");
    for (file, expected) in table {
        let (code, stdout, stderr) = check(&dir.join(file));
        assert_eq!(code, 1, "{file}: {stderr}");
        assert!(stdout.is_empty(), "{file}: nothing on stdout");
        for line in *expected {
            assert!(
                stderr.contains(line),
                "{file}: expected\n  {line}\nin\n{stderr}"
            );
        }
        assert!(
            stderr.contains(" error") && stderr.contains(file),
            "{file}: a count line: {stderr}"
        );
    }
}

#[test]
fn a_missing_file_is_an_error() {
    let (code, _, stderr) = check(Path::new("/nonexistent/restgate.toml"));
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read the config file"), "{stderr}");
}

#[test]
fn a_valid_config_prints_its_resolution_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "super-secret-client-value\n").unwrap();
    let cfg = dir.path().join("ok.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[upstream]
url = "http://127.0.0.1:8090"
[providers.idp]
kind = "custom"
validation = "introspection"
introspection_endpoint = "https://idp.example/introspect"
client_id = "gw"
client_secret_file = "{}"
service_account = "svc"
[[route]]
path = "/rest/api/2/issue"
methods = ["POST"]
require_scopes = ["write"]
"#,
            secret.display()
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = check(&cfg);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("provider idp: kind custom, introspection"),
        "{stdout}"
    );
    assert!(
        stdout.contains("client        gw (secret <redacted>)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("route /rest/api/2/issue [POST] protected, scopes write"),
        "{stdout}"
    );
    assert!(!stdout.contains("super-secret-client-value"));
}

/// The variables the example files name for their secrets.
const EXAMPLE_SECRETS: &[&str] = &[
    "OKTA_CLIENT_SECRET",
    "RESTGATE_UPSTREAM_SECRET",
    "KEYCLOAK_CLIENT_SECRET",
    "GITHUB_CLIENT_SECRET",
    "FACEBOOK_APP_SECRET",
    "OIDC_CLIENT_SECRET",
];

#[test]
fn every_provider_kind_has_an_example() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    // Every kind of the table that decides what a config may say, `custom`
    // (all explicit, nothing to show) aside.
    let kinds = restgate::config::Config::provider_kinds();
    let kinds = kinds.iter().map(|k| k.name).filter(|k| *k != "custom");
    assert_eq!(kinds.clone().count(), 11);
    for kind in kinds {
        let text = std::fs::read_to_string(dir.join(format!("{kind}.toml")))
            .unwrap_or_else(|_| panic!("config/{kind}.toml"));
        assert!(text.contains(&format!("kind = \"{kind}\"")), "{kind}");
        assert!(
            text.starts_with('#'),
            "{kind}.toml starts with what to register at the provider"
        );
    }
}

#[test]
fn the_example_configs_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = Command::new(env!("CARGO_BIN_EXE_restgate"))
                .args(["check", "--config"])
                .arg(&path)
                .envs(EXAMPLE_SECRETS.iter().map(|name| (name, "example-secret")))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            n += 1;
        }
    }
    assert!(
        n >= 12,
        "config/ holds the full example and one file per provider kind"
    );
}
