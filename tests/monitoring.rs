//! The Grafana dashboard and the Prometheus alert rules in `docker/monitoring/`
//! read only series the binary really exports, with labels those series
//! really carry: the test runs two `restgate serve` processes sharing a real
//! Redis, makes every series family appear, scrapes `/metrics`, and checks
//! every query against what came back. Every family is also on the
//! dashboard, so a new series cannot go unseen.

mod common {
    pub mod client;
    pub mod exposition;
    pub mod gateway;
    pub mod idp;
    pub mod promql;
    pub mod redis;
    pub mod replicas;
    pub mod rule_file;
    pub mod setup;
    pub mod spawned;
    pub mod upstream;
}

use std::collections::BTreeSet;
use std::time::Duration;

use common::exposition::Exposition;
use common::gateway::{bearer_to, send_to};
use common::idp::{FakeIdp, Mode};
use common::promql::{Needs, label_values, legend_needs, needs, problems};
use common::redis::RedisServer;
use common::replicas::*;
use common::rule_file::{Rule, rules};
use common::upstream::RecordingUpstream;
use serde_json::{Value, json};

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/docker/monitoring/grafana-dashboard.json"
);
const ALERTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/docker/monitoring/prometheus-alerts.yaml"
);
const ALERT_TESTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/docker/monitoring/prometheus-alerts.test.yaml"
);
const PATH: &str = "/rest/api/2/myself";

// === The files ===

/// One query of the dashboard or the rules, and where it comes from.
struct Query {
    origin: String,
    needs: Result<Needs, String>,
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(DASHBOARD).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"))
}

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

/// Every panel target and every `label_values` variable of the dashboard.
fn dashboard_queries(d: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_default();
            let mut needs = needs(expr);
            if let (Ok(n), Some(legend)) = (&mut needs, t["legendFormat"].as_str()) {
                legend_needs(n, legend);
            }
            out.push(Query {
                origin: format!("panel {:?}: {expr}", p["title"]),
                needs,
            });
        }
    }
    for v in d["templating"]["list"].as_array().expect("templating") {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap_or_default();
        out.push(Query {
            origin: format!("variable {}: {q}", v["name"]),
            needs: label_values(q),
        });
    }
    out
}

fn alert_rules() -> Vec<Rule> {
    let text = std::fs::read_to_string(ALERTS).unwrap();
    assert!(
        text.lines().any(|l| l == "groups:"),
        "{ALERTS} is a rule file"
    );
    let (rules, exprs) = rules(&text);
    assert_eq!(
        exprs,
        rules.len(),
        "every expr: in {ALERTS} belongs to an alert the reader sees"
    );
    rules
}

fn alert_queries() -> Vec<Query> {
    alert_rules()
        .into_iter()
        .map(|r| Query {
            origin: format!("alert {}: {}", r.name, r.expr),
            needs: needs(&r.expr),
        })
        .collect()
}

/// `promtool`, when installed (Debian's `prometheus` package): the rules are
/// validated by Prometheus' own parser too. Optional, so CI needs no
/// Prometheus.
fn promtool() -> Option<std::process::Command> {
    let ok = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("promtool not installed: Prometheus' own parser is skipped");
    }
    ok.then(|| std::process::Command::new("promtool"))
}

/// Runs `promtool ARGS` in `docker/monitoring/` when it is installed.
fn promtool_run(args: &[&std::ffi::OsStr]) {
    if let Some(mut cmd) = promtool() {
        let out = cmd
            .args(args)
            .current_dir(std::path::Path::new(ALERTS).parent().unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn promtool_check(path: &std::path::Path) {
    promtool_run(&["check".as_ref(), "rules".as_ref(), path.as_os_str()]);
}

// === The running binary ===

/// Two replicas sharing a Redis, with a cache, limits and a provider budget,
/// driven until every family of series has samples; both scrapes merged.
async fn exported() -> Exposition {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "cluster.key");
    let (idp, up) = (FakeIdp::start().await, RecordingUpstream::start().await);
    let extra = "\n[cache]\nttl = \"5m\"\n\n[limits]\nnew_tokens_per_client = \"30/min\"\n\
                 new_tokens_burst = 15\n[limits.providers.idp]\ncalls = \"1000/min\"\n";
    let cluster = format!("{}{extra}", cluster_toml(&[redis.url()], &key, ""));
    let (a, b) = (
        replica(&idp, &up, &cluster).await,
        replica(&idp, &up, &cluster).await,
    );

    // A good token: a miss on a, a hit on a, a shared hit on b.
    idp.add_user("tok-mon-alice", "alice");
    for r in [&a, &a, &b] {
        assert_eq!(bearer_to(r.addr, PATH, "tok-mon-alice").await.status, 200);
    }
    // A bad token, no token, and a page that passes through.
    assert_eq!(bearer_to(a.addr, PATH, "tok-mon-nobody").await.status, 401);
    for (path, status) in [(PATH, 401), ("/secure/Dashboard.jspa", 200)] {
        let res = send_to(a.addr, "GET", path, &[], bytes::Bytes::new()).await;
        assert_eq!(res.status, status, "{path}");
    }
    // One new token on both replicas while the provider is slow: one replica
    // asks, the other waits for its answer.
    idp.set_mode(Mode::Delay(Duration::from_millis(300)));
    let mut waited_once = false;
    for attempt in 0..5 {
        let token = format!("tok-mon-wait-{attempt}");
        idp.add_user(&token, "bob");
        let tasks: Vec<_> = [&a, &b, &a, &b]
            .iter()
            .map(|r| {
                let (addr, token) = (r.addr, token.clone());
                tokio::spawn(async move { bearer_to(addr, PATH, &token).await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().status, 200);
        }
        let waited = |m: &str| m.contains("restgate_cluster_waits_total{");
        if waited(&metrics(&a).await) || waited(&metrics(&b).await) {
            waited_once = true;
            break;
        }
    }
    assert!(
        waited_once,
        "no replica waited for the other's provider call in 5 tries: the cluster_waits series cannot be checked"
    );
    // A provider failure.
    idp.set_mode(Mode::Status(500));
    assert_eq!(bearer_to(a.addr, PATH, "tok-mon-down").await.status, 503);
    idp.set_mode(Mode::Normal);
    // An eviction through the cluster.
    assert_eq!(evict(&a, json!({"user": "alice"})).await.0, 200);
    // New tokens from one client until its budget is spent.
    let mut limited = false;
    for n in 0..60 {
        if bearer_to(a.addr, PATH, &format!("tok-mon-spray-{n}"))
            .await
            .status
            == 429
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "the client budget never ran out");

    let (ma, mb) = (metrics(&a).await, metrics(&b).await);
    assert!(
        sample(&ma, r#"restgate_limited_total{reason="client"}"#) >= 1.0,
        "{ma}"
    );
    let mut e = Exposition::parse(&ma).unwrap();
    e.merge(Exposition::parse(&mb).unwrap());
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_query_reads_series_the_binary_exports() {
    let e = exported().await;
    let unsampled: Vec<_> = e
        .families
        .iter()
        .filter(|(_, names)| !names.iter().any(|n| e.labels.contains_key(n)))
        .map(|(f, _)| f)
        .collect();
    assert!(
        unsampled.is_empty(),
        "families without a sample (the test must make them appear): {unsampled:?}"
    );

    let d = dashboard();
    let mut queries = dashboard_queries(&d);
    let on_dashboard: BTreeSet<String> = queries
        .iter()
        .filter_map(|q| q.needs.as_ref().ok())
        .flat_map(|n| n.names.iter().cloned())
        .collect();
    queries.extend(alert_queries());
    let mut wrong = Vec::new();
    for q in &queries {
        match &q.needs {
            Ok(n) => wrong.extend(
                problems(n, &e)
                    .into_iter()
                    .map(|p| format!("{}\n  {p}", q.origin)),
            ),
            Err(err) => wrong.push(format!("{}\n  {err}", q.origin)),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    let unseen: Vec<_> = e
        .families
        .iter()
        .filter(|(_, names)| names.is_disjoint(&on_dashboard))
        .map(|(f, _)| f)
        .collect();
    assert!(
        unseen.is_empty(),
        "families on no dashboard panel: {unseen:?}"
    );
    assert!(e.families.len() >= 17, "{:?}", e.families.keys());
}

// === The files' own shape ===

#[test]
fn every_alert_has_a_wait_a_severity_and_words_for_the_operator() {
    let rules = alert_rules();
    assert!(rules.len() >= 10, "{} rules", rules.len());
    let mut names = BTreeSet::new();
    for r in &rules {
        assert!(names.insert(&r.name), "{} twice", r.name);
        let wait = r.for_.as_deref().unwrap_or_default();
        assert!(
            humantime::parse_duration(wait).is_ok_and(|d| d >= Duration::from_secs(60)),
            "{}: for: {wait:?}",
            r.name
        );
        assert!(
            matches!(r.severity.as_deref(), Some("critical" | "warning")),
            "{}: severity {:?}",
            r.name,
            r.severity
        );
        assert!(
            r.summary && r.description,
            "{}: summary and description",
            r.name
        );
        assert!(!r.expr.is_empty(), "{}: expr", r.name);
    }
    for needed in [
        "RestgateDown",
        "RestgateClusterDown",
        "RestgateProviderUnreachable",
    ] {
        assert!(names.contains(&needed.to_owned()), "{needed}");
    }
    promtool_check(std::path::Path::new(ALERTS));
    // The trickier rules' own unit tests: guards, traffic floors, labels.
    promtool_run(&["test".as_ref(), "rules".as_ref(), ALERT_TESTS.as_ref()]);
}

#[test]
fn the_dashboard_stands_alone_on_a_chosen_prometheus() {
    let d = dashboard();
    assert!(
        d["schemaVersion"].as_u64().unwrap() >= 36,
        "Grafana 10 schema"
    );
    let vars = d["templating"]["list"].as_array().unwrap();
    assert!(vars.iter().any(|v| v["name"] == "DS_PROMETHEUS"
        && v["type"] == "datasource"
        && v["query"] == "prometheus"));
    let var_names: BTreeSet<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
    // Every data source in the document is the chosen one (or Grafana's own
    // annotations): no uid of somebody's installation.
    let mut sources = Vec::new();
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Object(m) => {
                if let Some(ds) = m.get("datasource") {
                    out.push(ds);
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&d, &mut sources);
    for ds in &sources {
        assert!(
            ds["uid"] == "${DS_PROMETHEUS}" || ds["uid"] == "-- Grafana --",
            "data source {ds}"
        );
    }
    let mut ids = BTreeSet::new();
    for p in panels(&d) {
        let title = &p["title"];
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "panel id of {title} twice"
        );
        let kind = p["type"].as_str().unwrap();
        assert!(
            [
                "row",
                "timeseries",
                "stat",
                "gauge",
                "bargauge",
                "table",
                "text"
            ]
            .contains(&kind),
            "{title}: {kind} is not a core panel"
        );
        let g = &p["gridPos"];
        assert!(
            g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
            "{title}: gridPos"
        );
        if kind == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        let refs: BTreeSet<_> = targets
            .iter()
            .map(|t| t["refId"].as_str().unwrap())
            .collect();
        assert_eq!(refs.len(), targets.len(), "{title}: refIds");
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            for var in expr.split('$').skip(1) {
                let name: String = var
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    name.starts_with("__") || var_names.contains(name.as_str()),
                    "{title}: ${name}"
                );
            }
        }
    }
    // Prometheus' parser on every panel query, the variables replaced.
    if promtool().is_some() {
        let dir = tempfile::tempdir().unwrap();
        let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
        for (i, p) in panels(&d).iter().enumerate() {
            for (j, t) in p["targets"].as_array().into_iter().flatten().enumerate() {
                let mut expr = t["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$__rate_interval", "5m");
                for v in &var_names {
                    expr = expr.replace(&format!("${v}"), ".*");
                }
                yaml.push_str(&format!(
                    "      - record: dashboard:panel{i}_{j}\n        expr: |\n"
                ));
                for line in expr.lines() {
                    yaml.push_str(&format!("          {line}\n"));
                }
            }
        }
        let path = dir.path().join("dashboard-queries.yaml");
        std::fs::write(&path, yaml).unwrap();
        promtool_check(&path);
    }
}
