//! The Grafana dashboard and the Prometheus alert rules in `docker/monitoring/`
//! read only series the binary really exports, with labels those series
//! really carry: the test runs two `restgate serve` processes sharing a real
//! Redis, makes every series family appear, scrapes `/metrics`, and checks
//! every query against what came back. Every family is also on the
//! dashboard, so a new series cannot go unseen.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod redis;
    pub mod replicas;
    pub mod setup;
    pub mod spawned;
    pub mod upstream;
}

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::gateway::{bearer_to, send_to};
use common::idp::{FakeIdp, Mode};
use common::redis::RedisServer;
use common::replicas::*;
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

/// Labels Prometheus attaches to every scraped series itself.
const TARGET_LABELS: [&str; 3] = ["job", "instance", "__name__"];

// === The exposition ===

/// What one or more scrapes of `/metrics` declared and showed.
#[derive(Debug, Default)]
struct Exposition {
    /// Family (the `# TYPE` name) → the series names it exports.
    families: BTreeMap<String, BTreeSet<String>>,
    /// Series name → the label names seen on its samples (absent: no sample).
    labels: BTreeMap<String, BTreeSet<String>>,
}

impl Exposition {
    /// Parses the text format; `Err` on a sample of no declared family.
    fn parse(text: &str) -> Result<Exposition, String> {
        let mut e = Exposition::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split_whitespace();
                let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                    return Err(format!("bad TYPE line: {line}"));
                };
                e.families
                    .entry(name.to_owned())
                    .or_default()
                    .extend(series_of(name, kind));
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let end = line.find(['{', ' ']).unwrap_or(line.len());
                let name = &line[..end];
                let labels = e.labels.entry(name.to_owned()).or_default();
                if line[end..].starts_with('{') {
                    labels.extend(label_names(&line[end..])?);
                }
            }
        }
        let declared: BTreeSet<&String> = e.families.values().flatten().collect();
        for name in e.labels.keys() {
            if !declared.contains(name) {
                return Err(format!("sample {name} belongs to no # TYPE family"));
            }
        }
        Ok(e)
    }

    fn merge(&mut self, other: Exposition) {
        for (f, names) in other.families {
            self.families.entry(f).or_default().extend(names);
        }
        for (n, labels) in other.labels {
            self.labels.entry(n).or_default().extend(labels);
        }
    }

    fn exports(&self, name: &str) -> bool {
        self.families.values().any(|s| s.contains(name))
    }
}

/// The series names a family of this type is scraped as (OpenMetrics: a
/// counter's samples end in `_total`, a histogram's in `_bucket`, `_sum`,
/// `_count`).
fn series_of(family: &str, kind: &str) -> Vec<String> {
    let with = |s: &[&str]| s.iter().map(|x| format!("{family}{x}")).collect();
    match kind {
        "counter" if family.ends_with("_total") => vec![family.to_owned()],
        "counter" => with(&["_total", "_created"]),
        "histogram" | "gaugehistogram" => with(&["_bucket", "_sum", "_count", "_created"]),
        "summary" => with(&["", "_sum", "_count", "_created"]),
        "info" => with(&["_info"]),
        _ => vec![family.to_owned()],
    }
}

/// The label names of `{a="x",b="y"}` (values may hold escaped quotes).
fn label_names(braces: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut chars = braces.chars().skip(1).peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let name = name.trim_start_matches([',', ' ']).to_owned();
        if name.starts_with('}') || name.is_empty() {
            return Ok(names);
        }
        if chars.next() != Some('"') {
            return Err(format!("bad labels: {braces}"));
        }
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => break,
                _ => {}
            }
        }
        names.push(name);
        if chars.peek() == Some(&'}') {
            return Ok(names);
        }
    }
}

// === PromQL: which series and labels a query reads ===

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Open,
    Close,
    LBrace,
    RBrace,
    Comma,
    /// A string, a number or duration, a `[range]`, an operator, a variable.
    Other,
}

const AGGREGATORS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
const KEYWORDS: [&str; 8] = [
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
];
const GROUPINGS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn tokens(expr: &str) -> Result<Vec<Tok>, String> {
    let s: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    while i < s.len() {
        let c = s[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '#' => {
                while i < s.len() && s[i] != '\n' {
                    i += 1;
                }
            }
            '"' | '\'' | '`' => {
                i += 1;
                while i < s.len() && s[i] != c {
                    i += if s[i] == '\\' && c != '`' { 2 } else { 1 };
                }
                if i >= s.len() {
                    return Err(format!("unterminated string in {expr}"));
                }
                i += 1;
                out.push(Tok::Other);
            }
            '[' => {
                while i < s.len() && s[i] != ']' {
                    i += 1;
                }
                if i >= s.len() {
                    return Err(format!("unterminated range in {expr}"));
                }
                i += 1;
                out.push(Tok::Other);
            }
            '$' => {
                i += 1;
                if s.get(i) == Some(&'{') {
                    while i < s.len() && s[i] != '}' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    while i < s.len() && ident(s[i]) {
                        i += 1;
                    }
                }
                out.push(Tok::Other);
            }
            '(' | ')' | '{' | '}' | ',' => {
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    _ => Tok::Comma,
                });
                i += 1;
            }
            _ if c.is_ascii_digit() || c == '.' => {
                while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Other);
            }
            _ if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < s.len() && ident(s[i]) {
                    i += 1;
                }
                out.push(Tok::Ident(s[start..i].iter().collect()));
            }
            _ => {
                out.push(Tok::Other);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// What one query asks of the exposition.
#[derive(Debug, Default)]
struct Needs {
    /// Every series name it reads.
    names: BTreeSet<String>,
    /// (series, label): a selector or an aggregation over that series names
    /// the label, so the series must carry it.
    on_series: BTreeSet<(String, String)>,
    /// Labels that some series of the query must carry (vector matching,
    /// legends), as their place in the query cannot tie them to one series.
    on_any: BTreeSet<String>,
}

/// The index of the bracket matching the one at `at`, scanning forwards
/// (`Open`) or backwards (`Close`).
fn matching(toks: &[Tok], at: usize) -> Result<usize, String> {
    let forward = toks[at] == Tok::Open;
    let mut depth = 0i32;
    let mut i = at;
    loop {
        match toks[i] {
            Tok::Open => depth += if forward { 1 } else { -1 },
            Tok::Close => depth += if forward { -1 } else { 1 },
            _ => {}
        }
        if depth == 0 {
            return Ok(i);
        }
        if forward {
            i += 1;
            if i == toks.len() {
                return Err("unbalanced parentheses".into());
            }
        } else {
            i = i.checked_sub(1).ok_or("unbalanced parentheses")?;
        }
    }
}

/// The labels of `( a, b )` starting at `open`, and the index of its `)`.
fn label_list(toks: &[Tok], open: usize) -> Result<(Vec<String>, usize), String> {
    let mut labels = Vec::new();
    let mut i = open + 1;
    loop {
        match toks.get(i) {
            Some(Tok::Ident(l)) => labels.push(l.clone()),
            Some(Tok::Comma) => {}
            Some(Tok::Close) => return Ok((labels, i)),
            other => return Err(format!("unexpected {other:?} in a label list")),
        }
        i += 1;
    }
}

/// Every series name a PromQL expression reads, and the labels it needs
/// on them.
fn needs(expr: &str) -> Result<Needs, String> {
    let toks = tokens(expr)?;
    let word = |i: usize| match toks.get(i) {
        Some(Tok::Ident(w)) => Some(w.as_str()),
        _ => None,
    };
    // First pass: which identifiers are series names.
    let mut series = vec![false; toks.len()];
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::LBrace => {
                while i < toks.len() && toks[i] != Tok::RBrace {
                    i += 1;
                }
            }
            Tok::Ident(w)
                if GROUPINGS.contains(&w.as_str()) && toks.get(i + 1) == Some(&Tok::Open) =>
            {
                i = label_list(&toks, i + 1)?.1;
            }
            Tok::Ident(w) => {
                series[i] = !(AGGREGATORS.contains(&w.as_str())
                    || KEYWORDS.contains(&w.as_str())
                    || GROUPINGS.contains(&w.as_str())
                    || toks.get(i + 1) == Some(&Tok::Open));
            }
            _ => {}
        }
        i += 1;
    }
    let names_in = |from: usize, to: usize| -> Vec<String> {
        (from..=to)
            .filter(|&j| series[j])
            .filter_map(word)
            .map(str::to_owned)
            .collect()
    };
    // Second pass: selectors and groupings.
    let mut n = Needs::default();
    let mut i = 0;
    while i < toks.len() {
        if series[i] {
            let name = word(i).expect("a series is an identifier").to_owned();
            n.names.insert(name.clone());
            if toks.get(i + 1) == Some(&Tok::LBrace) {
                i += 2;
                while i < toks.len() && toks[i] != Tok::RBrace {
                    if let Some(l) = word(i) {
                        n.on_series.insert((name.clone(), l.to_owned()));
                    }
                    i += 1;
                }
            }
        } else if toks[i] == Tok::LBrace {
            return Err(format!("a selector without a series name in {expr}"));
        } else if let Some(g) = word(i).filter(|w| GROUPINGS.contains(w)) {
            if toks.get(i + 1) == Some(&Tok::Open) {
                let (labels, end) = label_list(&toks, i + 1)?;
                if g == "by" || g == "without" {
                    // `sum by (l) (x)` or `sum (x) by (l)`.
                    let (from, to) = if i > 0 && toks[i - 1] == Tok::Close {
                        (matching(&toks, i - 1)?, i - 1)
                    } else if toks.get(end + 1) == Some(&Tok::Open) {
                        (end + 1, matching(&toks, end + 1)?)
                    } else {
                        return Err(format!("`{g}` groups nothing in {expr}"));
                    };
                    for name in names_in(from, to) {
                        for l in &labels {
                            n.on_series.insert((name.clone(), l.clone()));
                        }
                    }
                } else {
                    n.on_any.extend(labels);
                }
                i = end;
            }
        }
        i += 1;
    }
    Ok(n)
}

/// Adds the labels a legend such as `{{provider}} {{kind}}` shows.
fn legend_needs(n: &mut Needs, legend: &str) {
    for part in legend.split("{{").skip(1) {
        if let Some((label, _)) = part.split_once("}}") {
            n.on_any.insert(label.trim().to_owned());
        }
    }
}

/// What a query needs that the exposition does not have.
fn problems(n: &Needs, e: &Exposition) -> Vec<String> {
    let mut out = Vec::new();
    for name in &n.names {
        if name != "up" && !e.exports(name) {
            out.push(format!("{name} is not exported by restgate"));
        }
    }
    let carries = |name: &str, label: &str| e.labels.get(name).is_some_and(|l| l.contains(label));
    for (name, label) in &n.on_series {
        if TARGET_LABELS.contains(&label.as_str()) || (name != "up" && !e.exports(name)) {
            continue;
        }
        if name != "up" && !e.labels.contains_key(name) {
            out.push(format!(
                "{name} had no sample in the scrape, so its label {label} cannot be checked"
            ));
        } else if !carries(name, label) {
            out.push(format!("{name} has no label {label}"));
        }
    }
    for label in &n.on_any {
        if !TARGET_LABELS.contains(&label.as_str()) && !n.names.iter().any(|s| carries(s, label)) {
            out.push(format!("no series of the query has the label {label}"));
        }
    }
    out
}

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

/// `label_values(selector, label)`: the selector's needs, and the label on
/// each of its series.
fn label_values(q: &str) -> Result<Needs, String> {
    let inner = q
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("not label_values(selector, label): {q}"))?;
    let (selector, label) = inner
        .rsplit_once(',')
        .ok_or_else(|| format!("no label in {q}"))?;
    let mut n = needs(selector)?;
    for name in n.names.clone() {
        n.on_series.insert((name, label.trim().to_owned()));
    }
    Ok(n)
}

/// One alerting rule as the line reader sees it.
#[derive(Debug, Default)]
struct Rule {
    name: String,
    expr: String,
    for_: Option<String>,
    severity: Option<String>,
    summary: bool,
    description: bool,
}

/// The alerting rules of a rule file, read line by line (the file keeps to
/// `- alert:`, `expr:` on one line or as a `|` block, `for:`, `labels:` and
/// `annotations:`), and how many `expr:` lines the file holds in all.
fn rules(text: &str) -> (Vec<Rule>, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let value = |l: &str, key: &str| {
        let v = l.trim_start()[key.len()..].trim();
        v.trim_matches('"').to_owned()
    };
    let mut out: Vec<Rule> = Vec::new();
    let mut exprs = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start();
        if t.starts_with("- alert:") {
            out.push(Rule {
                name: value(line, "- alert:"),
                ..Rule::default()
            });
        } else if t.starts_with("- name:") || t.starts_with("- record:") {
            // A group or a recording rule: what follows belongs to no alert.
            out.push(Rule::default());
        }
        let current = out.last_mut();
        if t.starts_with("expr:") {
            exprs += 1;
            let v = value(line, "expr:");
            let expr = if ["|", "|-", ">", ">-"].contains(&v.as_str()) {
                let mut block = Vec::new();
                while i + 1 < lines.len()
                    && (lines[i + 1].trim().is_empty() || indent(lines[i + 1]) > indent(line))
                {
                    i += 1;
                    block.push(lines[i].trim());
                }
                block.join("\n")
            } else {
                v
            };
            if let Some(r) = current {
                r.expr = expr;
            }
        } else if let Some(r) = current {
            if t.starts_with("for:") {
                r.for_ = Some(value(line, "for:"));
            } else if t.starts_with("severity:") {
                r.severity = Some(value(line, "severity:"));
            } else if t.starts_with("summary:") {
                r.summary = true;
            } else if t.starts_with("description:") {
                r.description = true;
            }
        }
        i += 1;
    }
    out.retain(|r| !r.name.is_empty());
    (out, exprs)
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
            break;
        }
    }
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

// === The checker itself ===

const SAMPLE: &str = "\
# HELP restgate_requests Requests.
# TYPE restgate_requests counter
restgate_requests_total{outcome=\"authenticated\",status=\"200\"} 3
# TYPE restgate_provider_call_duration_seconds histogram
restgate_provider_call_duration_seconds_bucket{provider=\"idp\",le=\"0.5\"} 1
restgate_provider_call_duration_seconds_sum{provider=\"idp\"} 0.01
restgate_provider_call_duration_seconds_count{provider=\"idp\"} 1
# TYPE restgate_cache_entries gauge
restgate_cache_entries 2
# TYPE restgate_limited counter
# EOF
";

fn check(expr: &str) -> Vec<String> {
    let e = Exposition::parse(SAMPLE).unwrap();
    problems(&needs(expr).unwrap(), &e)
}

#[test]
fn the_checker_finds_made_up_series_and_labels() {
    let fine = [
        "sum by (outcome) (rate(restgate_requests_total[5m]))",
        "sum(rate(restgate_requests_total{outcome=\"restgate_made_up_total\"}[$__rate_interval])) by (status)",
        "histogram_quantile(0.95, sum by (le, provider) (rate(restgate_provider_call_duration_seconds_bucket{provider=~\"$provider\", instance=~\"$instance\"}[5m])))",
        "up{job=\"restgate\"} == 0",
        "restgate_cache_entries and on (job, instance) restgate_requests_total offset 1h",
        "rate(restgate_provider_call_duration_seconds_count[5m]) > 0 # a comment: restgate_nothing",
        "restgate_cache_entries * on (instance) group_left restgate_requests_total",
    ];
    for expr in fine {
        assert_eq!(check(expr), Vec::<String>::new(), "{expr}");
    }
    let wrong = [
        ("rate(restgate_made_up_total[5m])", "restgate_made_up_total"),
        ("rate(restgate_requests[5m])", "restgate_requests is not"),
        ("node_cpu_seconds_total", "node_cpu_seconds_total"),
        (
            "sum by (provider) (rate(restgate_requests_total[5m]))",
            "no label provider",
        ),
        (
            "sum(rate(restgate_requests_total[5m])) by (reason)",
            "no label reason",
        ),
        (
            "restgate_requests_total{outcomes=\"error\"}",
            "no label outcomes",
        ),
        ("up{provider=\"idp\"}", "up has no label provider"),
        (
            "restgate_cache_entries and on (provider) restgate_requests_total",
            "label provider",
        ),
        ("restgate_limited_total{reason=\"client\"}", "no sample"),
    ];
    for (expr, why) in wrong {
        let found = check(expr);
        assert!(found.iter().any(|p| p.contains(why)), "{expr}: {found:?}");
    }
    let mut legend = needs("sum by (outcome) (rate(restgate_requests_total[5m]))").unwrap();
    legend_needs(&mut legend, "{{ reason }}");
    let e = Exposition::parse(SAMPLE).unwrap();
    assert_eq!(problems(&legend, &e).len(), 1);
    assert!(
        label_values("label_values(restgate_requests_total, provider)")
            .is_ok_and(|n| !problems(&n, &e).is_empty())
    );
    assert!(
        label_values("label_values(restgate_requests_total{job=~\"$job\"}, status)")
            .is_ok_and(|n| problems(&n, &e).is_empty())
    );
    assert!(Exposition::parse("restgate_orphan 1\n").is_err());
}

#[test]
fn the_rule_reader_sees_block_and_line_expressions() {
    let text = "groups:\n  - name: g\n    rules:\n      - alert: One\n        expr: |\n          sum(\n            restgate_a_total)\n          > 1\n        for: 5m\n        labels:\n          severity: warning\n        annotations:\n          summary: \"s\"\n          description: \"d\"\n      - alert: Two\n        expr: up == 0\n        for: 1m\n";
    let (rules, exprs) = rules(text);
    assert_eq!(exprs, 2);
    assert_eq!(rules[0].name, "One");
    assert_eq!(rules[0].expr, "sum(\nrestgate_a_total)\n> 1");
    assert_eq!(rules[0].severity.as_deref(), Some("warning"));
    assert!(rules[0].summary && rules[0].description);
    assert_eq!(
        (rules[1].expr.as_str(), rules[1].for_.as_deref()),
        ("up == 0", Some("1m"))
    );
    assert!(rules[1].severity.is_none() && !rules[1].summary);
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
