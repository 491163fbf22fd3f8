//! `restgate check`: every error at once, with file, line and key; exit 1.

mod common {
    pub mod check;
}

use std::path::Path;

use common::check::{Env, run};

fn check(path: &Path) -> (i32, String, String) {
    run(path, &[], Env::Inherit(&[])).parts()
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
    let secrets: Vec<(&str, &str)> = EXAMPLE_SECRETS
        .iter()
        .map(|name| (*name, "example-secret"))
        .collect();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = run(&path, &[], Env::Inherit(&secrets));
            assert!(out.code == 0, "{}: {}", path.display(), out.stderr);
            n += 1;
        }
    }
    assert!(
        n >= 12,
        "config/ holds the full example and one file per provider kind"
    );
}

/// `check` with an empty environment (only PATH), as on a fresh machine.
fn check_clean(path: &Path, extra: &[&str]) -> (i32, String, String) {
    run(path, extra, Env::Clean).parts()
}

#[test]
fn every_shipped_config_passes_check_skip_secrets_on_a_fresh_machine() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.push(root.join("docker/restgate.toml"));
    let mut needed_secrets = 0;
    for path in &files {
        let (code, stdout, stderr) = check_clean(path, &["--skip-secrets"]);
        assert_eq!(code, 0, "{}: {stderr}", path.display());
        assert!(stdout.contains(": OK"), "{}: {stdout}", path.display());
        assert!(stdout.contains("not read (--skip-secrets)"), "{stdout}");
        // Without the flag, the examples that name secrets say which.
        let (code, _, stderr) = check_clean(path, &[]);
        if code != 0 {
            needed_secrets += 1;
            assert!(
                stderr.contains("is not set") || stderr.contains("does not exist"),
                "{}: only secrets are missing: {stderr}",
                path.display()
            );
        }
    }
    assert!(files.len() >= 13, "{files:?}");
    assert!(needed_secrets >= 1, "some examples do name secrets");
}

#[test]
fn skip_secrets_still_reports_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("r.toml");
    std::fs::write(
        &cfg,
        "[upstream]\nurl = \"http://127.0.0.1:8090\"\n\
         shared_secret_header = \"X-Secret\"\n\
         shared_secret_env = \"RESTGATE_TEST_SURELY_UNSET\"\n\
         [cache]\nttl = \"soon\"\n",
    )
    .unwrap();
    let (code, _, stderr) = check_clean(&cfg, &["--skip-secrets"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("r.toml:6: cache.ttl: invalid duration"),
        "{stderr}"
    );
    assert!(!stderr.contains("RESTGATE_TEST_SURELY_UNSET"), "{stderr}");
    let (code, _, stderr) = check_clean(&cfg, &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("r.toml:4: upstream.shared_secret_env: environment variable RESTGATE_TEST_SURELY_UNSET is not set"), "{stderr}");
    assert!(
        !stderr.contains("needs `shared_secret_env`"),
        "no error caused by another: {stderr}"
    );
}

/// Runs `check` on `text` and returns its stderr lines (exit 1 required).
fn errors_of(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, text).unwrap();
    let (code, stdout, stderr) = check_clean(&cfg, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!stderr.contains("\n\n"), "no blank lines: {stderr:?}");
    stderr
        .lines()
        .map(|l| {
            l.split_once("c.toml")
                .map(|(_, rest)| format!("c.toml{rest}"))
                .unwrap_or(l.to_owned())
        })
        .collect()
}

fn has(errors: &[String], needle: &str) {
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "expected {needle:?} in\n{}",
        errors.join("\n")
    );
}

#[test]
fn a_secret_file_error_names_the_file_key_and_its_line_only() {
    let errors = errors_of(
        "[upstream]\nurl = \"http://127.0.0.1:8090\"\n\
         shared_secret_header = \"X-Secret\"\n\
         shared_secret_file = \"/nonexistent/restgate-secret\"\n\
         [providers.idp]\nkind = \"custom\"\nvalidation = \"introspection\"\n\
         introspection_endpoint = \"https://idp.example/i\"\nclient_id = \"gw\"\n\
         client_secret_file = \"/nonexistent/idp-secret\"\n",
    );
    has(
        &errors,
        "c.toml:4: upstream.shared_secret_file: cannot read secret file /nonexistent/restgate-secret",
    );
    has(
        &errors,
        "c.toml:10: providers.idp.client_secret_file: cannot read secret file /nonexistent/idp-secret",
    );
    assert!(!errors.iter().any(|e| e.contains("_env")), "{errors:?}");
    assert!(
        !errors
            .iter()
            .any(|e| e.contains("needs") || e.contains("missing")),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 3, "two errors and the count: {errors:?}");
}

#[test]
fn a_typo_in_a_provider_table_hides_none_of_its_other_errors() {
    let errors = errors_of(
        "[upstream]\nurl = \"http://127.0.0.1:8090\"\n\
         [providers.idp]\nkind = \"custom\"\nvalidation = \"introspection\"\n\
         introspection_endpoint = \"ftp://idp.example/i\"\nclient_id = \"gw\"\n\
         client_secret_fil = \"/tmp/x\"\ntimeout = \"3x\"\n",
    );
    has(
        &errors,
        "c.toml:8: providers.idp.client_secret_fil: not a key of kind = \"custom\"; did you mean `client_secret_file`?",
    );
    has(&errors, "c.toml:6: providers.idp.introspection_endpoint:");
    has(
        &errors,
        "c.toml:9: providers.idp.timeout: invalid duration \"3x\"",
    );
    // The key it was mistaken for is not reported missing as well.
    assert!(
        !errors.iter().any(|e| e.contains("client_secret_env")),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
}

#[test]
fn unknown_keys_and_sections_name_the_closest_match_of_their_own_table() {
    let errors = errors_of(
        "[server]\nlisen = \"127.0.0.1:8080\"\nidle_timeout = 60\nmax_connections = \"many\"\n\
         [upstream]\nurl = \"http://127.0.0.1:8090\"\nidentity_headr = \"X-User\"\n\
         [cahce]\nttl = \"5m\"\n[cache]\nzzzzzz = 1\n",
    );
    has(
        &errors,
        "c.toml:2: server.lisen: unknown key; did you mean `listen`?",
    );
    has(
        &errors,
        "c.toml:3: server.idle_timeout: 60 is a bare number; a duration needs quotes and a unit, e.g. \"60s\"",
    );
    has(
        &errors,
        "c.toml:4: server.max_connections: invalid type: string \"many\"",
    );
    has(
        &errors,
        "c.toml:7: upstream.identity_headr: unknown key; did you mean `identity_header`?",
    );
    has(
        &errors,
        "c.toml:8: cahce: unknown section; did you mean [cache]?",
    );
    has(
        &errors,
        "c.toml:11: cache.zzzzzz: unknown key; this table takes `max_entries`, `ttl`",
    );
    // Every error of every table at once: 6 and the count line.
    assert_eq!(errors.len(), 7, "{errors:?}");
}

#[test]
fn durations_have_a_sane_range_per_key() {
    let errors = errors_of(
        "[upstream]\nurl = \"http://127.0.0.1:8090\"\nconnect_timeout = \"1ms\"\n\
         [cache]\nttl = \"100y\"\nnegative_ttl = \"30\"\n",
    );
    has(
        &errors,
        "c.toml:3: upstream.connect_timeout: \"1ms\" is out of range: give between 10ms and 5m",
    );
    has(
        &errors,
        "c.toml:5: cache.ttl: \"100y\" is out of range: give between 0s and 24h",
    );
    has(
        &errors,
        "c.toml:6: cache.negative_ttl: invalid duration \"30\"",
    );
    has(&errors, "a duration needs a unit: write e.g. \"30s\"");
}
