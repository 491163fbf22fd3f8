//! `restgate check` on a `[cluster]` section: a valid one is printed with
//! its password and key redacted; each mistake is refused (exit 1) with its
//! key, its line and the fix, and never with a secret in the message.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

/// The Redis password the valid configs read from the environment.
const PASSWORD_ENV: &str = "RESTGATE_TEST_CLUSTER_REDIS_PASSWORD";
const PASSWORD: &str = "redis-pw-7d1f0c2e9a";
/// A variable no test sets (and every run removes).
const UNSET_ENV: &str = "RESTGATE_TEST_CLUSTER_SURELY_UNSET";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `restgate check --config F`, with the Redis password in the environment.
fn check(config: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_restgate"))
        .args(["check", "--config"])
        .arg(config)
        .env_remove("RESTGATE_CONFIG")
        .env_remove(UNSET_ENV)
        .env(PASSWORD_ENV, PASSWORD)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes a key file as `restgate cluster keygen` does (base64 and a
/// newline) with `mode`; returns its path and text.
fn key_file(dir: &Path, bytes: &[u8], mode: u32) -> (PathBuf, String) {
    let path = dir.join("cluster.key");
    let text = format!(
        "{}\n",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    std::fs::write(&path, &text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    (path, text)
}

/// 32 bytes, as keygen writes.
fn good_key(dir: &Path) -> (PathBuf, String) {
    let bytes: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    key_file(dir, &bytes, 0o600)
}

/// A minimal valid config whose `[cluster]` is `lines`: the first of them
/// is line 5 of the file.
fn config(dir: &Path, lines: &[String]) -> PathBuf {
    let path = dir.join("rg.toml");
    let text = format!(
        "[upstream]\nurl = \"http://127.0.0.1:8090\"\n\n[cluster]\n{}\n",
        lines.join("\n")
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A `[cluster]` with the valid key, `url_line` for redis_url, then `more`.
fn with_key(dir: &Path, url_line: &str, more: &[&str]) -> PathBuf {
    let (key, _) = good_key(dir);
    let mut lines = vec![
        url_line.to_owned(),
        format!("key_file = {:?}", key.display().to_string()),
    ];
    lines.extend(more.iter().map(|l| l.to_string()));
    config(dir, &lines)
}

/// Exit 1 with exactly one error, which starts `rg.toml:LINE: KEY: ` and
/// holds every one of `words`.
fn refused(run: &Run, line: usize, key: &str, words: &[&str]) {
    assert_eq!(run.code, 1, "exit 1\n{}{}", run.stdout, run.stderr);
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);
    // (Blank lines aside: serde's unknown-key text ends with a newline.)
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        lines.len() == 2 && lines[1].starts_with("1 error in "),
        "one error and the count:\n{}",
        run.stderr
    );
    let prefix = format!("rg.toml:{line}: {key}: ");
    let error = lines[0];
    assert!(error.contains(&prefix), "expected {prefix:?} in\n{error}");
    for word in words {
        assert!(error.contains(word), "expected {word:?} in\n{error}");
    }
    assert!(!run.stderr.contains(PASSWORD), "{}", run.stderr);
}

#[test]
fn a_valid_cluster_is_printed_with_its_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let (key, key_text) = good_key(dir.path());
    let cfg = config(
        dir.path(),
        &[
            "redis_url = \"rediss://redis.internal:6380/2\"".into(),
            "redis_username = \"restgate\"".into(),
            format!("redis_password_env = {PASSWORD_ENV:?}"),
            format!("key_file = {:?}", key.display().to_string()),
            "timeout = \"250ms\"".into(),
            "prefix = \"rg-prod:\"".into(),
        ],
    );
    let run = check(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    for line in [
        "cluster         rediss://redis.internal:6380/2 (standalone, database 2, TLS)".to_owned(),
        "  user          restgate".to_owned(),
        "  password      <redacted>".to_owned(),
        format!("  key file      {} (32 bytes)", key.display()),
        "  timeout       250ms".to_owned(),
        "  prefix        rg-prod:".to_owned(),
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} in\n{out}");
    }
    let both = format!("{}{}", run.stdout, run.stderr);
    assert!(!both.contains(key_text.trim()), "the key is never printed");
    assert!(!both.contains(PASSWORD), "the password is never printed");
}

#[test]
fn without_a_cluster_the_replica_learns_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rg.toml");
    std::fs::write(&cfg, "[upstream]\nurl = \"http://127.0.0.1:8090\"\n").unwrap();
    let run = check(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .lines()
            .any(|l| l == "cluster         none (this replica learns alone)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_list_of_urls_is_a_redis_cluster_and_shown_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_key(
        dir.path(),
        r#"redis_url = ["redis://n1.internal:7000", "redis://n2.internal:7001", "redis://n3.internal:7002"]"#,
        &[],
    );
    let run = check(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = "cluster         redis://n1.internal:7000, redis://n2.internal:7001, \
                redis://n3.internal:7002 (Redis Cluster, 3 seeds)";
    assert!(run.stdout.lines().any(|l| l == line), "{}", run.stdout);
    assert!(
        run.stdout.lines().any(|l| l == "  timeout       100ms"),
        "the default timeout: {}",
        run.stdout
    );
    assert!(
        run.stdout.lines().any(|l| l == "  prefix        restgate:"),
        "the default prefix: {}",
        run.stdout
    );
    assert!(
        run.stdout.lines().any(|l| l == "  password      none"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_sentinel_url_is_shown_with_its_master() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_key(
        dir.path(),
        r#"redis_url = "redis-sentinel://s1.internal:26379/0?sentinelServiceName=mymaster&node=s2.internal:26379""#,
        &[],
    );
    let run = check(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("(Sentinel, master mymaster, 2 sentinels, database 0)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_missing_key_file_is_the_only_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.key");
    let cfg = config(
        dir.path(),
        &[
            "redis_url = \"redis://redis.internal:6379/0\"".into(),
            format!("key_file = {:?}", missing.display().to_string()),
        ],
    );
    refused(
        &check(&cfg),
        6,
        "cluster.key_file",
        &[
            &format!("{} does not exist", missing.display()),
            "restgate cluster keygen --out",
        ],
    );
}

#[test]
fn no_key_file_key_is_reported_missing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &["redis_url = \"redis://redis.internal:6379/0\"".into()],
    );
    // A missing key is located at its table.
    refused(
        &check(&cfg),
        4,
        "cluster.key_file",
        &["missing", "restgate cluster keygen --out FILE"],
    );
}

#[test]
fn a_key_file_every_user_can_read_is_refused_with_a_chmod_hint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_key(
        dir.path(),
        "redis_url = \"redis://redis.internal:6379/0\"",
        &[],
    );
    let key = dir.path().join("cluster.key");
    let key_text = std::fs::read_to_string(&key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = check(&cfg);
    refused(
        &run,
        6,
        "cluster.key_file",
        &[
            "open to every user",
            "0644",
            &format!("chmod 600 {}", key.display()),
        ],
    );
    assert!(!run.stderr.contains(key_text.trim()));
}

#[test]
fn a_key_file_for_a_group_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_key(
        dir.path(),
        "redis_url = \"redis://redis.internal:6379/0\"",
        &[],
    );
    let key = dir.path().join("cluster.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = check(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_short_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, key_text) = key_file(dir.path(), &[7u8; 16], 0o600);
    let cfg = config(
        dir.path(),
        &[
            "redis_url = \"redis://redis.internal:6379/0\"".into(),
            format!("key_file = {:?}", key.display().to_string()),
        ],
    );
    let run = check(&cfg);
    refused(
        &run,
        6,
        "cluster.key_file",
        &["16 bytes", "at least 32", "restgate cluster keygen --out"],
    );
    assert!(!run.stderr.contains(key_text.trim()));
}

#[test]
fn a_key_file_that_is_not_base64_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cluster.key");
    let content = "this is not base64 but a secret-ish sentence!!\n";
    std::fs::write(&key, content).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = config(
        dir.path(),
        &[
            "redis_url = \"redis://redis.internal:6379/0\"".into(),
            format!("key_file = {:?}", key.display().to_string()),
        ],
    );
    let run = check(&cfg);
    refused(
        &run,
        6,
        "cluster.key_file",
        &["is not a cluster key", "base64", "restgate cluster keygen"],
    );
    assert!(!run.stderr.contains("secret-ish"), "{}", run.stderr);
}

#[test]
fn an_http_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_key(
        dir.path(),
        "redis_url = \"http://redis.internal:6379\"",
        &[],
    );
    refused(
        &check(&cfg),
        5,
        "cluster.redis_url",
        &["http:// is not a Redis URL", "redis://", "rediss://"],
    );
}

#[test]
fn a_password_in_the_url_is_refused_and_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_key(
        dir.path(),
        &format!("redis_url = \"redis://restgate:{PASSWORD}@redis.internal:6379/0\""),
        &[],
    );
    let run = check(&cfg);
    refused(
        &run,
        5,
        "cluster.redis_url",
        &["holds a password", "<redacted>", "redis_password_env"],
    );
}

#[test]
fn the_list_index_names_the_faulty_seed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_key(
        dir.path(),
        "redis_url = [\n  \"redis://n1.internal:7000\",\n  \"redis://n2.internal:7001/3\",\n]",
        &[],
    );
    // The list opens on line 5; its second URL is on line 7.
    refused(
        &check(&cfg),
        7,
        "cluster.redis_url[1]",
        &["Redis Cluster has only database 0"],
    );
}

#[test]
fn a_timeout_of_zero_or_an_hour_is_refused() {
    for timeout in ["0s", "1h"] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = with_key(
            dir.path(),
            "redis_url = \"redis://redis.internal:6379/0\"",
            &[&format!("timeout = {timeout:?}")],
        );
        refused(
            &check(&cfg),
            7,
            "cluster.timeout",
            &[&format!("{timeout:?} is out of range"), "1ms to 10s"],
        );
    }
}

#[test]
fn a_misspelt_key_is_refused_naming_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_key(
        dir.path(),
        "redis_url = \"redis://redis.internal:6379/0\"",
        &["redis_ulr = \"redis://other:6379\""],
    );
    refused(
        &check(&cfg),
        7,
        "cluster.redis_ulr",
        &["unknown key", "`redis_url`"],
    );
}

#[test]
fn a_password_variable_that_is_not_set_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_key(
        dir.path(),
        "redis_url = \"redis://redis.internal:6379/0\"",
        &[&format!("redis_password_env = {UNSET_ENV:?}")],
    );
    refused(
        &check(&cfg),
        7,
        "cluster.redis_password_env",
        &[&format!("environment variable {UNSET_ENV} is not set")],
    );
}
