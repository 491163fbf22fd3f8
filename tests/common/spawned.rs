//! `restgate serve` run as a child process, for what only the binary shows:
//! memory, logs, signals, shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::CLIENT_SECRET;

/// `restgate serve` as a child process, with its stderr collected. The address
/// comes from its "Listening" log line, so the test never guesses or sleeps.
#[allow(dead_code, reason = "each test binary uses part of this fake")]
pub struct Spawned {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// The admin listener, as its "Listening" line names it.
    pub admin: Option<SocketAddr>,
    logs: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

#[allow(dead_code, reason = "each test binary uses part of this fake")]
impl Spawned {
    /// Writes the config (with `{secret_file}` filled in) and starts the binary.
    pub fn start(toml: &str, rust_log: &str) -> Spawned {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("client_secret");
        std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
        let path = dir.path().join("restgate.toml");
        std::fs::write(&path, spawned_config(toml, &secret)).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_restgate"))
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("restgate starts");
        let stderr = child.stderr.take().unwrap();
        let logs: Arc<Mutex<String>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("Listening") {
                    let field = |name: &str| {
                        line.split(name)
                            .nth(1)
                            .and_then(|s| s.split_whitespace().next())
                            .and_then(|a| a.parse::<SocketAddr>().ok())
                    };
                    let _ = tx.send(field(" addr=").map(|a| (a, field(" admin="))));
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let (addr, admin) = rx
            .recv_timeout(Duration::from_secs(30))
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                panic!(
                    "restgate did not report its address; logs:\n{}",
                    logs.lock().unwrap()
                )
            });
        Spawned {
            child,
            addr,
            admin,
            logs,
            reader: Some(reader),
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Replaces the config file (same `{secret_file}` and `[server]` handling).
    pub fn rewrite(&self, toml: &str) {
        let secret = self._dir.path().join("client_secret");
        std::fs::write(
            self._dir.path().join("restgate.toml"),
            spawned_config(toml, &secret),
        )
        .unwrap();
    }

    /// Writes the config file as given, verbatim (to break it).
    pub fn rewrite_raw(&self, text: &str) {
        std::fs::write(self._dir.path().join("restgate.toml"), text).unwrap();
    }

    /// Sends SIGHUP.
    pub fn sighup(&self) {
        let _ = std::process::Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status();
    }

    /// How many log lines contain `needle` so far.
    pub fn count_logs(&self, needle: &str) -> usize {
        self.logs
            .lock()
            .unwrap()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits (up to 10 s) until `count` log lines contain `needle`.
    pub async fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.count_logs(needle) < count {
            assert!(
                std::time::Instant::now() < deadline,
                "no {needle:?} in the logs:\n{}",
                self.logs.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Sends SIGTERM, waits for the exit, and returns the exit status and all logs.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let logs = self.logs.lock().unwrap().clone();
        (status, logs)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawned_config(toml: &str, secret: &Path) -> String {
    let text = toml.replace("{secret_file}", &secret.display().to_string());
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nshutdown_timeout = \"5s\"\n{text}"
    )
}
