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
fn the_fast_http1_path_is_on_unless_switched_off() {
    let off = parse(
        &format!("[server]\nfast_http1 = false\n{MINIMAL}"),
        Path::new("t.toml"),
    )
    .unwrap();
    assert!(!off.server.fast_http1);
    // CI runs the HTTP-level suites again with RESTGATE_FAST_HTTP1=0.
    if std::env::var_os("RESTGATE_FAST_HTTP1").is_none() {
        assert!(
            parse(MINIMAL, Path::new("t.toml"))
                .unwrap()
                .server
                .fast_http1
        );
    }
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

// === provider kinds: one table decides the keys ===

fn provider(body: &str) -> Vec<String> {
    errors(&format!("{MINIMAL}[providers.p]\n{body}\n"))
}

/// The errors at `providers.p.KEY`.
fn at<'a>(errors: &'a [String], key: &str) -> Vec<&'a str> {
    let prefix = format!("providers.p.{key}: ");
    errors
        .iter()
        .filter(|e| e.contains(&prefix))
        .map(String::as_str)
        .collect()
}

/// The names a message lists in backticks.
fn ticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

#[test]
fn a_misspelt_key_names_the_closest_key_of_its_kind_once() {
    let e = provider(
        "kind = \"custom\"\nvalidation = \"userinfo\"\nuserinfo_endpoint = \"http://u\"\nservice_acount = \"svc\"",
    );
    let here = at(&e, "service_acount");
    assert_eq!(here.len(), 1, "one error, none from serde: {e:?}");
    assert!(here[0].contains("not a key of kind = \"custom\""), "{e:?}");
    assert!(here[0].contains("did you mean `service_account`?"), "{e:?}");
    assert_eq!(e.len(), 1, "{e:?}");
}

#[test]
fn a_misspelt_required_key_is_not_also_reported_missing() {
    let e = provider("kind = \"azure-ad\"\ntenat = \"common\"\naudience = \"api\"");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains(
            "providers.p.tenat: not a key of kind = \"azure-ad\"; did you mean `tenant`?"
        ),
        "{e:?}"
    );
}

#[test]
fn an_unknown_key_lists_only_the_keys_its_kind_takes() {
    let kinds = Config::provider_kinds();
    for kind in &kinds {
        let e = provider(&format!("kind = {:?}\nbogus_setting = 1", kind.name));
        let here = at(&e, "bogus_setting");
        assert_eq!(here.len(), 1, "{}: {e:?}", kind.name);
        let mut listed = ticked(here[0]);
        listed.sort_unstable();
        let mut takes = kind.keys.clone();
        takes.sort_unstable();
        assert_eq!(listed, takes, "{}: {}", kind.name, here[0]);
    }
    let e = provider("kind = \"okta\"\nissuer = \"https://o\"\nbogus_setting = 1");
    for other in ["tenant", "team_id", "api_url", "policy", "discovery_url"] {
        assert!(!e[0].contains(&format!("`{other}`")), "{e:?}");
    }
}

#[test]
fn a_key_of_another_kind_says_which_kinds_take_it() {
    let e = provider("kind = \"okta\"\nissuer = \"https://x.okta.com\"\ntenant = \"t\"");
    let here = at(&e, "tenant");
    assert_eq!(here.len(), 1, "{e:?}");
    assert!(here[0].contains("not used by kind = \"okta\""), "{e:?}");
    assert!(here[0].contains("\"azure-ad\", \"azure-b2c\""), "{e:?}");
    let e = provider(
        "kind = \"custom\"\nvalidation = \"userinfo\"\nuserinfo_endpoint = \"http://u\"\napi_url = \"http://a\"",
    );
    assert!(
        at(&e, "api_url")[0].contains("give the endpoints explicitly"),
        "{e:?}"
    );
}

#[test]
fn custom_takes_jwt_keys_only_with_jwt_validation() {
    let e = provider(
        "kind = \"custom\"\nvalidation = \"userinfo\"\nuserinfo_endpoint = \"http://u\"\naudience = \"a\"",
    );
    assert_eq!(
        at(&e, "audience"),
        ["t.toml:7: providers.p.audience: only used with validation = \"jwt\""]
    );
    let ok = "kind = \"custom\"\nvalidation = \"jwt\"\nissuer = \"https://i\"\n\
              jwks_uri = \"https://i/keys\"\naudience = \"a\"\nclock_skew = \"5s\"";
    assert_eq!(provider(ok), Vec::<String>::new());
}

#[test]
fn a_misspelt_kind_lists_all_twelve_kinds() {
    let kinds = Config::provider_kinds();
    assert_eq!(kinds.len(), 12);
    for body in [
        "kind = \"okta-ish\"",
        "kind = \"azuread\"",
        "client_id = \"c\"",
    ] {
        let e = provider(body);
        let here = at(&e, "kind");
        assert_eq!(here.len(), 1, "{body}: {e:?}");
        for kind in &kinds {
            assert!(here[0].contains(&format!("{:?}", kind.name)), "{here:?}");
        }
    }
    assert!(at(&provider("kind = \"okta-ish\""), "kind")[0].contains("\"okta-ish\" is not one of"));
    assert!(at(&provider("kind = \"azuread\""), "kind")[0].contains("did you mean \"azure-ad\"?"));
    let e = provider("kind = \"nope\"\nclient_idd = \"c\"\nissuer = \"https://i\"");
    assert!(
        at(&e, "client_idd")[0].contains("not a key of any kind; did you mean `client_id`?"),
        "{e:?}"
    );
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn a_required_secret_names_both_keys() {
    let e = provider("kind = \"github\"\nclient_id = \"c\"");
    assert_eq!(
        at(&e, "client_secret_env"),
        [
            "t.toml:3: providers.p.client_secret_env: missing: the OAuth app's client secret (`client_secret_env` or `client_secret_file`)"
        ]
    );
}

#[test]
fn the_kind_table_covers_every_raw_provider_key() {
    // serde lists every field of `RawProvider` when it meets an unknown one.
    let probe: toml::Value = toml::from_str("zzz = 1").unwrap();
    let err = probe
        .try_into::<raw::RawProvider>()
        .unwrap_err()
        .to_string();
    let mut fields = ticked(err.split_once("expected").unwrap().1);
    fields.sort_unstable();
    let kinds = Config::provider_kinds();
    let mut taken: Vec<&str> = kinds.iter().flat_map(|k| k.keys.clone()).collect();
    taken.sort_unstable();
    taken.dedup();
    assert_eq!(
        taken, fields,
        "a key no kind takes, or a kind key serde lacks"
    );
    for kind in &kinds {
        assert!(
            kind.keys.contains(&"issuer"),
            "{} routes by issuer",
            kind.name
        );
        for need in &kind.required {
            assert!(need.iter().all(|k| kind.keys.contains(k)), "{}", kind.name);
        }
    }
    let mut names: Vec<&str> = kinds.iter().map(|k| k.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 12);
    let presets = kinds.iter().filter(|k| k.preset).count();
    assert_eq!(presets, 10, "all but oidc and custom");
}

// === [cluster] URLs (the key file and the output: tests/cluster_config.rs) ===

/// The errors of `[cluster]` with `body`, the key file's aside (none is given).
fn cluster_errors(body: &str) -> Vec<String> {
    errors(&format!("{MINIMAL}[cluster]\n{body}\n"))
        .into_iter()
        .filter(|e| !e.contains("cluster.key_file:"))
        .collect()
}

#[test]
fn a_password_in_a_redis_url_never_reaches_a_message() {
    for url in [
        "redis://u:hunter2@h:6379/0",
        "http://u:hunter2@h",
        "redis://:hunter2@h:notaport",
        "redis-sentinel://:hunter2@h",
    ] {
        let e = cluster_errors(&format!("redis_url = {url:?}"));
        assert!(
            e.iter().any(|e| e.contains("holds a password")),
            "{url}: {e:?}"
        );
        assert!(e.iter().all(|e| !e.contains("hunter2")), "{url}: {e:?}");
        assert!(e.iter().any(|e| e.contains("<redacted>")), "{url}: {e:?}");
    }
    let e = cluster_errors(
        "redis_url = \"redis-sentinel://h?sentinelServiceName=m&sentinelPassword=hunter2\"",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("`sentinelPassword` puts a password in the URL"));
}

#[test]
fn a_list_that_is_not_one_redis_cluster_is_reported_once() {
    let e = cluster_errors(
        "redis_url = [\"redis-sentinel://a?sentinelServiceName=m\", \"redis-sentinel://b\"]",
    );
    assert_eq!(
        e.len(),
        1,
        "once, and no service name asked of a seed: {e:?}"
    );
    assert!(
        e[0].contains("t.toml:4: cluster.redis_url: a list of URLs means Redis Cluster seeds"),
        "{e:?}"
    );
    let e = cluster_errors("redis_url = [\"redis://a:7000\", \"rediss://b:7001\", \"redis://c\"]");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("mix TLS and plain schemes"), "{e:?}");
    assert!(cluster_errors("redis_url = [\"rediss://a:7000\", \"rediss://b:7001\"]").is_empty());
    let e = cluster_errors("redis_url = []");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("cluster.redis_url: empty"), "{e:?}");
}

#[test]
fn a_redis_url_is_refused_for_what_the_client_would_refuse_or_misread() {
    let cases = [
        ("redis-sentinel://s:26379/0", "?sentinelServiceName=NAME"),
        ("redis://h:6379/db1", "the path is the database number"),
        ("redis://h:6379/256", "the path is the database number"),
        (
            "redis-cluster://h:7000/2",
            "Redis Cluster has only database 0",
        ),
        ("redis:///0", "names no host"),
        ("not a url", "is not a URL"),
        ("ftp://h", "ftp:// is not a Redis URL"),
    ];
    for (url, says) in cases {
        let e = cluster_errors(&format!("redis_url = {url:?}"));
        assert_eq!(e.len(), 1, "{url}: {e:?}");
        assert!(
            e[0].contains("t.toml:4: cluster.redis_url: ") && e[0].contains(says),
            "{url}: {e:?}"
        );
    }
    for url in [
        "redis://h",
        "redis://h:6379/255",
        "valkeys://h:6380/0",
        "redis-cluster://h:7000?node=h2:7000",
        "rediss-sentinel://s/0?sentinelServiceName=m&node=s2:26379",
    ] {
        let e = cluster_errors(&format!("redis_url = {url:?}"));
        assert!(e.is_empty(), "{url}: {e:?}");
    }
}

#[test]
fn the_redis_user_is_given_in_one_place() {
    let e = cluster_errors("redis_url = \"redis://app@h\"\nredis_username = \"restgate\"");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("t.toml:5: cluster.redis_username: redis_url names a user too (\"app\")"),
        "{e:?}"
    );
    assert!(cluster_errors("redis_url = \"redis://app@h\"").is_empty());
    let e = cluster_errors("redis_url = \"redis://h\"\nredis_username = \"\"");
    assert!(e[0].contains("cluster.redis_username: empty"), "{e:?}");
}

#[test]
fn a_cluster_timeout_that_does_not_parse_is_reported_once() {
    let e = cluster_errors("redis_url = \"redis://h\"\ntimeout = \"soon\"");
    assert_eq!(e.len(), 1, "no range error after the parse error: {e:?}");
    assert!(e[0].contains("cluster.timeout: invalid duration"), "{e:?}");
    let e = cluster_errors("redis_url = \"redis://h\"\ntimeout = \"500us\"");
    assert!(e[0].contains("\"500us\" is out of range"), "{e:?}");
}
