//! The validation context: where every problem is collected, with the file
//! and its parsed document to locate keys in.

use std::path::Path;

use toml_edit::Document;

use super::super::locate::KeyPath;
use super::errors::ConfigError;

/// The validation context: where errors are collected.
pub(super) struct Cx {
    pub(super) file: String,
    pub(super) doc: Document<String>,
    pub(super) errors: Vec<ConfigError>,
    /// Sections that did not deserialize: their defaults would only add noise.
    pub(super) broken: Vec<KeyPath>,
    /// Every `[providers.NAME]` table, valid or not.
    pub(super) declared_providers: Vec<String>,
    /// The config file's directory: relative file paths start there.
    pub(super) base: std::path::PathBuf,
    /// `restgate check --skip-secrets`: secret variables and files are not
    /// read (placeholders stand in), everything else is checked.
    pub(super) skip_secrets: bool,
}

pub(super) const DEFAULT_SESSION_COOKIES: &[&str] = &[
    "JSESSIONID",
    "seraph.rememberme.cookie",
    "seraph.confluence",
    "BITBUCKETSESSIONID",
    "_atl_bitbucket_remember_me",
    "crowd.token_key",
];

/// A relative file path in the config is relative to the config file.
pub(super) fn resolve(base: &Path, file: &str) -> String {
    let p = Path::new(file);
    if p.is_absolute() {
        file.to_owned()
    } else {
        base.join(p).display().to_string()
    }
}

/// The field named by serde's "unknown field `x`, expected …" message.
pub(super) fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(f, _)| f)
}

impl super::fill::Report for Cx {
    fn report(&mut self, path: &KeyPath, message: String) {
        self.err(path, message);
    }
}
