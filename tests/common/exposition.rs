//! The Prometheus text exposition as scraped from `/metrics`: which series
//! families it declares (`# TYPE`), the series names each is scraped as, and
//! the label names its samples carry.

use std::collections::{BTreeMap, BTreeSet};

/// What one or more scrapes of `/metrics` declared and showed.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family (the `# TYPE` name) → the series names it exports.
    pub families: BTreeMap<String, BTreeSet<String>>,
    /// Series name → the label names seen on its samples (absent: no sample).
    pub labels: BTreeMap<String, BTreeSet<String>>,
}

impl Exposition {
    /// Parses the text format; `Err` on a sample of no declared family.
    pub fn parse(text: &str) -> Result<Exposition, String> {
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

    pub fn merge(&mut self, other: Exposition) {
        for (f, names) in other.families {
            self.families.entry(f).or_default().extend(names);
        }
        for (n, labels) in other.labels {
            self.labels.entry(n).or_default().extend(labels);
        }
    }

    pub fn exports(&self, name: &str) -> bool {
        self.families.values().any(|s| s.contains(name))
    }
}

/// The series names a family of this type is scraped as (OpenMetrics: a
/// counter's samples end in `_total`, a histogram's in `_bucket`, `_sum`,
/// `_count`).
pub fn series_of(family: &str, kind: &str) -> Vec<String> {
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
pub fn label_names(braces: &str) -> Result<Vec<String>, String> {
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
