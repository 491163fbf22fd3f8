use std::path::Path;

use super::*;

fn errors(text: &str) -> Vec<String> {
    match parse(text, Path::new("t.toml")) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

const MINIMAL: &str = "[upstream]\nurl = \"http://127.0.0.1:8090\"\n";

#[test]
fn minimal_config_gets_the_documented_defaults() {
    let c = parse(MINIMAL, Path::new("t.toml")).unwrap();
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(c.server.header_read_timeout.as_secs(), 10);
    assert_eq!(c.server.max_header_bytes, 65536);
    assert_eq!(c.upstream.identity_header, "x-forwarded-user");
    assert!(c.upstream.strip_authorization);
    assert!(c.auth.enabled);
    assert_eq!(c.auth.protected_paths[0].to_string(), "/rest");
    assert_eq!(c.auth.api_key_prefix, "rgk_");
    assert_eq!(c.cache.ttl.as_secs(), 300);
    assert_eq!(c.cache.negative_ttl.as_secs(), 30);
    assert!(c.cache.stale_if_error.is_zero());
    assert_eq!(c.cache.max_entries, 100_000);
}

#[test]
fn debug_output_never_contains_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s");
    std::fs::write(&f, "top-secret-value-123").unwrap();
    let text = format!(
        "{MINIMAL}shared_secret_header = \"X-Restgate-Secret\"\nshared_secret_file = \"{0}\"\n\
         [providers.p]\nkind = \"custom\"\nvalidation = \"introspection\"\n\
         introspection_endpoint = \"http://i\"\nclient_id = \"c\"\nclient_secret_file = \"{0}\"\n",
        f.display()
    );
    let c = parse(&text, Path::new("t.toml")).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("top-secret-value-123"));
    assert!(debug.contains("<redacted>"));
    assert_eq!(
        c.providers["p"].client_secret.as_ref().unwrap().expose(),
        "top-secret-value-123"
    );
}

#[test]
fn relative_secret_files_resolve_against_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("upstream.secret"), "v\n").unwrap();
    let text = format!(
        "{MINIMAL}shared_secret_header = \"X-S\"\nshared_secret_file = \"upstream.secret\"\n"
    );
    let c = parse(&text, &dir.path().join("restgate.toml")).unwrap();
    assert_eq!(c.upstream.shared_secret.unwrap().1.expose(), "v");
}

#[test]
fn identity_header_may_not_be_a_managed_header() {
    for h in [
        "Authorization",
        "Host",
        "Cookie",
        "Connection",
        "X-Forwarded-For",
    ] {
        let e = errors(&format!("{MINIMAL}identity_header = \"{h}\"\n"));
        assert!(
            e.iter().any(|e| e.contains("upstream.identity_header")),
            "{h}: {e:?}"
        );
    }
}

#[test]
fn ca_file_belongs_to_an_https_upstream() {
    let e = errors(&format!("{MINIMAL}ca_file = \"/etc/ssl/x.pem\"\n"));
    assert!(
        e.iter()
            .any(|e| e.contains("upstream.ca_file") && e.contains("https")),
        "{e:?}"
    );
    let e = errors("[upstream]\nurl = \"https://jira\"\nca_file = \"/nonexistent.pem\"\n");
    assert!(
        e.iter().any(|e| e.contains("cannot read /nonexistent.pem")),
        "{e:?}"
    );
    assert!(
        errors("[upstream]\nurl = \"ftp://jira\"\n")
            .iter()
            .any(|e| e.contains("http:// or https://"))
    );
}

#[test]
fn static_directory_reads_a_users_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users.csv"),
        "# email,username\nAlice@Corp.Example,alice\n\nbob@corp.example,bob\n",
    )
    .unwrap();
    let text = format!(
        "{MINIMAL}[directory]\nkind = \"static\"\nmatch = \"email\"\nusers_file = \"users.csv\"\n"
    );
    let c = parse(&text, &dir.path().join("r.toml")).unwrap();
    let Directory::Static { users, .. } = c.directory else {
        panic!()
    };
    assert_eq!(
        users.get("alice@corp.example").map(String::as_str),
        Some("alice")
    );
    assert_eq!(users.len(), 2);
    std::fs::write(dir.path().join("users.csv"), "no-comma-here\n").unwrap();
    let e = errors(&text.replace(
        "users.csv",
        &dir.path().join("users.csv").display().to_string(),
    ));
    assert!(
        e.iter().any(|e| e.contains("expected `key,username`")),
        "{e:?}"
    );
}

#[test]
fn api_key_expiry_is_the_end_of_the_day() {
    let text = format!(
        "{MINIMAL}[[api_keys]]\nuser = \"u\"\nhash = \"sha256:{}\"\nexpires = \"2027-06-30\"\n",
        "ab".repeat(32)
    );
    let c = parse(&text, Path::new("t.toml")).unwrap();
    // 2027-06-30T23:59:59Z
    assert_eq!(c.api_keys[0].expires, Some(1_814_399_999));
    assert_eq!(c.api_keys[0].hash, [0xab; 32]);
}

#[test]
fn headers_restgate_sets_must_be_distinct() {
    let e = errors(&format!("{MINIMAL}identity_header = \"X-API-Key\"\n"));
    assert!(
        e.iter()
            .any(|e| e.contains("auth.api_key_header")
                && e.contains("also upstream.identity_header")),
        "{e:?}"
    );
    let e = errors(&format!("{MINIMAL}email_header = \"X_Forwarded_User\"\n"));
    assert!(
        e.iter().any(|e| e.contains("upstream.email_header")),
        "{e:?}"
    );
}

#[test]
fn oauth1_needs_its_table_and_a_usable_key() {
    let e = errors(&format!("{MINIMAL}identity = \"oauth1\"\n"));
    assert!(
        e.iter().any(|e| e.contains("upstream.oauth1: missing")),
        "{e:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.pem"), "not a key").unwrap();
    let text = format!(
        "{MINIMAL}identity = \"oauth1\"\n[upstream.oauth1]\nconsumer_key = \"restgate\"\n\
         private_key_file = \"k.pem\"\nsigned_base_url = \"https://jira.example.com/jira\"\n"
    );
    let e = match parse(&text, &dir.path().join("r.toml")) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    };
    assert!(
        e.iter()
            .any(|e| e.contains("upstream.oauth1.private_key_file")
                && e.contains("no RSA private key")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.contains("upstream.oauth1.signed_base_url") && e.contains("request path")),
        "{e:?}"
    );
    assert!(
        e.iter().all(|e| !e.contains("not a key")),
        "the file's content is never quoted"
    );
}

#[test]
fn a_zero_concurrency_cap_is_an_error_and_no_provider() {
    let text = format!(
        "{MINIMAL}[providers.p]\nkind = \"custom\"\nvalidation = \"userinfo\"\nuserinfo_endpoint = \"http://u\"\nmax_concurrent = 0\n"
    );
    let e = errors(&text);
    assert!(
        e.iter()
            .any(|e| e.contains("providers.p.max_concurrent: must be at least 1")),
        "{e:?}"
    );
}

#[test]
fn a_provider_ca_file_must_be_readable_pem() {
    let text = format!(
        "{MINIMAL}[providers.p]\nkind = \"custom\"\nvalidation = \"userinfo\"\nuserinfo_endpoint = \"https://u\"\nca_file = \"/nonexistent.pem\"\n"
    );
    let e = errors(&text);
    assert!(
        e.iter()
            .any(|e| e.contains("providers.p.ca_file: cannot read /nonexistent.pem")),
        "{e:?}"
    );
}
