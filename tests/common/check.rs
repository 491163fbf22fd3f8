//! `restgate check` as a user runs it: the binary, one config file.

use std::path::Path;
use std::process::Command;

/// What `restgate check` answered.
#[allow(dead_code, reason = "each test uses part of this helper")]
pub struct Checked {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[allow(dead_code, reason = "each test uses part of this helper")]
impl Checked {
    /// stdout then stderr, for a search in either.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The usual triple.
    pub fn parts(self) -> (i32, String, String) {
        (self.code, self.stdout, self.stderr)
    }
}

/// How the environment is set for the run.
#[allow(dead_code, reason = "each test uses part of this helper")]
pub enum Env<'a> {
    /// This process's, without `RESTGATE_CONFIG`, plus these variables.
    Inherit(&'a [(&'a str, &'a str)]),
    /// Only `PATH`, as on a fresh machine.
    Clean,
}

/// `restgate check [args…] --config config`.
#[allow(dead_code, reason = "each test uses part of this helper")]
pub fn run(config: &Path, args: &[&str], env: Env<'_>) -> Checked {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_restgate"));
    cmd.arg("check").args(args).arg("--config").arg(config);
    match env {
        Env::Inherit(vars) => {
            cmd.env_remove("RESTGATE_CONFIG").envs(vars.iter().copied());
        }
        Env::Clean => {
            cmd.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        }
    }
    let out = cmd.output().expect("restgate check runs");
    Checked {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `text` as `dir/name`, `{secret_file}` replaced by a file beside
/// it holding a client secret; returns the path and the text written.
#[allow(dead_code, reason = "each test uses part of this helper")]
pub fn write_config(dir: &Path, name: &str, text: &str) -> (std::path::PathBuf, String) {
    let secret = dir.join("client_secret");
    std::fs::write(&secret, "s3cr3t\n").unwrap();
    let text = text.replace("{secret_file}", &secret.display().to_string());
    let path = dir.join(name);
    std::fs::write(&path, &text).unwrap();
    (path, text)
}
