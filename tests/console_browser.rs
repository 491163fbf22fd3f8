//! The admin console in a real browser: headless Chromium, driven by
//! playwright-core from tests/console/e2e.mjs, against the real gateway
//! served in-process with two fake providers and the recording upstream.
//! The script walks every page (overview, decisions, test a token, test a
//! provider, evict) and takes the screenshots; what only the harness can do
//! (break a provider, send requests through the gateway, count provider
//! calls) it asks for on stdout (`STEP <name>`), and the harness answers
//! `ok` on its stdin once done.
//!
//! Needs Node.js and Debian's `chromium` (`bash .ci/console-deps` installs
//! both the browser and the npm package). Screenshots go to a folder under
//! `target/`; with `RESTGATE_SCREENSHOTS=1` they replace the ones in
//! `docs/console/`.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod npm;
    pub mod setup;
    pub mod upstream;
}

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client::{CLIENT_ID, now};
use common::gateway::TestGateway;
use common::idp::{FakeIdp, Mode};
use common::setup::config;
use common::upstream::RecordingUpstream;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The whole run, browser start included; it takes about 15 s.
const DEADLINE: Duration = Duration::from_secs(90);

const ALICE_TOKEN: &str = "tok-alice-4b7f1e9c2d6a8035";
/// Shown in "test a token": a richer answer, with nested attributes.
const CAROL_TOKEN: &str = "tok-carol-9e2c7a1f5b3d6084";
const DAVE_TOKEN: &str = "tok-dave-1f8a3c6e9b2d4057";
/// No provider knows it.
const BAD_TOKEN: &str = "tok-nobody-6c1e8f3a7d2b9045";
/// Routed to `partner` by its prefix.
const PARTNER_TOKEN: &str = "ptn_5d9b2e7c1a4f8063";

/// A route only bob may use: alice's request there is refused once her
/// identity is known, so the decision names her.
const ROUTE_EXTRA: &str = r#"
[[route]]
path = "/rest/admin"
allow_users = ["bob"]
"#;

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console")
}

/// The node process and everything in its process group, killed on drop:
/// the browser, in a group of its own, exits when its pipe to node closes,
/// and playwright kills it on SIGTERM.
struct Node {
    child: Child,
}

impl Node {
    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal_group("-TERM");
            let until = Instant::now() + Duration::from_secs(3);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // The group may outlive node (a child that ignored SIGTERM).
        self.signal_group("-KILL");
        let _ = self.child.wait();
    }
}

/// The world the script tests: two providers, the upstream, the gateway.
struct World {
    idp: FakeIdp,
    partner: FakeIdp,
    gw: TestGateway,
    _up: RecordingUpstream,
    /// `idp`'s calls when the evict step began.
    calls_before_evict: Option<usize>,
}

impl World {
    async fn start() -> World {
        let idp = FakeIdp::start().await;
        let partner = FakeIdp::start().await;
        let up = RecordingUpstream::start().await;
        idp.add_user(ALICE_TOKEN, "alice");
        idp.add_user(DAVE_TOKEN, "dave");
        idp.add_token(
            CAROL_TOKEN,
            json!({
                "username": "carol", "email": "carol@corp.example", "scope": "read write",
                "client_id": "cli-app", "sub": "sub-carol", "exp": now() + 3600,
                "ext": {"login": "carol.smith"}, "groups": ["jira-users", "jira-admins"],
            }),
        );
        partner.add_user(PARTNER_TOKEN, "erin");
        // `idp` can grant client-credentials tokens ("test a provider");
        // `partner` takes the tokens with its prefix, and has no token endpoint.
        let extra = format!(
            r#"token_endpoint = "{token}"

[providers.partner]
kind = "custom"
validation = "introspection"
introspection_endpoint = "{intro}"
client_id = "{CLIENT_ID}"
client_secret_file = "{{secret_file}}"
token_prefixes = ["ptn_"]
username_attribute = "username"
timeout = "2s"
{ROUTE_EXTRA}"#,
            token = idp.url("/token"),
            intro = partner.url("/introspect"),
        );
        let gw = TestGateway::start(&config(&idp, &up, &extra)).await;
        World {
            idp,
            partner,
            gw,
            _up: up,
            calls_before_evict: None,
        }
    }

    /// A `GET` through the gateway with a Bearer token; its status.
    async fn get(&self, path: &str, token: &str) -> u16 {
        self.gw.bearer(path, token).await.status
    }

    /// Does what the script asked for.
    async fn act(&mut self, step: &str) -> Result<(), String> {
        let expect = |what: &str, got: u16, want: u16| {
            if got == want {
                Ok(())
            } else {
                Err(format!("{what}: status {got}, expected {want}"))
            }
        };
        match step {
            // One accepted request and one refused by a route, both alice's.
            "traffic" => {
                expect(
                    "alice's request",
                    self.get("/rest/api/2/myself", ALICE_TOKEN).await,
                    200,
                )?;
                expect(
                    "alice on bob's route",
                    self.get("/rest/admin/settings", ALICE_TOKEN).await,
                    403,
                )
            }
            // `partner` fails, and a token routed to it finds out.
            "provider-down" => {
                self.partner.set_mode(Mode::Status(500));
                expect(
                    "a partner token while partner fails",
                    self.get("/rest/api/2/myself", PARTNER_TOKEN).await,
                    503,
                )
            }
            // Asked once, then answered from the cache.
            "evict-prepare" => {
                let before = self.idp.calls();
                self.calls_before_evict = Some(before);
                for round in 1..=2 {
                    expect(
                        "dave's request",
                        self.get("/rest/api/2/myself", DAVE_TOKEN).await,
                        200,
                    )?;
                    let calls = self.idp.calls() - before;
                    if calls != 1 {
                        return Err(format!(
                            "after dave's request #{round} the provider was called {calls} times, expected 1"
                        ));
                    }
                }
                Ok(())
            }
            // Evicted from the console: the provider is asked again.
            "evict-check" => {
                let before = self
                    .calls_before_evict
                    .ok_or("evict-check before evict-prepare")?;
                expect(
                    "dave's request after the eviction",
                    self.get("/rest/api/2/myself", DAVE_TOKEN).await,
                    200,
                )?;
                match self.idp.calls() - before {
                    2 => Ok(()),
                    n => Err(format!(
                        "after the eviction the provider was called {n} times in all, expected 2"
                    )),
                }
            }
            other => Err(format!("no such step: {other}")),
        }
    }
}

fn answer(stdin: &mut ChildStdin, line: &str) {
    // The script may be gone already; its exit status says why.
    let _ = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: the console's browser tests need Debian's chromium; \
         run `bash .ci/console-deps` (it installs chromium and the npm package)"
    );
    common::npm::ensure(
        &console_dir(),
        "playwright-core",
        "the console's browser tests",
    );
    let shots = if std::env::var_os("RESTGATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots")
    };
    const SHOTS: [&str; 5] = [
        "overview.png",
        "decisions.png",
        "test-token.png",
        "test-provider.png",
        "evict.png",
    ];
    // None left from an earlier run can pass for this run's.
    for name in SHOTS {
        let _ = std::fs::remove_file(shots.join(name));
    }
    let mut world = World::start().await;
    let started = Instant::now();

    let mut command = Command::new("node");
    command
        .arg("e2e.mjs")
        .current_dir(console_dir())
        .env("ADMIN_URL", format!("http://{}", world.gw.admin))
        .env("GATEWAY_URL", format!("http://{}", world.gw.addr))
        .env("GOOD_TOKEN", CAROL_TOKEN)
        .env("GOOD_USER", "carol")
        .env("BAD_TOKEN", BAD_TOKEN)
        .env("ROUTE_USER", "alice")
        .env("REFUSED_REASON", "user_not_allowed")
        .env("EVICT_USER", "dave")
        .env("SERVICE_ACCOUNT", "svc-rest")
        .env("UP_PROVIDER", "idp")
        .env("DOWN_PROVIDER", "partner")
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so that the guard can end it all.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut node = Node {
        child: command.spawn().expect("node (Node.js) starts"),
    };
    let mut stdin = node.child.stdin.take().unwrap();
    let stdout = node.child.stdout.take().unwrap();
    let stderr = node.child.stderr.take().unwrap();

    // Everything node says, for the failure message; its steps, to act on.
    let output: Arc<Mutex<String>> = Arc::default();
    let (steps, mut step_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let out = output.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match line.strip_prefix("STEP ") {
                Some(step) => {
                    out.lock().unwrap().push_str(&format!("{line}\n"));
                    let _ = steps.send(step.to_owned());
                }
                None => out.lock().unwrap().push_str(&format!("{line}\n")),
            }
        }
    });
    let err = output.clone();
    let stderr_done = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            err.lock().unwrap().push_str(&format!("stderr: {line}\n"));
        }
    });
    let said = || output.lock().unwrap().clone();

    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut failure: Option<String> = None;
    loop {
        match tokio::time::timeout_at(deadline, step_rx.recv()).await {
            Ok(Some(step)) => {
                let t0 = Instant::now();
                let done = world.act(&step).await;
                output.lock().unwrap().push_str(&format!(
                    "# harness: {step} done in {} ms\n",
                    t0.elapsed().as_millis()
                ));
                match done {
                    Ok(()) => answer(&mut stdin, "ok"),
                    Err(why) => {
                        answer(&mut stdin, &format!("fail {why}"));
                        failure.get_or_insert(format!("step {step}: {why}"));
                    }
                }
            }
            // stdout closed: node is exiting.
            Ok(None) => break,
            Err(_) => panic!(
                "the browser test did not finish within {DEADLINE:?}; node said:\n{}",
                said()
            ),
        }
    }
    let status = tokio::task::block_in_place(|| node.child.wait()).expect("node exits");
    let _ = stderr_done.join();
    let elapsed = started.elapsed();
    assert!(
        failure.is_none() && status.success(),
        "the browser test failed ({status}){}; node said:\n{}",
        failure.map(|f| format!(": {f}")).unwrap_or_default(),
        said()
    );
    for name in SHOTS {
        let png = std::fs::read(shots.join(name)).unwrap_or_default();
        assert!(
            png.len() > 1000 && png.starts_with(b"\x89PNG"),
            "{name} was not written as a PNG"
        );
    }
    println!("{}", said());
    println!("browser test: {} ms", elapsed.as_millis());
}
