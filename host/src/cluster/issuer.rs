//! cert-manager issuers as the contract names them: a kind string
//! ("Issuer" or "ClusterIssuer"), a namespace a ClusterIssuer ignores, and
//! a name; parsed once, by the guard, before any backend sees them.

use std::fmt;

use super::{ClusterError, ClusterResult};

/// An Issuer (namespaced) or a ClusterIssuer (cluster-scoped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerKind {
    Issuer,
    ClusterIssuer,
}

impl IssuerKind {
    /// The Kubernetes `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerKind::Issuer => "Issuer",
            IssuerKind::ClusterIssuer => "ClusterIssuer",
        }
    }

    /// The resource's plural in `cert-manager.io/v1`.
    pub fn plural(self) -> &'static str {
        match self {
            IssuerKind::Issuer => "issuers",
            IssuerKind::ClusterIssuer => "clusterissuers",
        }
    }

    pub fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "Issuer" => Some(IssuerKind::Issuer),
            "ClusterIssuer" => Some(IssuerKind::ClusterIssuer),
            _ => None,
        }
    }
}

/// One issuer. Its display, `ClusterIssuer/<name>` or
/// `Issuer/<namespace>/<name>`, is what `grants.writeIssuers` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRef {
    pub kind: IssuerKind,
    /// Empty for a ClusterIssuer.
    pub namespace: String,
    pub name: String,
}

impl IssuerRef {
    /// The issuer a policy named: `invalid` for another kind, a missing
    /// name, or an Issuer without a namespace; a ClusterIssuer's namespace
    /// is dropped.
    pub fn parse(kind: &str, namespace: &str, name: &str) -> ClusterResult<Self> {
        let kind = IssuerKind::from_kind(kind).ok_or_else(|| {
            ClusterError::Invalid(format!(
                "issuer kind {kind:?} is neither \"Issuer\" nor \"ClusterIssuer\""
            ))
        })?;
        if name.is_empty() {
            return Err(ClusterError::Invalid(format!(
                "{} name is empty",
                kind.as_str()
            )));
        }
        let namespace = match kind {
            IssuerKind::ClusterIssuer => String::new(),
            IssuerKind::Issuer if namespace.is_empty() => {
                return Err(ClusterError::Invalid(format!(
                    "Issuer {name:?} needs a namespace (a cluster-scoped one is kind \"ClusterIssuer\")"
                )));
            }
            IssuerKind::Issuer => namespace.to_string(),
        };
        Ok(IssuerRef {
            kind,
            namespace,
            name: name.to_string(),
        })
    }

    pub fn cluster(name: &str) -> Self {
        IssuerRef {
            kind: IssuerKind::ClusterIssuer,
            namespace: String::new(),
            name: name.to_string(),
        }
    }

    pub fn namespaced(namespace: &str, name: &str) -> Self {
        IssuerRef {
            kind: IssuerKind::Issuer,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// The namespace of an Issuer; `None` for a ClusterIssuer.
    pub fn namespace(&self) -> Option<&str> {
        match self.kind {
            IssuerKind::Issuer => Some(&self.namespace),
            IssuerKind::ClusterIssuer => None,
        }
    }
}

impl fmt::Display for IssuerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            IssuerKind::Issuer => write!(f, "Issuer/{}/{}", self.namespace, self.name),
            IssuerKind::ClusterIssuer => write!(f, "ClusterIssuer/{}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_namespaces_and_names_are_checked() {
        let c = IssuerRef::parse("ClusterIssuer", "ignored", "ca").expect("valid");
        assert_eq!(
            (c.to_string(), c.namespace()),
            ("ClusterIssuer/ca".into(), None)
        );
        let i = IssuerRef::parse("Issuer", "linkerd", "ca").expect("valid");
        assert_eq!(i.to_string(), "Issuer/linkerd/ca");
        assert_eq!(i.namespace(), Some("linkerd"));
        for (kind, ns, name, why) in [
            ("issuer", "linkerd", "ca", "neither"),
            ("Issuer", "", "ca", "needs a namespace"),
            ("ClusterIssuer", "", "", "name is empty"),
        ] {
            let err = IssuerRef::parse(kind, ns, name).expect_err("invalid");
            assert!(
                matches!(&err, ClusterError::Invalid(m) if m.contains(why)),
                "{err}"
            );
        }
    }
}
