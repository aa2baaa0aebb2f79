//! Pods through the guard: lists and summaries limited to the readable
//! namespaces, deletions and evictions behind write grants.

use super::*;

impl Guard {
    pub async fn list_pods(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
    ) -> GuardResult<Vec<Pod>> {
        self.enter(Primitive::ListPods).await?;
        self.check_pod_list(Primitive::ListPods, namespace, selector)
            .await?;
        let mut all = Vec::new();
        for ns in self.list_scopes(namespace).await? {
            all.extend(self.cluster.list_pods(ns.as_deref(), selector).await?);
        }
        Ok(self.filter_readable(all, |p| p.namespace.as_str()))
    }

    /// `list-pods` reduced to what gates read (see `PodSummary::of`).
    pub async fn list_pod_summaries(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
        annotations: &[String],
    ) -> GuardResult<Vec<PodSummary>> {
        self.enter(Primitive::ListPodSummaries).await?;
        if annotations.len() > MAX_SUMMARY_ANNOTATIONS {
            return Err(ClusterError::Invalid(format!(
                "list-pod-summaries asks for {} annotations; at most {MAX_SUMMARY_ANNOTATIONS} are accepted",
                annotations.len()
            ))
            .into());
        }
        for key in annotations {
            bounded(&[("annotation key", key)])?;
        }
        self.check_pod_list(Primitive::ListPodSummaries, namespace, selector)
            .await?;
        let mut all = Vec::new();
        for ns in self.list_scopes(namespace).await? {
            all.extend(
                self.cluster
                    .list_pod_summaries(ns.as_deref(), selector, annotations)
                    .await?,
            );
        }
        Ok(self.filter_readable(all, |p| p.namespace.as_str()))
    }

    /// Refuse a pod listing with oversized arguments or in a namespace the
    /// run may not read.
    pub(super) async fn check_pod_list(
        &mut self,
        primitive: Primitive,
        namespace: Option<&str>,
        selector: &str,
    ) -> GuardResult<()> {
        bounded(&[
            ("namespace", namespace.unwrap_or("")),
            ("label-selector", selector),
        ])?;
        if let Some(ns) = namespace {
            self.require_read_ns(primitive, ns, "pods").await?;
        }
        Ok(())
    }

    /// A pod's `/metrics`: the namespace readable and the port granted
    /// (`grants.podMetrics`). A read, so a dry run makes it too.
    pub async fn get_pod_metrics(
        &mut self,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> GuardResult<String> {
        let primitive = Primitive::GetPodMetrics;
        self.enter(primitive).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.require_read_ns(primitive, namespace, "pods").await?;
        if !self.grants.can_read_pod_metrics(namespace, port) {
            let reason = format!(
                "reading metrics on port {port} in namespace {namespace:?} is not granted (grants.podMetrics)"
            );
            return Err(self
                .deny(primitive, format!("Pod {namespace}/{name}:{port}"), reason)
                .await);
        }
        Ok(self.cluster.get_pod_metrics(namespace, name, port).await?)
    }

    pub async fn delete_pod(&mut self, namespace: &str, name: &str) -> GuardResult<()> {
        self.pod_removal(Primitive::DeletePod, Verb::DeletePod, namespace, name)
            .await
    }

    pub async fn evict_pod(&mut self, namespace: &str, name: &str) -> GuardResult<()> {
        self.pod_removal(Primitive::EvictPod, Verb::EvictPod, namespace, name)
            .await
    }

    pub(super) async fn pod_removal(
        &mut self,
        primitive: Primitive,
        verb: Verb,
        namespace: &str,
        name: &str,
    ) -> GuardResult<()> {
        self.enter(primitive).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        let target = format!("Pod {namespace}/{name}");
        self.require_write(primitive, verb, namespace, &target)
            .await?;
        if self.dry_run {
            let pods = self.cluster.list_pods(Some(namespace), "").await?;
            if !pods.iter().any(|p| p.name == name) {
                return Err(ClusterError::NotFound(format!("pod {namespace}/{name}")).into());
            }
            let would = if verb == Verb::EvictPod {
                "evict the pod (PodDisruptionBudgets apply)"
            } else {
                "delete the pod"
            };
            self.hold_back(primitive, target, would.into()).await;
            return Ok(());
        }
        let result = if verb == Verb::EvictPod {
            self.cluster.evict_pod(namespace, name).await
        } else {
            self.cluster.delete_pod(namespace, name).await
        };
        self.audit_applied(
            primitive,
            target,
            primitive.name().replace('-', " "),
            result,
        )
        .await
    }
}
