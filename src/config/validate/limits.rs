//! `[limits]` and `server.trusted_proxies`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::super::locate::KeyPath;
use super::super::provider::Provider;
use super::super::raw;
use super::super::types::*;
use super::cx::Cx;

/// Parses `"60/min"`: a whole count per a unit.
fn parse_rate(text: &str) -> Result<Rate, String> {
    let hint = "write it as a count per unit, e.g. \"60/min\", \"10/s\", \"5000/h\"";
    let (count, unit) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not a rate; {hint}"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: {count:?} is not a whole number; {hint}"))?;
    if count == 0 {
        return Err(format!("{text:?}: the count must be at least 1"));
    }
    let per = match unit.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "d" | "day" => Duration::from_secs(86400),
        other => return Err(format!("{text:?}: unknown unit {other:?}; {hint}")),
    };
    Ok(Rate { count, per })
}

impl Cx {
    pub(super) fn limits(
        &mut self,
        raw: &raw::RawLimits,
        providers: &BTreeMap<String, Arc<Provider>>,
    ) -> Limits {
        let p = KeyPath::root("limits");
        let per_client = raw.new_tokens_per_client.as_ref().and_then(|t| {
            parse_rate(t)
                .map_err(|e| self.err(&p.key("new_tokens_per_client"), e))
                .ok()
        });
        let burst = match raw.new_tokens_burst {
            Some(0) => {
                self.err(&p.key("new_tokens_burst"), "must be at least 1");
                1
            }
            Some(n) if n > 1_000_000 => {
                self.err(&p.key("new_tokens_burst"), "must be at most 1000000");
                1
            }
            Some(n) => n as u32,
            None => per_client.map_or(1, |r| r.count.min(20)),
        };
        if raw.new_tokens_burst.is_some() && per_client.is_none() {
            self.err(
                &p.key("new_tokens_burst"),
                "has no effect without new_tokens_per_client",
            );
        }
        let mut ceilings = BTreeMap::new();
        for (name, limit) in raw.providers.iter().flatten() {
            let at = p.key("providers").key(name);
            if !providers.contains_key(name) && !self.declared_providers.contains(name) {
                self.err(&at, format!("no [providers.{name}] table"));
            }
            match &limit.calls {
                None => self.err(&at.key("calls"), "missing: e.g. calls = \"1200/min\""),
                Some(t) => match parse_rate(t) {
                    Ok(r) => {
                        ceilings.insert(name.clone(), r);
                    }
                    Err(e) => self.err(&at.key("calls"), e),
                },
            }
        }
        Limits {
            per_client,
            burst,
            providers: ceilings,
        }
    }

    pub(super) fn trusted_proxies(
        &mut self,
        path: &KeyPath,
        raw: Option<&[String]>,
    ) -> Vec<ipnet::IpNet> {
        let mut out = Vec::new();
        for (i, text) in raw.into_iter().flatten().enumerate() {
            let net = text
                .parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match net {
                Ok(n) => out.push(n.trunc()),
                Err(_) => self.err(
                    &path.index(i),
                    format!(
                        "{text:?} is not an IP address or CIDR (e.g. \"10.0.0.0/8\", \"127.0.0.1\")"
                    ),
                ),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_their_units() {
        assert_eq!(
            parse_rate("60/min").unwrap(),
            Rate {
                count: 60,
                per: Duration::from_secs(60)
            }
        );
        assert_eq!(parse_rate("10/s").unwrap().per, Duration::from_secs(1));
        assert_eq!(parse_rate(" 5000 / h ").unwrap().count, 5000);
        for bad in ["60", "0/min", "x/min", "60/fortnight", "-1/s", "1.5/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_rate("1200/min").unwrap().to_string(), "1200/min");
    }
}
