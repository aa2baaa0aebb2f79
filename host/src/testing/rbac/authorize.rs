//! The RBAC authorizer over loaded manifests: which rules apply to a
//! ServiceAccount where, whether they allow a request and by which rule
//! units, and what a chart grants in all.

use std::collections::BTreeSet;

use super::manifests::{BindingDoc, Rbac, RoleDoc, Subject};
use super::request::RequestAttributes;
use super::rules::{PolicyRule, RuleUnit, ServiceAccount};

/// A role's rules, where they apply.
struct Grant<'a> {
    role: String,
    rules: &'a [PolicyRule],
}

impl Rbac {
    fn find_role(&self, kind: &str, namespace: &str, name: &str) -> Option<&RoleDoc> {
        self.roles
            .iter()
            .find(|(k, r)| {
                k == kind
                    && r.metadata.name == name
                    && (kind == "ClusterRole" || r.metadata.namespace == namespace)
            })
            .map(|(_, r)| r)
    }

    /// The bindings naming `sa`: whether each is a ClusterRoleBinding, the
    /// binding, its role (`None`: not among the manifests) and `Kind/name`.
    fn bound<'a>(
        &'a self,
        sa: &'a ServiceAccount,
    ) -> impl Iterator<Item = (bool, &'a BindingDoc, Option<&'a RoleDoc>, String)> + 'a {
        self.bindings
            .iter()
            .filter(move |(_, b)| b.subjects.iter().any(|s| names(s, sa)))
            .map(|(kind, b)| {
                let cluster_wide = kind == "ClusterRoleBinding";
                let ns = if cluster_wide {
                    ""
                } else {
                    &b.metadata.namespace
                };
                let role = self.find_role(&b.role_ref.kind, ns, &b.role_ref.name);
                (
                    cluster_wide,
                    b,
                    role,
                    format!("{}/{}", b.role_ref.kind, b.role_ref.name),
                )
            })
    }

    /// The rules that apply to `sa` in `namespace` ("" = cluster-scoped
    /// requests: ClusterRoleBindings only).
    fn grants<'a>(&'a self, sa: &'a ServiceAccount, namespace: &str) -> Vec<Grant<'a>> {
        self.bound(sa)
            .filter(|(cluster_wide, b, _, _)| {
                *cluster_wide || (!namespace.is_empty() && b.metadata.namespace == namespace)
            })
            .filter_map(|(_, _, role, id)| {
                role.map(|r| Grant {
                    role: id,
                    rules: &r.rules,
                })
            })
            .collect()
    }

    /// Whether `sa` may make the request, and by which rule units: empty
    /// means denied.
    pub fn authorize(&self, sa: &ServiceAccount, r: &RequestAttributes) -> BTreeSet<RuleUnit> {
        let mut used = BTreeSet::new();
        for grant in self.grants(sa, &r.namespace) {
            for rule in grant.rules.iter().filter(|rule| rule.allows(r)) {
                let Some(name) = rule.name_entry(r) else {
                    continue;
                };
                for verb in rule.verb_entries(r) {
                    for group in rule.group_entries(r) {
                        for resource in rule.resource_entries(r) {
                            used.insert(RuleUnit {
                                role: grant.role.clone(),
                                verb: verb.clone(),
                                api_group: group.clone(),
                                resource: resource.clone(),
                                resource_name: name.cloned(),
                            });
                        }
                    }
                }
            }
        }
        used
    }

    /// Every rule unit of every role bound to `sa`, anywhere.
    pub fn units(&self, sa: &ServiceAccount) -> BTreeSet<RuleUnit> {
        let mut out = BTreeSet::new();
        for (_, _, role, id) in self.bound(sa) {
            for rule in role.iter().flat_map(|r| &r.rules) {
                let names: Vec<Option<String>> = if rule.resource_names.is_empty() {
                    vec![None]
                } else {
                    rule.resource_names.iter().cloned().map(Some).collect()
                };
                for verb in &rule.verbs {
                    for group in &rule.api_groups {
                        for resource in &rule.resources {
                            for name in &names {
                                out.insert(RuleUnit {
                                    role: id.clone(),
                                    verb: verb.clone(),
                                    api_group: group.clone(),
                                    resource: resource.clone(),
                                    resource_name: name.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Bindings of `sa` whose role is not among the manifests (Kubernetes
    /// grants nothing through them; a chart that renders one has a typo).
    pub fn dangling_bindings(&self, sa: &ServiceAccount) -> Vec<String> {
        self.bound(sa)
            .filter(|(_, _, role, _)| role.is_none())
            .map(|(_, b, _, id)| format!("{}/{} -> {id}", b.metadata.namespace, b.metadata.name))
            .collect()
    }

    /// How many rules (as written) the roles bound to `sa` carry, counted
    /// once per binding.
    pub fn rule_count(&self, sa: &ServiceAccount) -> usize {
        self.bound(sa)
            .filter_map(|(_, _, role, _)| role.map(|r| r.rules.len()))
            .sum()
    }
}

/// Whether a binding's subject is `sa`: by ServiceAccount, by its user
/// name, or by one of the groups every ServiceAccount is in.
fn names(s: &Subject, sa: &ServiceAccount) -> bool {
    match s.kind.as_str() {
        "ServiceAccount" => s.name == sa.name && s.namespace == sa.namespace,
        "User" => s.name == format!("system:serviceaccount:{}:{}", sa.namespace, sa.name),
        "Group" => {
            s.name == "system:serviceaccounts"
                || s.name == "system:authenticated"
                || s.name == format!("system:serviceaccounts:{}", sa.namespace)
        }
        _ => false,
    }
}
