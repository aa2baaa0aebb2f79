//! Linkerd's version as its control plane writes it, and what a version
//! says about rotating it: whether the trust-roots ConfigMap rotor works
//! through exists, and whether identity exports the issuer's remaining
//! lifetime as a metric. Shared so that the default policy's preflight and
//! `rotor status` read a version alike. The facts and their sources are in
//! `docs/trust-model.md` ("Linkerd's version").

/// The ConfigMap the chart writes in the control plane's namespace
/// (`charts/linkerd-control-plane/templates/config.yaml`): its `values`
/// key holds the chart's values, `linkerdVersion` among them.
pub const LINKERD_CONFIG: &str = "linkerd-config";
/// The key of [`LINKERD_CONFIG`] holding the chart's values as YAML.
pub const VALUES_KEY: &str = "values";
/// On control-plane objects: `linkerd/helm <version>` or `linkerd/cli
/// <version>` (`partials.annotations.created-by`).
pub const CREATED_BY_ANNOTATION: &str = "linkerd.io/created-by";
/// On every injected pod: the proxy's version (`pkg/inject/inject.go`).
pub const PROXY_VERSION_ANNOTATION: &str = "linkerd.io/proxy-version";

/// The release lines a version string names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// `edge-YY.M.N`: the open-source release line since 2024.
    Edge { year: u32, month: u32, n: u32 },
    /// `stable-2.X.Y` (open source, last 2.14) or `enterprise-2.X.Y`.
    Numbered {
        enterprise: bool,
        minor: u32,
        patch: u32,
    },
    /// Anything else (`dev-…`, a site's own tag): nothing is inferred.
    Unknown,
}

/// A control-plane version and what rotor infers from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkerdVersion {
    pub raw: String,
    pub release: Release,
}

fn numbers<const N: usize>(s: &str) -> Option<[u32; N]> {
    let mut out = [0; N];
    let mut parts = s.split('.');
    for slot in &mut out {
        *slot = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

impl LinkerdVersion {
    pub fn parse(raw: &str) -> LinkerdVersion {
        let raw = raw.trim();
        let release = if let Some(rest) = raw.strip_prefix("edge-") {
            numbers::<3>(rest).map(|[year, month, n]| Release::Edge { year, month, n })
        } else {
            let (enterprise, rest) = match raw.strip_prefix("enterprise-") {
                Some(rest) => (true, Some(rest)),
                None => (false, raw.strip_prefix("stable-")),
            };
            rest.and_then(numbers::<3>)
                .filter(|[major, _, _]| *major == 2)
                .map(|[_, minor, patch]| Release::Numbered {
                    enterprise,
                    minor,
                    patch,
                })
        };
        LinkerdVersion {
            raw: raw.to_string(),
            release: release.unwrap_or(Release::Unknown),
        }
    }

    pub fn is_known(&self) -> bool {
        self.release != Release::Unknown
    }

    /// Whether the control plane reads its trust roots from the
    /// `linkerd-identity-trust-roots` ConfigMap: added by linkerd2 PR 6455
    /// (July 2021, first stable release 2.11). `None` for the edge releases
    /// of July and August 2021, which the sources do not settle.
    pub fn has_trust_roots_config_map(&self) -> Option<bool> {
        match self.release {
            Release::Edge { year, month, .. } if (year, month) < (21, 7) => Some(false),
            Release::Edge { year, month, .. } if (year, month) < (21, 9) => None,
            Release::Edge { .. } => Some(true),
            Release::Numbered { minor, .. } => Some(minor >= 11),
            Release::Unknown => None,
        }
    }

    /// Whether identity exports `issuer_cert_ttl_seconds`: since
    /// edge-25.2.1. The open-source stable line ended with 2.14, before it;
    /// enterprise releases are not settled by the sources.
    pub fn has_issuer_ttl_metric(&self) -> Option<bool> {
        match self.release {
            Release::Edge { year, month, n } => Some((year, month, n) >= (25, 2, 1)),
            Release::Numbered {
                enterprise: false,
                minor,
                ..
            } if minor <= 14 => Some(false),
            _ => None,
        }
    }

    /// Why rotor will not rotate this control plane, when it knows it
    /// cannot: one line.
    pub fn refusal(&self) -> Option<String> {
        (self.has_trust_roots_config_map() == Some(false)).then(|| {
            format!(
                "Linkerd {} predates the trust-roots ConfigMap linkerd-identity-trust-roots \
                 (Linkerd 2.11): its proxies and identity take their roots from install-time \
                 values, which rotor does not rotate; upgrade Linkerd first",
                self.raw
            )
        })
    }
}

/// The top-level `linkerdVersion` of the chart's values as `linkerd-config`
/// holds them (YAML written by Helm's `toYaml`: top-level keys unindented).
pub fn from_values(values: &str) -> Option<String> {
    values.lines().find_map(|line| {
        let v = line.strip_prefix("linkerdVersion:")?.trim();
        let v = v.trim_matches(|c| c == '"' || c == '\'');
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// Linkerd's default leaf lifetime (`identity.issuer.issuanceLifetime`,
/// `24h0m0s` in `charts/linkerd-control-plane/values.yaml`).
pub const DEFAULT_ISSUANCE_LIFETIME_SECONDS: i64 = 24 * 3600;

/// `identity.issuer.issuanceLifetime` of the chart's values as
/// `linkerd-config` holds them: the one key of that name in Linkerd's
/// values, a Go duration. `None`: absent; `Some(Err)`: not a duration.
pub fn issuance_lifetime(values: &str) -> Option<Result<i64, String>> {
    values.lines().find_map(|line| {
        let v = line.trim_start().strip_prefix("issuanceLifetime:")?.trim();
        let v = v.trim_matches(|c| c == '"' || c == '\'');
        Some(
            go_duration_seconds(v)
                .ok_or_else(|| format!("issuanceLifetime {v:?} is not a duration")),
        )
    })
}

/// Whole seconds of a Go duration made of hours, minutes and seconds
/// (`24h0m0s`, `90m`, `1.5h`), as `time.Duration.String` writes them;
/// sub-second parts are dropped.
pub fn go_duration_seconds(text: &str) -> Option<i64> {
    let mut total = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit..];
    }
    Some(total.floor() as i64)
}

/// The version in a `linkerd.io/created-by` value (`linkerd/helm
/// edge-25.12.1`): its last word.
pub fn from_created_by(value: &str) -> Option<String> {
    let mut words = value.split_whitespace();
    let first = words.next()?;
    Some(words.last().unwrap_or(first).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leaf_lifetime_is_read_as_linkerd_writes_it() {
        let values = "identity:\n  issuer:\n    issuanceLifetime: 24h0m0s\n    scheme: kubernetes.io/tls\nlinkerdVersion: edge-25.12.1\n";
        assert_eq!(issuance_lifetime(values), Some(Ok(86_400)));
        assert_eq!(issuance_lifetime("linkerdVersion: edge-25.12.1\n"), None);
        assert_eq!(go_duration_seconds("1h30m"), Some(5_400));
        assert_eq!(go_duration_seconds("1.5h"), Some(5_400));
        assert_eq!(go_duration_seconds("90s500ms"), Some(90));
        assert!(issuance_lifetime("    issuanceLifetime: one day\n").is_some_and(|r| r.is_err()));
        assert_eq!(go_duration_seconds(""), None);
        assert_eq!(go_duration_seconds("10"), None);
    }

    #[test]
    fn edge_stable_and_enterprise_parse_others_are_unknown() {
        assert_eq!(
            LinkerdVersion::parse("edge-25.12.1").release,
            Release::Edge {
                year: 25,
                month: 12,
                n: 1
            }
        );
        assert_eq!(
            LinkerdVersion::parse("stable-2.10.2").release,
            Release::Numbered {
                enterprise: false,
                minor: 10,
                patch: 2
            }
        );
        assert!(LinkerdVersion::parse("enterprise-2.18.3").is_known());
        for raw in [
            "dev-abc123",
            "edge-25.12",
            "stable-3.1.0",
            "",
            "edge-25.x.1",
        ] {
            assert!(!LinkerdVersion::parse(raw).is_known(), "{raw}");
        }
    }

    #[test]
    fn versions_before_the_trust_roots_config_map_are_refused() {
        let refused = |v: &str| LinkerdVersion::parse(v).refusal();
        assert!(
            refused("stable-2.10.2")
                .unwrap()
                .contains("Linkerd stable-2.10.2 predates")
        );
        assert!(refused("edge-21.6.5").is_some());
        for ok in [
            "stable-2.11.0",
            "edge-21.8.1",
            "edge-25.12.1",
            "dev-1",
            "enterprise-2.18.0",
        ] {
            assert_eq!(refused(ok), None, "{ok}");
        }
    }

    #[test]
    fn the_issuer_ttl_metric_arrived_in_edge_25_2_1() {
        let metric = |v: &str| LinkerdVersion::parse(v).has_issuer_ttl_metric();
        assert_eq!(metric("edge-25.2.1"), Some(true));
        assert_eq!(metric("edge-25.1.2"), Some(false));
        assert_eq!(metric("stable-2.14.10"), Some(false));
        assert_eq!(metric("enterprise-2.18.0"), None);
        assert_eq!(metric("mine"), None);
    }

    #[test]
    fn the_version_is_read_from_values_or_the_created_by_annotation() {
        let values = "identityTrustDomain: cluster.local\nlinkerdVersion: edge-25.12.1\nproxy:\n  image:\n    version: \"\"\n";
        assert_eq!(from_values(values).as_deref(), Some("edge-25.12.1"));
        assert_eq!(from_values("proxy:\n  linkerdVersion: x\n"), None);
        assert_eq!(
            from_created_by("linkerd/helm edge-25.12.1").as_deref(),
            Some("edge-25.12.1")
        );
        assert_eq!(from_created_by("  "), None);
    }
}
