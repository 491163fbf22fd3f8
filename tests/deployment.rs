//! The configs shipped in docker/ pass `restgate check` (the images themselves
//! are not built here: no container engine).

mod common {
    pub mod check;
}

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn check(config: &Path, envs: &[(&str, &str)]) -> (bool, String) {
    let out = common::check::run(config, &[], common::check::Env::Inherit(envs));
    (out.code == 0, out.all())
}

/// A cluster key made as the examples say: `restgate cluster keygen`.
fn keygen(path: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_restgate"))
        .args(["cluster", "keygen", "--out"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn the_compose_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    keygen(&dir.path().join("cluster.key"));
    let toml = std::fs::read_to_string(root().join("docker/restgate.toml"))
        .unwrap()
        .replace(
            "/run/secrets/restgate-cluster-key",
            &dir.path().join("cluster.key").display().to_string(),
        );
    let path = dir.path().join("restgate.toml");
    std::fs::write(&path, toml).unwrap();
    let (ok, out) = check(
        &path,
        &[
            ("RESTGATE_UPSTREAM_SECRET", "x"),
            ("KEYCLOAK_CLIENT_SECRET", "y"),
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("provider keycloak: kind keycloak"), "{out}");
    assert!(
        out.contains("redis://redis:6379/0"),
        "the replicas share a Redis: {out}"
    );
}

#[test]
fn the_kubernetes_configmap_is_valid() {
    let manifest =
        std::fs::read_to_string(root().join("docker/kubernetes/restgate-sidecar.yaml")).unwrap();
    // The ConfigMap's restgate.toml: the block indented under `restgate.toml: |`.
    let toml: String = manifest
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("restgate.toml: |"))
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    assert!(toml.contains("[upstream.oauth1]"), "{toml}");
    // The Secret's files, made here.
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["jira.example.com".to_owned()]).unwrap();
    std::fs::write(dir.path().join("tls.crt"), ck.cert.pem()).unwrap();
    std::fs::write(dir.path().join("tls.key"), ck.signing_key.serialize_pem()).unwrap();
    std::fs::copy(
        root().join("tests/fixtures/keys/rsa1.pem"),
        dir.path().join("oauth1.pem"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jira-admin-pat"),
        "MDAwMDAwMDAwMDAxOgcmLTtETFtiaW9/ho2Um6KpsLe+",
    )
    .unwrap();
    // The admin listener binds 0.0.0.0 for the kubelet's probes, so it needs a token.
    std::fs::write(
        dir.path().join("admin-token"),
        "0123456789abcdef0123456789abcdef",
    )
    .unwrap();
    keygen(&dir.path().join("cluster.key"));
    let toml = toml.replace("/etc/restgate/secrets", &dir.path().display().to_string());
    let path = dir.path().join("restgate.toml");
    std::fs::write(&path, toml).unwrap();
    let (ok, out) = check(&path, &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("hand-off        oauth1") && out.contains("directory       Jira user API"),
        "{out}"
    );
}
