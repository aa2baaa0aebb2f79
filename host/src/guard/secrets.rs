//! Secrets and ConfigMaps through the guard: every Secret needs its own
//! grant, values read are taught to the redactor, writes are audited
//! without values. A ConfigMap write needs its own grant by name too: the
//! one a policy may write is the trust roots, and any other is `denied`.

use super::*;

impl Guard {
    pub async fn read_secret(&mut self, namespace: &str, name: &str) -> GuardResult<Secret> {
        self.enter(Primitive::ReadSecret).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        if !self.grants.can_read_secret(namespace, name) {
            let reason =
                format!("reading Secret {namespace}/{name} is not granted (grants.readSecrets)");
            return Err(self
                .deny(
                    Primitive::ReadSecret,
                    format!("Secret {namespace}/{name}"),
                    reason,
                )
                .await);
        }
        let secret = self.cluster.read_secret(namespace, name).await?;
        for (_, value) in &secret.data {
            self.redactor.learn(value);
        }
        Ok(secret)
    }

    pub async fn write_secret(&mut self, secret: SecretWrite) -> GuardResult<String> {
        self.enter(Primitive::WriteSecret).await?;
        bounded(&[
            ("namespace", &secret.namespace),
            ("name", &secret.name),
            ("type", &secret.type_),
        ])?;
        // Learn first: even a refused write must not leak its payload.
        for (_, value) in &secret.data {
            self.redactor.learn(value);
        }
        let target = format!("Secret {}/{}", secret.namespace, secret.name);
        let size: usize = secret.data.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_OBJECT_BYTES {
            return Err(ClusterError::Invalid(format!(
                "{target} would hold {size} bytes; Kubernetes allows at most {MAX_OBJECT_BYTES}"
            ))
            .into());
        }
        self.require_verb(Primitive::WriteSecret, Verb::WriteSecret, &target)
            .await?;
        if !self
            .grants
            .can_write_secret(&secret.namespace, &secret.name)
        {
            let reason = format!(
                "writing Secret {}/{} is not granted (grants.writeSecrets)",
                secret.namespace, secret.name
            );
            return Err(self.deny(Primitive::WriteSecret, target, reason).await);
        }
        let keys: Vec<&str> = secret.data.iter().map(|(k, _)| k.as_str()).collect();
        let summary = format!(
            "type {:?}, keys [{}], {size} bytes of data (values withheld)",
            secret.type_,
            keys.join(", ")
        );
        if self.dry_run {
            self.hold_back(Primitive::WriteSecret, target, format!("write {summary}"))
                .await;
            return Ok(secret
                .expected_resource_version
                .unwrap_or_else(|| "dry-run".to_string()));
        }
        let mut secret = secret;
        let replaced = match self.replace_type(&mut secret).await {
            Ok(replaced) => replaced,
            Err(e) => {
                return self
                    .audit_applied(
                        Primitive::WriteSecret,
                        target,
                        format!("replace {summary}"),
                        Err(e),
                    )
                    .await;
            }
        };
        let result = self.cluster.write_secret(secret).await;
        let detail = match replaced {
            Some(from) => {
                format!("replaced a Secret of type {from:?} (deleted, then created): {summary}")
            }
            None => format!("wrote {summary}"),
        };
        self.audit_applied(Primitive::WriteSecret, target, detail, result)
            .await
    }

    /// Kubernetes refuses to change a Secret's type in place: a write of
    /// another type deletes the stored Secret first (at the expected
    /// resourceVersion, else the one read now) and creates it anew. Returns
    /// the type replaced.
    pub(super) async fn replace_type(
        &self,
        secret: &mut SecretWrite,
    ) -> Result<Option<String>, ClusterError> {
        let wanted = if secret.type_.is_empty() {
            "Opaque"
        } else {
            secret.type_.as_str()
        };
        let current = match self
            .cluster
            .read_secret(&secret.namespace, &secret.name)
            .await
        {
            Ok(current) => current,
            Err(ClusterError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if current.type_ == wanted {
            return Ok(None);
        }
        let version = secret
            .expected_resource_version
            .take()
            .unwrap_or(current.resource_version);
        self.cluster
            .delete_secret(&secret.namespace, &secret.name, &version)
            .await?;
        Ok(Some(current.type_))
    }

    /// Signature check through the backend (see [`Cluster::verify_signed_by`]).
    pub fn verify_signed_by(&self, cert_pem: &str, issuer_pem: &str) -> Result<bool, ClusterError> {
        self.cluster.verify_signed_by(cert_pem, issuer_pem)
    }

    pub async fn read_config_map(&mut self, namespace: &str, name: &str) -> GuardResult<ConfigMap> {
        self.enter(Primitive::ReadConfigMap).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.require_read_ns(Primitive::ReadConfigMap, namespace, "config maps")
            .await?;
        Ok(self.cluster.read_config_map(namespace, name).await?)
    }

    pub async fn write_config_map(&mut self, cm: ConfigMapWrite) -> GuardResult<String> {
        self.enter(Primitive::WriteConfigMap).await?;
        bounded(&[("namespace", &cm.namespace), ("name", &cm.name)])?;
        let target = format!("ConfigMap {}/{}", cm.namespace, cm.name);
        let size: usize = cm.data.iter().map(|kv| kv.key.len() + kv.value.len()).sum();
        if size > MAX_OBJECT_BYTES {
            return Err(ClusterError::Invalid(format!(
                "{target} would hold {size} bytes; Kubernetes allows at most {MAX_OBJECT_BYTES}"
            ))
            .into());
        }
        self.require_verb(Primitive::WriteConfigMap, Verb::WriteConfigMap, &target)
            .await?;
        if !self.grants.can_write_config_map(&cm.namespace, &cm.name) {
            let reason = format!(
                "writing ConfigMap {}/{} is not granted (grants.writeConfigMaps)",
                cm.namespace, cm.name
            );
            return Err(self.deny(Primitive::WriteConfigMap, target, reason).await);
        }
        let keys: Vec<&str> = cm.data.iter().map(|kv| kv.key.as_str()).collect();
        let summary = format!("keys [{}], {size} bytes of data", keys.join(", "));
        if self.dry_run {
            self.hold_back(
                Primitive::WriteConfigMap,
                target,
                format!("write {summary}"),
            )
            .await;
            return Ok(cm
                .expected_resource_version
                .unwrap_or_else(|| "dry-run".to_string()));
        }
        let result = self.cluster.write_config_map(cm).await;
        self.audit_applied(
            Primitive::WriteConfigMap,
            target,
            format!("wrote {summary}"),
            result,
        )
        .await
    }
}
