//! What a PromQL query reads: every series name, and the labels its
//! selectors, groupings and legends need on them; and what of that an
//! exposition lacks. A small tokenizer, not a parser: enough to name series
//! and labels, with Prometheus' own parser (promtool) as an optional second
//! opinion in the tests that use it.

use std::collections::BTreeSet;

use super::exposition::Exposition;

/// Labels Prometheus attaches to every scraped series itself.
pub const TARGET_LABELS: [&str; 3] = ["job", "instance", "__name__"];

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
pub struct Needs {
    /// Every series name it reads.
    pub names: BTreeSet<String>,
    /// (series, label): a selector or an aggregation over that series names
    /// the label, so the series must carry it.
    pub on_series: BTreeSet<(String, String)>,
    /// Labels that some series of the query must carry (vector matching,
    /// legends), as their place in the query cannot tie them to one series.
    pub on_any: BTreeSet<String>,
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
pub fn needs(expr: &str) -> Result<Needs, String> {
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
pub fn legend_needs(n: &mut Needs, legend: &str) {
    for part in legend.split("{{").skip(1) {
        if let Some((label, _)) = part.split_once("}}") {
            n.on_any.insert(label.trim().to_owned());
        }
    }
}

/// A Grafana variable's `label_values(selector, label)`: the selector's needs, and the label on
/// each of its series.
pub fn label_values(q: &str) -> Result<Needs, String> {
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

/// What a query needs that the exposition does not have.
pub fn problems(n: &Needs, e: &Exposition) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
