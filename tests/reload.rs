//! Hot reload on SIGHUP: an invalid file keeps the old config serving; a valid
//! one takes effect without a failed request under load; cached validations
//! survive when their provider did not change.

mod common {
    pub mod client;
    pub mod gateway;
    pub mod idp;
    pub mod setup;
    pub mod spawned;
    pub mod upstream;
}

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::gateway::*;
use common::idp::*;
use common::setup::*;
use common::spawned::*;
use common::upstream::*;

const SCOPED: &str = "\n[[route]]\npath = \"/rest/api/2/myself\"\nrequire_scopes = [\"admin\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_reloads_change_nothing_and_valid_ones_apply_without_failures() {
    let idp = FakeIdp::start().await;
    let up = RecordingUpstream::start().await;
    idp.add_user("tok-reload", "alice");
    let base = config(&idp, &up, "");
    let gw = Spawned::start(&base, "info");
    let get = |addr| async move {
        bearer_to(addr, "/rest/api/2/myself", "tok-reload")
            .await
            .status
    };
    assert_eq!(get(gw.addr).await, 200);
    assert_eq!(idp.calls(), 1);

    // A broken file: refused, the running config keeps serving.
    gw.rewrite_raw("[upstream]\nurl = 42\n");
    gw.sighup();
    gw.wait_for_log("Reload refused", 1).await;
    assert!(
        gw.count_logs("upstream.url") >= 1,
        "the error names the key"
    );
    assert_eq!(get(gw.addr).await, 200);

    // A valid change: the route now needs a scope alice lacks.
    gw.rewrite(&format!("{base}{SCOPED}"));
    gw.sighup();
    gw.wait_for_log("Reloaded the config", 1).await;
    assert_eq!(get(gw.addr).await, 403);
    assert_eq!(
        idp.calls(),
        1,
        "the provider did not change: its cached validation survived"
    );

    // Reloads under concurrent load: every answer is the old or the new config's.
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..6)
        .map(|_| {
            let stop = stop.clone();
            let addr = gw.addr;
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    seen.push(get(addr).await);
                }
                seen
            })
        })
        .collect();
    for (i, text) in [base.clone(), format!("{base}{SCOPED}"), base.clone()]
        .iter()
        .enumerate()
    {
        gw.rewrite(text);
        gw.sighup();
        gw.wait_for_log("Reloaded the config", i + 2).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut total = 0;
    for t in load {
        let seen = t.await.unwrap();
        total += seen.len();
        assert!(seen.iter().all(|s| *s == 200 || *s == 403), "{seen:?}");
    }
    assert!(total > 0);
    assert_eq!(get(gw.addr).await, 200, "the last file has no scoped route");
    let (status, _) = gw.stop();
    assert!(status.success());
}
