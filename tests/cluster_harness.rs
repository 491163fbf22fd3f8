//! The Redis harness itself (tests/common/redis.rs): real servers start, stop,
//! restart and form a cluster; the RESP client and dumps see what was written;
//! the relay forwards, cuts and restores. The multi-process tests build on
//! these, so each check here fails when the harness breaks.

mod common {
    pub mod redis;
}

use std::io::ErrorKind;
use std::path::Path;

use common::redis::*;

fn ok() -> RespValue {
    RespValue::Simple("OK".into())
}

fn bulk(b: &[u8]) -> RespValue {
    RespValue::Bulk(Some(b.to_vec()))
}

fn strings(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// Whether a process with this pid still exists (a zombie counts: it was not
/// reaped).
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_server_stores_what_is_written_and_dumps_it_back() {
    let server = RedisServer::start();
    let addr = server.addr();
    assert_eq!(
        server.url(),
        format!("redis://127.0.0.1:{}/0", server.port())
    );
    assert_ne!(server.port(), 6379);
    assert!(alive(server.pid()));

    assert_eq!(command(addr, &[b"SET", b"greeting", b"hello"]), ok());
    assert_eq!(command(addr, &[b"GET", b"greeting"]), bulk(b"hello"));
    assert_eq!(command(addr, &[b"GET", b"missing"]), RespValue::Bulk(None));
    let sadd = command(addr, &[b"SADD", b"colours", b"red", b"green", b"blue"]);
    assert_eq!(sadd, RespValue::Int(3));
    command(addr, &[b"ZADD", b"scores", b"2", b"bob", b"1", b"alice"]);
    command(addr, &[b"HSET", b"user", b"name", b"ann", b"age", b"7"]);
    command(addr, &[b"RPUSH", b"queue", b"x", b"y"]);
    let id = command(addr, &[b"XADD", b"events", b"1-1", b"kind", b"login"]);
    assert_eq!(id, bulk(b"1-1"));
    let wrong = command(addr, &[b"INCR", b"colours"]);
    assert!(matches!(wrong, RespValue::Error(e) if e.starts_with("WRONGTYPE")));

    let want_keys = strings(&["colours", "events", "greeting", "queue", "scores", "user"]);
    assert_eq!(keys(addr), want_keys);
    let dump = dump_all(addr);
    let want = vec![
        (
            b"colours".to_vec(),
            strings(&["set", "blue", "green", "red"]),
        ),
        (
            b"events".to_vec(),
            strings(&["stream", "1-1", "kind", "login"]),
        ),
        (b"greeting".to_vec(), strings(&["string", "hello"])),
        (b"queue".to_vec(), strings(&["list", "x", "y"])),
        (
            b"scores".to_vec(),
            strings(&["zset", "alice", "1", "bob", "2"]),
        ),
        (
            b"user".to_vec(),
            strings(&["hash", "age", "7", "name", "ann"]),
        ),
    ];
    assert_eq!(dump, want);
}

#[test]
fn scan_walks_past_one_page_of_keys() {
    let server = RedisServer::start();
    let mut conn = RespConn::connect(server.addr()).unwrap();
    for i in 0..2500 {
        let key = format!("k{i:04}");
        assert_eq!(conn.call(&[b"SET", key.as_bytes(), b"v"]).unwrap(), ok());
    }
    let all = keys(server.addr());
    assert_eq!(all.len(), 2500);
    assert_eq!(all[0], b"k0000");
    assert_eq!(all[2499], b"k2499");
}

#[test]
fn a_password_is_required_when_set() {
    let server = RedisServer::start_with_password("s3cret");
    let denied = command(server.addr(), &[b"PING"]);
    assert!(matches!(denied, RespValue::Error(e) if e.starts_with("NOAUTH")));
    let mut conn = RespConn::connect(server.addr()).unwrap();
    assert_eq!(conn.call(&[b"AUTH", b"s3cret"]).unwrap(), ok());
    let pong = conn.call(&[b"PING"]).unwrap();
    assert_eq!(pong, RespValue::Simple("PONG".into()));
}

#[test]
fn stop_refuses_connections_and_restart_serves_on_the_same_port() {
    let mut server = RedisServer::start();
    let (port, first) = (server.port(), server.pid());
    assert_eq!(command(server.addr(), &[b"SET", b"k", b"v"]), ok());

    server.stop();
    assert!(
        !alive(first),
        "the stopped server was not killed and reaped"
    );
    let refused = try_command(server.addr(), &[b"PING"]).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    server.stop(); // idempotent

    server.restart();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), first);
    let pong = command(server.addr(), &[b"PING"]);
    assert_eq!(pong, RespValue::Simple("PONG".into()));
    // No persistence: a restarted server comes back empty.
    assert_eq!(
        command(server.addr(), &[b"GET", b"k"]),
        RespValue::Bulk(None)
    );

    // Restarting a running server replaces the process, same port again.
    let second = server.pid();
    server.restart();
    assert_eq!(server.port(), port);
    assert!(!alive(second));
    assert_eq!(command(server.addr(), &[b"SET", b"k", b"w"]), ok());
}

#[test]
fn dropping_a_server_kills_it() {
    let server = RedisServer::start();
    let (pid, addr) = (server.pid(), server.addr());
    drop(server);
    assert!(!alive(pid), "redis-server {pid} outlived its RedisServer");
    let refused = try_command(addr, &[b"PING"]).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn a_relay_forwards_cuts_and_restores() {
    let server = RedisServer::start();
    let relay = Relay::start(server.addr());
    assert_ne!(relay.addr(), server.addr());
    assert_eq!(
        relay.url(),
        format!("redis://127.0.0.1:{}/0", relay.addr().port())
    );
    assert_eq!(relay.connections(), 0);

    let mut through = RespConn::connect(relay.addr()).unwrap();
    assert_eq!(through.call(&[b"SET", b"k", b"via relay"]).unwrap(), ok());
    assert_eq!(command(server.addr(), &[b"GET", b"k"]), bulk(b"via relay"));
    let mut second = RespConn::connect(relay.addr()).unwrap();
    assert_eq!(second.call(&[b"GET", b"k"]).unwrap(), bulk(b"via relay"));
    relay.wait_for_connections(2);

    relay.cut();
    assert_eq!(relay.connections(), 0);
    assert!(
        through.call(&[b"GET", b"k"]).is_err(),
        "a cut connection still works"
    );
    assert!(
        second.call(&[b"GET", b"k"]).is_err(),
        "a cut connection still works"
    );
    // While cut, a new connection is closed at once, and not counted.
    let mut during = RespConn::connect(relay.addr()).unwrap();
    assert!(
        during.call(&[b"PING"]).is_err(),
        "the relay let a client in while cut"
    );
    assert_eq!(relay.connections(), 0);
    // Only the relayed path is cut: the server itself is fine.
    assert_eq!(command(server.addr(), &[b"GET", b"k"]), bulk(b"via relay"));

    relay.restore();
    let mut again = RespConn::connect(relay.addr()).unwrap();
    assert_eq!(again.call(&[b"GET", b"k"]).unwrap(), bulk(b"via relay"));
    relay.wait_for_connections(1);

    // A client that hangs up is no longer counted.
    drop(again);
    relay.wait_for_connections(0);
}

#[test]
fn a_dropped_relay_stops_relaying() {
    let server = RedisServer::start();
    let relay = Relay::start(server.addr());
    let addr = relay.addr();
    let mut conn = RespConn::connect(addr).unwrap();
    assert_eq!(
        conn.call(&[b"PING"]).unwrap(),
        RespValue::Simple("PONG".into())
    );
    drop(relay);
    assert!(
        conn.call(&[b"PING"]).is_err(),
        "an open connection survived the drop"
    );
    // Whether the port now refuses is not asserted: another test may bind
    // the freed ephemeral port at once.
}

#[test]
fn a_cluster_forms_and_its_keys_are_found_on_their_nodes() {
    let cluster = RedisCluster::start();
    let ports = cluster.ports();
    assert_eq!(ports.len(), 3);
    let want_urls: Vec<String> = ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    assert_eq!(cluster.urls(), want_urls);
    let pids: Vec<u32> = cluster.nodes.iter().map(|n| n.pid()).collect();
    for addr in cluster.addrs() {
        let info = command(addr, &[b"CLUSTER", b"INFO"]).into_bytes().unwrap();
        let info = String::from_utf8(info).unwrap();
        assert!(info.contains("cluster_state:ok"), "{addr}:\n{info}");
        assert!(
            info.contains("cluster_slots_assigned:16384"),
            "{addr}:\n{info}"
        );
        assert!(info.contains("cluster_known_nodes:3"), "{addr}:\n{info}");
    }

    // Through redis-cli in cluster mode (it follows MOVED itself).
    let cli = std::process::Command::new("redis-cli")
        .args([
            "-c",
            "-p",
            &ports[0].to_string(),
            "SET",
            "cli-key",
            "cli-value",
        ])
        .output()
        .expect("redis-cli runs");
    assert!(cli.status.success(), "redis-cli: {cli:?}");
    assert_eq!(String::from_utf8_lossy(&cli.stdout).trim(), "OK");

    // Through our client, which follows MOVED to the owning node.
    let names: Vec<String> = (0..30).map(|i| format!("key-{i}")).collect();
    for name in &names {
        assert_eq!(cluster.command(&[b"SET", name.as_bytes(), b"v"]), ok());
        assert_eq!(cluster.command(&[b"GET", name.as_bytes()]), bulk(b"v"));
    }

    let dump = dump_all_cluster(&cluster);
    let mut want = vec![(b"cli-key".to_vec(), strings(&["string", "cli-value"]))];
    want.extend(
        names
            .iter()
            .map(|n| (n.as_bytes().to_vec(), strings(&["string", "v"]))),
    );
    want.sort();
    assert_eq!(dump, want);
    // The keys really are spread: every node holds some, none holds all.
    for addr in cluster.addrs() {
        let n = keys(addr).len();
        assert!(
            n > 0 && n < want.len(),
            "{addr} holds {n} of {} keys",
            want.len()
        );
    }

    drop(cluster);
    for pid in pids {
        assert!(!alive(pid), "cluster node {pid} outlived its RedisCluster");
    }
}
