//! `restgate demo`: it starts, every printed `curl` line gives the stated
//! answer (run with the real curl), the printed `test-token` and
//! `fetch-token` lines work against it, its admin URL answers, and it stops
//! cleanly on Ctrl-C, removing its files.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The demo process, killed if the test ends before it stops by itself.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs a printed line through the shell; (exit code, stdout).
fn sh(line: &str) -> (Option<i32>, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(line)
        .output()
        .expect("sh runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The expectation printed under a line: `#    expect: <rest>`.
fn expectation(printed: &[String], i: usize) -> &str {
    printed
        .get(i + 1)
        .map(|l| l.trim_start_matches('#').trim())
        .and_then(|l| l.strip_prefix("expect: "))
        .unwrap_or_else(|| panic!("an expectation follows {:?}", printed[i]))
}

#[test]
fn every_printed_line_gives_the_stated_answer_and_ctrl_c_stops_it() {
    assert!(
        Command::new("curl").arg("--version").output().is_ok(),
        "this test runs the demo's curl lines: install curl (apt-get install curl)"
    );
    let mut demo = Demo(
        Command::new(env!("CARGO_BIN_EXE_restgate"))
            .args(["demo", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(demo.0.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("Press Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    // Pairs of a `curl …` line and the `#    expect: HTTP <code> <text>` after it.
    let mut checked = 0;
    for (i, line) in printed.iter().enumerate() {
        if !line.starts_with("curl ") {
            continue;
        }
        let expect = expectation(&printed, i)
            .strip_prefix("HTTP ")
            .expect("an HTTP status is expected");
        let (code, text) = expect.split_once(' ').unwrap();
        let (_, answer) = sh(line);
        assert!(
            answer.contains(&format!("HTTP {code}")),
            "{line}\n→ {answer}"
        );
        assert!(answer.contains(text), "{line}\n→ {answer}\nwanted {text}");
        checked += 1;
    }
    assert!(checked >= 6, "the demo prints its examples: {printed:#?}");

    // The admin's tools, as printed: `<exe> test-token …` / `<exe> fetch-token …`.
    let mut tools = 0;
    for (i, line) in printed.iter().enumerate() {
        if !(line.contains(" test-token --config ") || line.contains(" fetch-token --config ")) {
            continue;
        }
        let expect = expectation(&printed, i)
            .strip_prefix("exit 0 ")
            .expect("exit 0 is expected");
        let (code, out) = sh(line);
        assert_eq!(code, Some(0), "{line}\n→ {out}");
        assert!(out.contains(expect), "{line}\n→ {out}\nwanted {expect}");
        tools += 1;
    }
    assert_eq!(tools, 2, "{printed:#?}");

    // The admin URL answers.
    let admin = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("admin console"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the admin console's URL is printed");
    let (_, console) = sh(&format!("curl -s {admin}"));
    assert!(console.contains("<h1>Overview</h1>"), "{admin} → {console}");
    let (_, status) = sh(&format!("curl -s {admin}status"));
    assert!(status.contains("\"providers\""), "{admin}status → {status}");

    // Its files exist while it runs.
    let config = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("config"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the config file is printed")
        .to_owned();
    assert!(std::path::Path::new(&config).is_file(), "{config}");

    // Ctrl-C.
    let _ = Command::new("kill")
        .args(["-INT", &demo.0.id().to_string()])
        .status();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = demo.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        rest.iter().any(|l| l.contains("restgate demo stopped")),
        "{rest:?}"
    );
    assert!(
        !std::path::Path::new(&config).exists(),
        "the demo removes its files when it stops"
    );
}
