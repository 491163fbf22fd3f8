//! `restgate demo`: it starts, every printed `curl` line gives the stated
//! answer (run with the real curl), and it stops cleanly on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn every_printed_curl_line_gives_the_stated_answer_and_ctrl_c_stops_it() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_restgate"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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
        let expect = printed[i + 1]
            .trim_start_matches('#')
            .trim()
            .strip_prefix("expect: HTTP ")
            .expect("an expectation follows");
        let (code, text) = expect.split_once(' ').unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(line)
            .output()
            .expect("curl runs");
        let answer = String::from_utf8_lossy(&out.stdout);
        assert!(
            answer.contains(&format!("HTTP {code}")),
            "{line}\n→ {answer}"
        );
        assert!(answer.contains(text), "{line}\n→ {answer}\nwanted {text}");
        checked += 1;
    }
    assert!(checked >= 6, "the demo prints its examples: {printed:#?}");
    // Ctrl-C.
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        rest.iter().any(|l| l.contains("restgate demo stopped")),
        "{rest:?}"
    );
}
