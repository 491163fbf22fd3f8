//! The Lua scripts: each is one round trip and atomic on its node. Entry and
//! lock share a hash tag, so in a Redis Cluster a script's keys are on one
//! node.

use std::sync::LazyLock;

use fred::types::scripts::Script;

/// KEYS: entry, lock. ARGV: owner, lock life (ms). The entry's sealed value
/// if there is one; else 1 when this caller now holds the lock, 0 when
/// another replica does.
pub static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"local v = redis.call('GET', KEYS[1])
if v then return v end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0",
    )
});

/// KEYS: entry, lock. ARGV: sealed value ('' = none to store), life (ms),
/// owner ('' = no lock held), channel, message. Stores the answer, releases
/// the caller's own lock (never another's), and tells the waiters.
pub static FILL: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1",
    )
});

/// KEYS: a user's index. ARGV: token digest, life (ms). Adds the entry and
/// keeps the index alive as long as its longest entry.
pub static INDEX: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1",
    )
});

/// KEYS: the replicas' set. ARGV: now (ms), replica id. Marks this replica
/// seen, forgets those not seen for 15 s, and counts the rest.
pub static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - 15000)
redis.call('PEXPIRE', KEYS[1], 60000)
return redis.call('ZCARD', KEYS[1])",
    )
});
