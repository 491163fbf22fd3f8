//! Budgets of provider calls counted for the whole cluster: one atomic
//! script per check, on one key each (so any Redis Cluster node can run
//! it), with Redis's own clock so that replicas whose clocks differ agree.
//! Names are keyed digests: no client address or provider name in clear.

use std::sync::LazyLock;
use std::time::Duration;

use fred::prelude::*;
use fred::types::scripts::Script;

use super::tier::Tier;
use crate::config::Rate;

/// The scripts' clock: Redis's own (microseconds), so that replicas whose
/// clocks differ agree.
const NOW: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
";

/// GCRA. KEYS: the client's state. ARGV: emission interval (µs), burst
/// tolerance (µs). 0 when admitted, else the wait in µs.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(format!(
        "{NOW}{}",
        r"local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat - now > tolerance then return tat - now - tolerance end
local new = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1000)
return 0",
    ))
});

/// Sliding-window log. KEYS: the provider's calls. ARGV: window (µs),
/// count, a unique suffix. `{1, left}` when admitted, `{0, wait µs}` when
/// the window is full.
static WINDOW: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(format!(
        "{NOW}{}",
        r"local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now), string.format('%.0f', now) .. '-' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return {1, limit - n - 1}",
    ))
});

impl Tier {
    /// Spends one of a client's new tokens (GCRA at `rate`, `burst` at
    /// once), counted for every replica. `None`: Redis is not usable now
    /// (the caller counts alone); `Some(Err(wait))`: over budget.
    pub async fn spend_client(
        &self,
        client: &[u8],
        rate: Rate,
        burst: u32,
    ) -> Option<Result<(), Duration>> {
        if !self.is_up() {
            return None;
        }
        let interval = (rate.per.as_micros() / u128::from(rate.count.max(1))).max(1);
        let tolerance = interval * u128::from(burst.max(1) - 1);
        let key = self.keys.named("b", &[b"budget client\0", client]);
        let args = vec![
            Value::from(interval.to_string()),
            Value::from(tolerance.to_string()),
        ];
        let answer = self
            .call(GCRA.evalsha_with_reload::<Value, _, _>(&self.link.commands, vec![key], args))
            .await?;
        let wait = answer.as_i64()?;
        Some(if wait <= 0 {
            Ok(())
        } else {
            Err(Duration::from_micros(wait as u64))
        })
    }

    /// Spends one call of a provider's ceiling: at most `rate.count` in any
    /// window of `rate.per`, every replica together. `Some(Ok(left))` when
    /// admitted; `Some(Err(wait))` when full; `None` when Redis is not
    /// usable now.
    pub async fn spend_provider(
        &self,
        provider: &str,
        rate: Rate,
    ) -> Option<Result<u64, Duration>> {
        if !self.is_up() {
            return None;
        }
        let key = self
            .keys
            .named("w", &[b"budget provider\0", provider.as_bytes()]);
        let args = vec![
            Value::from(rate.per.as_micros().to_string()),
            Value::from(rate.count.to_string()),
            Value::from(format!("{:016x}", rand::random::<u64>())),
        ];
        let answer = self
            .call(WINDOW.evalsha_with_reload::<Value, _, _>(&self.link.commands, vec![key], args))
            .await?;
        let Value::Array(pair) = answer else {
            return None;
        };
        let (admitted, n) = (
            pair.first()?.as_i64()?,
            pair.get(1)?.as_i64()?.max(0) as u64,
        );
        Some(if admitted == 1 {
            Ok(n)
        } else {
            Err(Duration::from_micros(n))
        })
    }
}
