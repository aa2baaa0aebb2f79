//! A rule as a Role or ClusterRole writes it, whether it alone allows a
//! request, and the rule units coverage is counted in: the vocabulary the
//! loaded manifests and the authorizer share.

use std::fmt;

use serde::Deserialize;

use super::request::{RequestAttributes, group_label};

/// One rule of a Role or ClusterRole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    pub(super) fn verb_entries<'a>(
        &'a self,
        r: &'a RequestAttributes,
    ) -> impl Iterator<Item = &'a String> {
        self.verbs.iter().filter(|v| *v == "*" || **v == r.verb)
    }

    pub(super) fn group_entries<'a>(
        &'a self,
        r: &'a RequestAttributes,
    ) -> impl Iterator<Item = &'a String> {
        self.api_groups
            .iter()
            .filter(|g| *g == "*" || **g == r.api_group)
    }

    pub(super) fn resource_entries<'a>(
        &'a self,
        r: &'a RequestAttributes,
    ) -> impl Iterator<Item = &'a String> + 'a {
        let full = r.full_resource();
        self.resources.iter().filter(move |res| {
            *res == "*"
                || **res == full
                || (!r.subresource.is_empty() && **res == format!("*/{}", r.subresource))
        })
    }

    /// `Some(None)`: the rule names no objects; `Some(Some(n))`: it names
    /// the request's object; `None`: it names others (or the request none).
    pub(super) fn name_entry<'a>(&'a self, r: &RequestAttributes) -> Option<Option<&'a String>> {
        if self.resource_names.is_empty() {
            return Some(None);
        }
        self.resource_names
            .iter()
            .find(|n| !r.name.is_empty() && **n == r.name)
            .map(Some)
    }

    /// Whether this rule alone allows the request.
    pub fn allows(&self, r: &RequestAttributes) -> bool {
        self.verb_entries(r).next().is_some()
            && self.group_entries(r).next().is_some()
            && self.resource_entries(r).next().is_some()
            && self.name_entry(r).is_some()
    }
}

/// The smallest piece of a rule: one verb on one resource of one group,
/// for one named object (or any). Roles of one kind and name count as one
/// rule set wherever they are rendered: a chart renders them from one
/// template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleUnit {
    /// `ClusterRole/name` or `Role/name`.
    pub role: String,
    pub verb: String,
    pub api_group: String,
    pub resource: String,
    /// `None`: the rule lists no `resourceNames`.
    pub resource_name: Option<String>,
}

impl fmt::Display for RuleUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = group_label(&self.api_group);
        write!(
            f,
            "{}: {} {group} {} {}",
            self.role,
            self.verb,
            self.resource,
            self.resource_name.as_deref().unwrap_or("*")
        )
    }
}

/// A ServiceAccount, the subject whose requests are authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
}
