//! Secrets as a type: they print as `<redacted>` and are read from the
//! environment or a file, never written inline in a config file.

use std::fmt;
use std::sync::Arc;

/// A secret value (client secret, shared secret, admin token).
///
/// `Debug` and `Display` never show the value; only [`Secret::expose`] does, and it
/// is called exactly where the value goes on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

// === impl Secret ===

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret comes from, for messages (`env RESTGATE_X` / `file /etc/x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file whose content (trailing newline removed) is the secret.
    File(String),
}

impl SecretSource {
    /// Reads the secret now.
    pub fn read(&self) -> Result<Secret, String> {
        match self {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
                Ok(_) => Err(format!("environment variable {name} is empty")),
                Err(_) => Err(format!("environment variable {name} is not set")),
            },
            SecretSource::File(path) => match std::fs::read_to_string(path) {
                Ok(v) => {
                    let v = v.trim_end_matches(['\r', '\n']);
                    if v.is_empty() {
                        Err(format!("secret file {path} is empty"))
                    } else {
                        Ok(Secret::new(v))
                    }
                }
                Err(e) => Err(format!("cannot read secret file {path}: {e}")),
            },
        }
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(n) => write!(f, "env {n}"),
            SecretSource::File(p) => write!(f, "file {p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn empty_secret_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "\n").unwrap();
        let src = SecretSource::File(p.display().to_string());
        assert!(src.read().unwrap_err().contains("empty"));
        std::fs::write(&p, "abc\n").unwrap();
        assert_eq!(src.read().unwrap().expose(), "abc");
    }
}
