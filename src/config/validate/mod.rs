//! Raw config → typed [`Config`], collecting every problem with file, line and key.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml_edit::Document;

use super::locate::{KeyPath, line_at};
use super::raw;
use super::types::*;
use cx::Cx;

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    read(path, false)
}

/// Reads and validates a config file without reading its secrets: secret
/// variables, secret files, the cluster key and the OAuth private key are
/// not read and placeholders stand in (`restgate check --skip-secrets`). The
/// result is for showing only, never for serving.
pub fn load_without_secrets(path: &Path) -> Result<Config, ConfigErrors> {
    read(path, true)
}

fn read(path: &Path, skip_secrets: bool) -> Result<Config, ConfigErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => validate(&text, path, skip_secrets),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            file: path.display().to_string(),
            line: None,
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
        }])),
    }
}

/// Validates config text; `source` names it in messages and resolves relative files.
pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigErrors> {
    validate(text, source, false)
}

fn validate(text: &str, source: &Path, skip_secrets: bool) -> Result<Config, ConfigErrors> {
    let file = source.display().to_string();
    let syntax = |span: Option<std::ops::Range<usize>>, message: &str| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: span.map(|s| line_at(text, s.start)),
            key: String::new(),
            message: format!("not valid TOML: {}", message.trim()),
        }])
    };
    let doc = Document::parse(text.to_owned()).map_err(|e| syntax(e.span(), e.message()))?;
    let table: toml::Table = toml::from_str(text).map_err(|e| syntax(e.span(), e.message()))?;
    let mut cx = Cx {
        file,
        doc,
        errors: Vec::new(),
        broken: Vec::new(),
        declared_providers: Vec::new(),
        base: source.parent().unwrap_or(Path::new(".")).to_path_buf(),
        skip_secrets,
    };
    let config = cx.config(&table, source);
    if cx.errors.is_empty() {
        Ok(config)
    } else {
        // Reading order: by line; errors without a line last.
        cx.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        Err(ConfigErrors(cx.errors))
    }
}

// === impl Cx: plumbing ===

impl Cx {
    fn config(&mut self, table: &toml::Table, source: &Path) -> Config {
        for key in table.keys() {
            if !raw::SECTIONS.contains(&key.as_str()) {
                let message = match kinds::closest(key, raw::SECTIONS.iter().copied()) {
                    Some(s) => format!("unknown section; did you mean [{s}]?"),
                    None => format!(
                        "unknown section; the sections are `{}`",
                        raw::SECTIONS.join("`, `")
                    ),
                };
                self.err(&KeyPath::root(key), message);
            }
        }
        let base = source.parent().unwrap_or(Path::new("."));
        let get = |k: &str| table.get(k);
        let server: raw::RawServer = self.opt_section("server", get("server"));
        let upstream: raw::RawUpstream = self.opt_section("upstream", get("upstream"));
        let auth: raw::RawAuth = self.opt_section("auth", get("auth"));
        let cache: raw::RawCache = self.opt_section("cache", get("cache"));
        let cluster: Option<raw::RawCluster> =
            get("cluster").and_then(|v| self.section(&KeyPath::root("cluster"), v));
        let limits: raw::RawLimits = self.opt_section("limits", get("limits"));
        let directory: raw::RawDirectory = self.opt_section("directory", get("directory"));

        let providers = self.providers(get("providers"), base);
        let auth = self.auth(&auth, &providers);
        let upstream = self.upstream(&upstream, base);
        self.distinct_headers(&upstream, &auth);
        let mut directory = self.directory(&directory, base);
        if let Directory::Atlassian(d) = &mut directory {
            // Lookups go to the product's own API, at the upstream origin.
            let origin = upstream.url.to_string();
            d.base_url = format!("{}{}", origin.trim_end_matches('/'), d.base_url);
        }
        let server = self.server(&server, base);
        self.not_itself(&server, &upstream);
        Config {
            source: source.to_path_buf(),
            server,
            upstream,
            cache: self.cache(&cache),
            limits: self.limits(&limits, &providers),
            cluster: cluster.and_then(|c| self.cluster(&c, base)).map(Arc::new),
            directory,
            api_keys: self.api_keys(get("api_keys")),
            routes: self.routes(get("route")),
            auth,
            providers,
        }
    }

    fn opt_section<T: DeserializeOwned + Default>(
        &mut self,
        name: &str,
        value: Option<&toml::Value>,
    ) -> T {
        value
            .and_then(|v| self.section(&KeyPath::root(name), v))
            .unwrap_or_default()
    }
}

mod assembly;
mod auth;
mod cluster;
mod cx;
mod errors;
mod fill;
mod keys;
mod kinds;
mod limits;
mod oidc;
mod parts;
mod presets;
mod provider;
mod server;
mod upstream;
mod values;

pub use errors::{ConfigError, ConfigErrors};
pub use fill::is_guid;
pub use parts::directory_key;

#[cfg(test)]
mod tests;
