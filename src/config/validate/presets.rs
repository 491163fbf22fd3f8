//! Building a provider of a preset kind: its defaults and vendor facts
//! (`fill.rs`) filled in where the table is silent, then validated as
//! explicit settings would be, then what the raw keys cannot say adjusted;
//! and the vendor check a preset's `validation = "vendor"` names.

use std::path::Path;

use super::super::locate::KeyPath;
use super::super::provider::*;
use super::super::raw::RawProvider;
use super::cx::Cx;
use super::kinds::Kind;

impl Cx {
    /// The provider of a table whose keys fit its kind: the kind's defaults
    /// and vendor facts filled in where the table is silent, then validated
    /// as explicit settings would be. The fill runs even after an error
    /// (a required key missing), so its checks of the values given are
    /// reported too; then any error since `errors_before` means `None`.
    pub(super) fn kind_provider(
        &mut self,
        p: &KeyPath,
        name: &str,
        kind: &Kind,
        raw: &RawProvider,
        base: &Path,
        errors_before: usize,
    ) -> Option<Provider> {
        let mut filled = raw.clone();
        if filled.validation.is_none() {
            filled.validation = kind.validation.map(str::to_owned);
        }
        if let Some(fill) = kind.fill {
            fill(self, p, &mut filled);
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let mut provider = if kind.discovery {
            self.oidc_provider(p, name, kind.name, &filled, base)?
        } else {
            self.built(p, name, kind.name, &filled, base, kind.require_audience)?
        };
        provider.mapping.client_credentials = kind.cc;
        provider.mapping.client_id_claims = kind.client_claims;
        if let Some(adjust) = kind.adjust {
            adjust(&mut provider, raw);
        }
        provider.issuer = Issuer::of(kind.name, &provider.validation, filled.issuer.as_deref());
        Some(provider)
    }
}

impl Cx {
    /// The vendor check of a preset kind (`validation = "vendor"`).
    pub(super) fn vendor(&mut self, p: &KeyPath, kind: &str, r: &RawProvider) -> Option<Vendor> {
        let url = |cx: &mut Cx, key: &str, v: &Option<String>| {
            v.as_deref().and_then(|u| cx.url(&p.key(key), u))
        };
        Some(match kind {
            "google" => Vendor::Google {
                tokeninfo: url(self, "tokeninfo_endpoint", &r.tokeninfo_endpoint)?,
            },
            "github" => Vendor::Github {
                api_url: url(self, "api_url", &r.api_url)?,
            },
            "gitlab" => {
                let issuer = r
                    .issuer
                    .as_deref()
                    .unwrap_or_default()
                    .trim_end_matches('/')
                    .to_owned();
                let token_info =
                    self.url(&p.key("issuer"), &format!("{issuer}/oauth/token/info"))?;
                let userinfo = match &r.userinfo_endpoint {
                    Some(u) => self.url(&p.key("userinfo_endpoint"), u)?,
                    None => self.url(&p.key("issuer"), &format!("{issuer}/oauth/userinfo"))?,
                };
                Vendor::Gitlab {
                    token_info,
                    userinfo,
                }
            }
            "slack" => Vendor::Slack {
                api_url: url(self, "api_url", &r.api_url)?,
                team_id: r.team_id.clone()?,
            },
            "facebook" => Vendor::Facebook {
                api_url: url(self, "api_url", &r.api_url)?,
            },
            _ => {
                self.err(
                    &p.key("validation"),
                    format!("\"vendor\" is a preset's own check; kind = {kind:?} has none"),
                );
                return None;
            }
        })
    }
}
