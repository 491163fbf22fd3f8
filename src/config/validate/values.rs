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
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: line_of(&self.doc, path),
            key: path.to_string(),
            message: message.into(),
        });
    }

    /// Deserializes one section; on error records it (with the failing key) and
    /// returns `None`.
    pub(super) fn section<T: DeserializeOwned>(
        &mut self,
        path: &KeyPath,
        value: &toml::Value,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                let mut at = path.clone();
                for seg in e.path().iter() {
                    match seg {
                        serde_path_to_error::Segment::Map { key } => at = at.key(key),
                        serde_path_to_error::Segment::Seq { index } => at = at.index(*index),
                        _ => {}
                    }
                }
                let message = e.inner().to_string();
                if let Some(field) = unknown_field(&message) {
                    if at.0.last() != Some(&Step::Key(field.to_owned())) {
                        at = at.key(field);
                    }
                    let expected = message.split_once(", expected").map(|x| x.1).unwrap_or("");
                    let msg = format!("unknown key; expected{expected}");
                    self.err(&at, msg);
                } else {
                    self.err(&at, message);
                }
                self.broken.push(path.clone());
                None
            }
        }
    }

    pub(super) fn duration(
        &mut self,
        path: &KeyPath,
        value: Option<&String>,
        default: &str,
    ) -> Duration {
        let text = value.map(String::as_str).unwrap_or(default);
        match humantime::parse_duration(text) {
            Ok(d) => d,
            Err(e) => {
                self.err(
                    path,
                    format!("invalid duration {text:?} ({e}); write e.g. \"3s\", \"5m\", \"1h\""),
                );
                humantime::parse_duration(default).unwrap_or_default()
            }
        }
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

    pub(super) fn secret(
        &mut self,
        path: &KeyPath,
        env: Option<&String>,
        file: Option<&String>,
        base: &Path,
    ) -> Option<Secret> {
        let source = match (env, file) {
            (Some(_), Some(_)) => {
                self.err(
                    path,
                    "give the secret either by `_env` or by `_file`, not both",
                );
                return None;
            }
            (Some(e), None) => SecretSource::Env(e.clone()),
            (None, Some(f)) => SecretSource::File(resolve(base, f)),
            (None, None) => return None,
        };
        match source.read() {
            Ok(s) => Some(s),
            Err(msg) => {
                self.err(path, msg);
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

// === impl Cx: sections ===
