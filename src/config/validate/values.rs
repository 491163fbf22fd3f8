//! Checks of single values every section shares: durations, numbers,
//! header names, URLs, choices, secrets, usernames, path prefixes.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use http::HeaderName;
use serde::de::DeserializeOwned;

use super::super::locate::{KeyPath, Step, line_of};
use super::super::secret::{Secret, SecretSource};
use super::cx::{Cx, resolve, unknown_field};
use super::errors::ConfigError;
use crate::core::path::PathPrefix;

impl Cx {
    pub(super) fn base(&self) -> &Path {
        &self.base
    }

    pub(super) fn err(&mut self, path: &KeyPath, message: impl Into<String>) {
        if self.broken.iter().any(|b| path.0.starts_with(&b.0)) {
            return;
        }
        let message = message.into();
        // A key already reported is not reported missing again.
        let key = path.to_string();
        if message.starts_with("missing") && self.errors.iter().any(|e| e.key == key) {
            return;
        }
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: line_of(&self.doc, path),
            key,
            message,
        });
    }

    /// Deserializes one section, reporting every key serde refuses: each
    /// bad key is recorded (an unknown one with the closest known key), taken
    /// out, and the rest read again, so one typo hides nothing else. A key
    /// taken out is marked broken: errors that only follow from it (such as
    /// "missing") are not reported. `None` only when the section itself has
    /// the wrong shape.
    pub(super) fn section<T: DeserializeOwned>(
        &mut self,
        path: &KeyPath,
        value: &toml::Value,
    ) -> Option<T> {
        let mut value = value.clone();
        // Each round takes one key out, so a table's size bounds the rounds.
        for _ in 0..256 {
            let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(v) => return Some(v),
                Err(e) => e,
            };
            let mut rel = Vec::new();
            for seg in e.path().iter() {
                match seg {
                    serde_path_to_error::Segment::Map { key } => rel.push(Step::Key(key.clone())),
                    serde_path_to_error::Segment::Seq { index } => rel.push(Step::Index(*index)),
                    _ => {}
                }
            }
            // The TOML deserializer's message may end in lines locating the
            // key again ("in `key`"): the first line is the message.
            let full = e.inner().to_string();
            let message = full.trim().lines().next().unwrap_or_default().trim();
            if let Some(field) = unknown_field(message) {
                if rel.last() != Some(&Step::Key(field.to_owned())) {
                    rel.push(Step::Key(field.to_owned()));
                }
            }
            let at = KeyPath(path.0.iter().cloned().chain(rel.iter().cloned()).collect());
            self.err(&at, explain(message, &rel));
            // What to take out: the innermost table key on the path.
            let Some(cut) = rel.iter().rposition(|s| matches!(s, Step::Key(_))) else {
                break;
            };
            if !take_out(&mut value, &rel[..=cut]) {
                break;
            }
            let taken = KeyPath(
                path.0
                    .iter()
                    .cloned()
                    .chain(rel[..=cut].iter().cloned())
                    .collect(),
            );
            self.broken.push(taken);
        }
        self.broken.push(path.clone());
        None
    }

    pub(super) fn duration(
        &mut self,
        path: &KeyPath,
        value: Option<&String>,
        default: &str,
    ) -> Duration {
        let fallback = humantime::parse_duration(default).unwrap_or_default();
        let Some(text) = value else { return fallback };
        let d = match humantime::parse_duration(text) {
            Ok(d) => d,
            Err(e) => {
                let hint = if text.trim().chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
                    format!("a duration needs a unit: write e.g. \"{}s\"", text.trim())
                } else {
                    "write e.g. \"3s\", \"5m\", \"1h\"".to_owned()
                };
                self.err(path, format!("invalid duration {text:?} ({e}); {hint}"));
                return fallback;
            }
        };
        if let Some((min, max)) = duration_range(path) {
            let lo = humantime::parse_duration(min).unwrap_or_default();
            let hi = humantime::parse_duration(max).unwrap_or(Duration::MAX);
            if d < lo || d > hi {
                self.err(
                    path,
                    format!("{text:?} is out of range: give between {min} and {max}"),
                );
                return fallback;
            }
        }
        d
    }

    /// A count that must be at least 1.
    pub(super) fn positive(&mut self, path: &KeyPath, value: Option<u64>, default: usize) -> usize {
        match value {
            None => default,
            Some(0) => {
                self.err(path, "must be at least 1");
                default
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }

    pub(super) fn header(&mut self, path: &KeyPath, value: &str) -> Option<HeaderName> {
        match HeaderName::from_str(value) {
            Ok(h) => Some(h),
            Err(_) => {
                self.err(path, format!("{value:?} is not a valid HTTP header name"));
                None
            }
        }
    }

    pub(super) fn url(&mut self, path: &KeyPath, value: &str) -> Option<reqwest::Url> {
        match reqwest::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) => {
                self.err(
                    path,
                    format!("{value:?} must be an http:// or https:// URL"),
                );
                None
            }
            Err(e) => {
                self.err(path, format!("{value:?} is not a URL ({e})"));
                None
            }
        }
    }

    pub(super) fn one_of<T: Copy>(
        &mut self,
        path: &KeyPath,
        value: Option<&String>,
        choices: &[(&str, T)],
    ) -> T {
        let Some(v) = value else { return choices[0].1 };
        if let Some((_, t)) = choices.iter().find(|(name, _)| name == v) {
            return *t;
        }
        let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
        self.err(path, format!("{v:?} is not one of {}", names.join(", ")));
        choices[0].1
    }

    /// The secret a table names by `{stem}_env` or `{stem}_file`, read now
    /// (with `--skip-secrets`, a placeholder instead); a problem is reported
    /// against the key the file actually wrote.
    pub(super) fn secret(
        &mut self,
        p: &KeyPath,
        stem: &str,
        env: Option<&String>,
        file: Option<&String>,
        base: &Path,
    ) -> Option<Secret> {
        let (key, source) = match (env, file) {
            (Some(_), Some(_)) => {
                self.err(
                    &p.key(&format!("{stem}_file")),
                    format!("give the secret either by `{stem}_env` or by `{stem}_file`, not both"),
                );
                return None;
            }
            (Some(e), None) => (format!("{stem}_env"), SecretSource::Env(e.clone())),
            (None, Some(f)) => (format!("{stem}_file"), SecretSource::File(resolve(base, f))),
            (None, None) => return None,
        };
        if self.skip_secrets {
            return Some(Secret::new("(not read: --skip-secrets)"));
        }
        match source.read() {
            Ok(s) => Some(s),
            Err(msg) => {
                self.err(&p.key(&key), msg);
                None
            }
        }
    }

    pub(super) fn username(&mut self, path: &KeyPath, value: &str) -> bool {
        if crate::core::principal::is_valid_username(value) {
            true
        } else {
            self.err(
                path,
                format!("{value:?} is not a usable username (empty, or has control characters)"),
            );
            false
        }
    }

    pub(super) fn path_prefix(&mut self, path: &KeyPath, value: &str) -> Option<PathPrefix> {
        match PathPrefix::parse(value) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(
                    path,
                    format!("{value:?} is not a canonical path prefix: {e}"),
                );
                None
            }
        }
    }
}

/// serde's message for a refused key, in the config's words: an unknown key
/// names the closest known one (or lists them), and a number where a
/// duration belongs says how to write it.
fn explain(message: &str, rel: &[Step]) -> String {
    let key = rel
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .unwrap_or_default();
    if let Some(field) = unknown_field(message) {
        let expected: Vec<&str> = message
            .split_once(", expected")
            .map(|x| x.1)
            .unwrap_or("")
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        return match super::kinds::closest(field, expected.iter().copied()) {
            Some(k) => format!("unknown key; did you mean `{k}`?"),
            None if expected.is_empty() => "unknown key".to_owned(),
            None => format!("unknown key; this table takes `{}`", expected.join("`, `")),
        };
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let number = rest.starts_with("integer") || rest.starts_with("floating point");
        if number && rest.contains("expected a string") {
            let n: String = rest
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            return if is_duration_key(key) {
                format!("{n} is a bare number; a duration needs quotes and a unit, e.g. \"{n}s\"")
            } else {
                format!("expected a string: write it in quotes, e.g. \"{n}\"")
            };
        }
    }
    for (serde, words) in [
        ("expected u64", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
    ] {
        if let Some(head) = message.strip_suffix(serde) {
            return format!("{head}{words}");
        }
    }
    message.to_owned()
}

/// Keys whose value is a duration such as "30s".
fn is_duration_key(key: &str) -> bool {
    key.ends_with("timeout")
        || key.ends_with("ttl")
        || matches!(key, "stale_if_error" | "clock_skew")
}

/// The accepted range of a duration key (`None`: no range beyond parsing).
fn duration_range(path: &KeyPath) -> Option<(&'static str, &'static str)> {
    let section = match path.0.first() {
        Some(Step::Key(k)) => k.as_str(),
        _ => return None,
    };
    let key = match path.0.last() {
        Some(Step::Key(k)) => k.as_str(),
        _ => return None,
    };
    Some(match (section, key) {
        ("server", "header_read_timeout") => ("100ms", "10m"),
        ("server", "idle_timeout") => ("100ms", "24h"),
        ("server", "shutdown_timeout") => ("0s", "1h"),
        ("upstream", "connect_timeout") => ("10ms", "5m"),
        ("upstream", "response_timeout") => ("100ms", "24h"),
        ("cache", "ttl") => ("0s", "24h"),
        ("cache", "negative_ttl") => ("0s", "24h"),
        ("cache", "stale_if_error") => ("0s", "24h"),
        ("providers", "timeout") | ("directory", "timeout") => ("10ms", "5m"),
        ("providers", "clock_skew") => ("0s", "10m"),
        _ => return None,
    })
}

/// Removes the key at `rel` (a path of table keys and array indexes ending
/// in a key) from `value`; false when it is not there.
fn take_out(value: &mut toml::Value, rel: &[Step]) -> bool {
    let Some((Step::Key(last), parents)) = rel.split_last() else {
        return false;
    };
    let mut at = value;
    for step in parents {
        let next = match (step, at) {
            (Step::Key(k), toml::Value::Table(t)) => t.get_mut(k),
            (Step::Index(i), toml::Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    match at {
        toml::Value::Table(t) => t.remove(last).is_some(),
        _ => false,
    }
}

// === impl Cx: sections ===
