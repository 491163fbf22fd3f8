//! Differential fuzzer for the fast HTTP/1.1 path (`src/http1/`): the same
//! bytes through a gateway with `server.fast_http1 = true` and one with it
//! `false` (hyper serves every connection and every upstream exchange), each
//! in front of its own scripted upstream.
//!
//! - Request side: arbitrary client byte streams (hostile heads, framing
//!   headers, pipelining, early close); each upstream answers every request
//!   it receives with a well-formed keep-alive 200.
//! - Response side: arbitrary upstream answers to a plain `GET` or `HEAD`.
//!
//! Both must agree on what the upstream received (count, methods, targets,
//! header multisets, bodies, as read by a strict reader of our own) and on
//! what the client got back (status, reason, header multiset, framing,
//! decoded body, how the connection ended), or fail alike. Only values
//! restgate makes per request are normalised (`rig::normalise`).
//!
//! The seed corpus (`tests/fuzz_http1/seeds.rs`) runs first, every time; then
//! `PROPTEST_CASES` random cases (default 400: about a minute with the seeds
//! in a debug build on two cores). A failing case prints itself as a seed
//! entry. Real differences found so far are listed, each with its seeds, in
//! `tests/fuzz_http1/known.rs`: a case is accepted when it agrees once those
//! (and only those) are taken out.
//!
//! `FUZZ_HTTP1_ONLY=<part of a seed name>` runs only those seeds;
//! `FUZZ_HTTP1_SHOW=<part of a seed name>` prints what both did with them.

/// The harness, in tests/fuzz_http1/.
mod fuzz_http1 {
    pub mod answers;
    pub mod case;
    pub mod known;
    pub mod outcome;
    pub mod responses;
    pub mod rig;
    pub mod seeds;
    pub mod strategy;
    pub mod wire;
}

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proptest::test_runner::{Config, TestCaseError, TestRunner};

use fuzz_http1::case::{Case, Pair, report};
use fuzz_http1::{answers, known, seeds};

/// Random cases per run unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 400;

#[test]
fn fast_path_and_hyper_agree() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pair = rt.block_on(Pair::start());
    if !pair.fast.0.fast_http1 {
        eprintln!(
            "RESTGATE_FAST_HTTP1=0 turns the fast path off in both gateways: nothing to compare"
        );
        return;
    }
    let started = Instant::now();

    for k in known::KNOWN {
        eprintln!("known difference {}: {}", k.id, k.what);
    }

    // The corpus: every seed, every run. FUZZ_HTTP1_SHOW=<part of a name>
    // prints what both did with the seeds it names.
    let show = std::env::var("FUZZ_HTTP1_SHOW").ok();
    // FUZZ_HTTP1_ONLY=<part of a name>: only the seeds it names, no random cases.
    let only = std::env::var("FUZZ_HTTP1_ONLY").ok();
    let corpus: Vec<_> = seeds::corpus()
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|o| s.name.contains(o.as_str())))
        .collect();
    let mut failures = Vec::new();
    for seed in &corpus {
        let (fast, hyper) = rt.block_on(pair.run(&seed.case));
        if let Some(show) = &show {
            if seed.name.contains(show.as_str()) {
                eprintln!(
                    "seed {:?}:\n{}",
                    seed.name,
                    report(&seed.case, &fast, &hyper)
                );
            }
        }
        // The known differences this seed is listed under.
        let listed: Vec<&str> = known::KNOWN
            .iter()
            .filter(|k| k.seeds.contains(&seed.name))
            .map(|k| k.id)
            .collect();
        if fast == hyper {
            for k in known::KNOWN
                .iter()
                .filter(|k| !k.racy && listed.contains(&k.id))
            {
                eprintln!(
                    "seed {:?} now agrees: remove it from {} in tests/fuzz_http1/known.rs",
                    seed.name, k.id
                );
            }
            continue;
        }
        match known::agree_modulo_known(&seed.case, &fast, &hyper) {
            None => failures.push(format!(
                "seed {:?} differs:\n{}",
                seed.name,
                report(&seed.case, &fast, &hyper)
            )),
            Some(needed) => {
                // A seed shows only the known differences it is listed under,
                // or timing-dependent ones.
                let unlisted: Vec<&str> = needed
                    .iter()
                    .copied()
                    .filter(|id| !listed.contains(id))
                    .filter(|id| !known::KNOWN.iter().any(|k| k.id == *id && k.racy))
                    .collect();
                if unlisted.is_empty() {
                    eprintln!(
                        "seed {:?} differs by known difference(s) {needed:?}",
                        seed.name
                    );
                } else {
                    failures.push(format!(
                        "seed {:?} differs by known difference(s) {unlisted:?} it is not listed under in known.rs:\n{}",
                        seed.name,
                        report(&seed.case, &fast, &hyper)
                    ));
                }
            }
        }
    }
    eprintln!(
        "fuzz_http1: {} seeds in {:.1?}",
        corpus.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} seed(s) differ between the fast path and hyper:\n\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Random cases.
    let cases = match only {
        Some(_) => 0,
        None => std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_CASES),
    };
    let random = Instant::now();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        // A failure stays well inside CI's three minutes.
        max_shrink_time: 30_000,
        ..Config::default()
    });
    let hits: Mutex<BTreeMap<&str, usize>> = Mutex::default();
    let result = runner.run(&answers::any_case(), |case: Case| {
        let (fast, hyper) = rt.block_on(pair.run(&case));
        if fast == hyper {
            return Ok(());
        }
        match known::agree_modulo_known(&case, &fast, &hyper) {
            Some(needed) => {
                let mut hits = hits.lock().unwrap();
                for id in needed {
                    *hits.entry(id).or_default() += 1;
                }
                Ok(())
            }
            None => Err(TestCaseError::fail(report(&case, &fast, &hyper))),
        }
    });
    eprintln!(
        "fuzz_http1: {cases} random cases in {:.1?} (total {:.1?}); agreeing only modulo known differences: {:?}",
        random.elapsed(),
        started.elapsed(),
        hits.lock().unwrap()
    );
    if let Err(e) = result {
        panic!("the fast path and hyper differ:\n{e}");
    }
    drop(pair);
    rt.shutdown_timeout(Duration::from_secs(1));
}
