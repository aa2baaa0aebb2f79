//! cert-manager Certificates and Issuers and trust-manager Bundles, with
//! the Go duration strings cert-manager's specs are written in.

use serde::{Deserialize, Serialize};

use super::{KubeCondition, LabelSelector, Meta};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ObjectName {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateKeySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Bits: the RSA modulus or the ECDSA curve (`sim::keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RenewalSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    pub secret_name: String,
    pub issuer_ref: ObjectName,
    #[serde(default, rename = "isCA")]
    pub is_ca: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PrivateKeySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<RenewalSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<KubeCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CertificateObject {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: CertificateSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CertificateStatus>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuerSpec {
    pub secret_name: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuerSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IssuerObject {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: IssuerSpec,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct KeyRef {
    pub name: String,
    pub key: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<KeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<KeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_line: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_default_c_as: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TargetKey {
    pub key: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<TargetKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct BundleSpec {
    #[serde(default)]
    pub sources: Vec<BundleSource>,
    #[serde(default)]
    pub target: BundleTarget,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct BundleObject {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: BundleSpec,
}

/// Go duration strings as cert-manager takes them (`48h`, `1h30m`, `90s`).
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("duration {s:?}: expected a Go duration such as \"48h\" or \"1h30m\"");
    let mut total: f64 = 0.0;
    let mut num = String::new();
    let mut chars = s.trim().chars().peekable();
    if chars.peek().is_none() {
        return Err(bad());
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            unit = "ms".into();
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total as i64)
}

/// Seconds as a Go duration (`48h0m0s`).
pub fn format_go_duration(secs: i64) -> String {
    format!("{}h{}m{}s", secs / 3600, (secs % 3600) / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("48h").unwrap(), 48 * 3600);
        assert_eq!(parse_go_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_go_duration("2160h0m0s").unwrap(), 2160 * 3600);
        assert_eq!(parse_go_duration("90s").unwrap(), 90);
        assert!(parse_go_duration("48").is_err());
        assert!(parse_go_duration("3d").is_err());
        assert!(parse_go_duration("").is_err());
        assert_eq!(
            parse_go_duration(&format_go_duration(25 * 3600 + 61)).unwrap(),
            25 * 3600 + 61
        );
    }
}
