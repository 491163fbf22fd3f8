//! A `[providers.NAME]` table's keys checked against its kind (from the
//! kind table) before serde reads them: one error per key, naming the
//! closest key of that kind and listing only the keys it takes.

use std::path::Path;

use super::super::locate::KeyPath;
use super::super::provider::*;
use super::super::raw::RawProvider;
use super::cx::Cx;
use super::kinds::{KINDS, Kind, closest, find, names, ticks};

// === impl Cx: a [providers.NAME] table ===

impl Cx {
    /// One `[providers.NAME]` table: its keys checked against its kind before
    /// serde sees them (so one error per key, naming that kind's keys), then
    /// what the kind requires, then the provider. `None` after any error.
    pub(super) fn provider_table(
        &mut self,
        p: &KeyPath,
        name: &str,
        value: &toml::Value,
        base: &Path,
    ) -> Option<Provider> {
        let errors_before = self.errors.len();
        let (Some(table), Some(kind)) = (value.as_table(), self.kind_of(p, value)) else {
            return None;
        };
        let validation = table.get("validation").and_then(toml::Value::as_str);
        let suggested = self.unaccepted_keys(p, kind, validation, table);
        for need in kind.required {
            let given = |k: &&str| table.contains_key(*k) || suggested.iter().any(|(_, s)| s == k);
            if !need.keys.iter().any(given) {
                let or = match need.keys {
                    [_] => String::new(),
                    keys => format!(" ({})", ticks(keys).replace(", ", " or ")),
                };
                self.err(&p.key(need.keys[0]), format!("missing: {}{or}", need.what));
            }
        }
        // The refused keys are reported: read the rest without them, and say
        // nothing more about them or about the keys they were mistaken for.
        // A misspelt key's value is read under the key it was meant as (so
        // nothing derived from it goes missing), without a second report.
        let mut kept = table.clone();
        for key in table.keys() {
            let refused = !kind.takes_key(key)
                || (kind.jwt_keys.contains(&key.as_str()) && validation != Some("jwt"));
            if refused {
                let value = kept.remove(key);
                self.broken.push(p.key(key));
                let meant = suggested.iter().find(|(typo, _)| typo == key);
                if let (Some((_, meant)), Some(value)) = (meant, value) {
                    if !table.contains_key(*meant) {
                        kept.insert((*meant).to_owned(), value);
                    }
                }
            }
        }
        for (_, key) in &suggested {
            self.broken.push(p.key(key));
            // A secret is named by `_env` or `_file`: the mistaken key was
            // meant for the pair.
            for (one, other) in [("_env", "_file"), ("_file", "_env")] {
                if let Some(stem) = key.strip_suffix(one) {
                    self.broken.push(p.key(&format!("{stem}{other}")));
                }
            }
        }
        let raw = self.section::<RawProvider>(p, &toml::Value::Table(kept))?;
        // The keys' errors do not stop the values' checks (every error at
        // once); a provider with any error is still not built.
        let key_errors = self.errors.len() > errors_before;
        let errors_before = self.errors.len();
        let provider = self.kind_provider(p, name, kind, &raw, base, errors_before)?;
        (!key_errors).then_some(provider)
    }

    /// The table's kind, or `None` with the errors that say why (a kind
    /// missing or misspelt: every kind listed, and any key no kind takes).
    fn kind_of(&mut self, p: &KeyPath, value: &toml::Value) -> Option<&'static Kind> {
        let (Some(table), Some(written)) = (value.as_table(), value.get("kind")) else {
            match value.as_table() {
                Some(table) => {
                    self.err(&p.key("kind"), format!("missing: one of {}", names()));
                    self.keys_of_no_kind(p, table);
                }
                None => _ = self.section::<RawProvider>(p, value), // "expected a table"
            }
            return None;
        };
        let Some(written) = written.as_str() else {
            self.section::<RawProvider>(p, value); // says what `kind` should be
            return None;
        };
        let kind = find(written);
        if kind.is_none() {
            let mean = closest(written, KINDS.iter().map(|k| k.name))
                .map(|k| format!("; did you mean {k:?}?"))
                .unwrap_or_default();
            let msg = format!("{written:?} is not one of {}{mean}", names());
            self.err(&p.key("kind"), msg);
            self.keys_of_no_kind(p, table);
        }
        kind
    }

    /// Reports each key `kind` does not take; returns each misspelt key with
    /// the key suggested instead (a missing one of those needs no second
    /// error).
    fn unaccepted_keys(
        &mut self,
        p: &KeyPath,
        kind: &Kind,
        validation: Option<&str>,
        table: &toml::Table,
    ) -> Vec<(String, &'static str)> {
        let mut suggested = Vec::new();
        for key in table.keys() {
            let key = key.as_str();
            if kind.jwt_keys.contains(&key) && validation != Some("jwt") {
                self.err(&p.key(key), "only used with validation = \"jwt\"");
                continue;
            }
            if kind.takes_key(key) {
                continue;
            }
            let owners: Vec<String> = KINDS
                .iter()
                .filter(|k| k.takes_key(key))
                .map(|k| format!("{:?}", k.name))
                .collect();
            let msg = if owners.is_empty() {
                match closest(key, kind.all_keys()) {
                    Some(k) => {
                        suggested.push((key.to_owned(), k));
                        format!("not a key of kind = {:?}; did you mean `{k}`?", kind.name)
                    }
                    None => format!("not a key of kind = {:?}; {}", kind.name, kind.takes()),
                }
            } else {
                let why = kind.hint.map(|h| format!(": {h}")).unwrap_or_default();
                let owners = owners.join(", ");
                let takes = kind.takes();
                format!(
                    "not used by kind = {:?}{why} (it is a key of kind = {owners}); {takes}",
                    kind.name
                )
            };
            self.err(&p.key(key), msg);
        }
        suggested
    }

    /// With no usable `kind`, the keys no kind takes are still errors.
    fn keys_of_no_kind(&mut self, p: &KeyPath, table: &toml::Table) {
        for key in table
            .keys()
            .filter(|k| !KINDS.iter().any(|kind| kind.takes_key(k)))
        {
            let every = KINDS.iter().flat_map(Kind::all_keys);
            let mean = closest(key, every)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            self.err(&p.key(key), format!("not a key of any kind{mean}"));
        }
    }
}
