//! cert-manager Certificates through the guard: reads, and renewals behind
//! the `renew` verb; issuers: reads, and pointing a CA issuer at another
//! Secret behind the `set-ca-issuer` verb and `grants.writeIssuers`.

use super::*;

impl Guard {
    pub async fn get_certificate(
        &mut self,
        namespace: &str,
        name: &str,
    ) -> GuardResult<Certificate> {
        self.enter(Primitive::GetCertificate).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.require_read_ns(Primitive::GetCertificate, namespace, "certificates")
            .await?;
        Ok(self.cluster.get_certificate(namespace, name).await?)
    }

    pub async fn list_certificates(
        &mut self,
        namespace: Option<&str>,
    ) -> GuardResult<Vec<Certificate>> {
        self.enter(Primitive::ListCertificates).await?;
        bounded(&[("namespace", namespace.unwrap_or(""))])?;
        if let Some(ns) = namespace {
            self.require_read_ns(Primitive::ListCertificates, ns, "certificates")
                .await?;
        }
        let mut all = Vec::new();
        for ns in self.list_scopes(namespace).await? {
            all.extend(self.cluster.list_certificates(ns.as_deref()).await?);
        }
        Ok(self.filter_readable(all, |c| c.namespace.as_str()))
    }

    pub async fn renew_certificate(&mut self, namespace: &str, name: &str) -> GuardResult<()> {
        self.enter(Primitive::RenewCertificate).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        let target = format!("Certificate {namespace}/{name}");
        self.require_write(Primitive::RenewCertificate, Verb::Renew, namespace, &target)
            .await?;
        if self.dry_run {
            self.cluster.get_certificate(namespace, name).await?;
            self.hold_back(
                Primitive::RenewCertificate,
                target,
                "set Issuing=True (ManuallyTriggered) so cert-manager re-issues".into(),
            )
            .await;
            return Ok(());
        }
        let result = self.cluster.renew_certificate(namespace, name).await;
        self.audit_applied(
            Primitive::RenewCertificate,
            target,
            "manual renewal triggered".into(),
            result,
        )
        .await
    }

    /// An Issuer is read under its namespace's grant. A ClusterIssuer is
    /// cluster-scoped, and the guard reads it as it does every
    /// cluster-scoped object (`Grants::can_read_namespace` of no
    /// namespace): readable whenever `grants.readNamespaces` grants
    /// anything at all.
    pub async fn get_issuer(
        &mut self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> GuardResult<Issuer> {
        self.enter(Primitive::GetIssuer).await?;
        bounded(&[("kind", kind), ("namespace", namespace), ("name", name)])?;
        let issuer = IssuerRef::parse(kind, namespace, name)?;
        let what = match issuer.kind {
            crate::cluster::IssuerKind::Issuer => "issuers",
            crate::cluster::IssuerKind::ClusterIssuer => "cluster issuers",
        };
        self.require_read_ns(Primitive::GetIssuer, &issuer.namespace, what)
            .await?;
        Ok(self.cluster.get_issuer(&issuer).await?)
    }

    /// Point a CA issuer at another Secret: the `set-ca-issuer` verb and
    /// the issuer granted by name in `grants.writeIssuers` (none by
    /// default). The Secret's content is never read here: the key stays
    /// where cert-manager put it.
    pub async fn set_ca_issuer_secret(
        &mut self,
        kind: &str,
        namespace: &str,
        name: &str,
        secret_name: &str,
    ) -> GuardResult<()> {
        let primitive = Primitive::SetCaIssuerSecret;
        self.enter(primitive).await?;
        bounded(&[
            ("kind", kind),
            ("namespace", namespace),
            ("name", name),
            ("secret-name", secret_name),
        ])?;
        let issuer = IssuerRef::parse(kind, namespace, name)?;
        if secret_name.is_empty() {
            return Err(ClusterError::Invalid(format!("{issuer}: secret-name is empty")).into());
        }
        let target = issuer.to_string();
        self.require_verb(primitive, Verb::SetCaIssuer, &target)
            .await?;
        if !self.grants.can_write_issuer(&issuer) {
            let reason =
                format!("changing the CA Secret of {issuer} is not granted (grants.writeIssuers)");
            return Err(self.deny(primitive, target, reason).await);
        }
        let would = format!("set spec.ca.secretName to {secret_name:?}");
        if self.dry_run {
            let current = self.cluster.get_issuer(&issuer).await?;
            let Some(from) = current.ca_secret_name else {
                return Err(ClusterError::Invalid(format!(
                    "{issuer} is not a CA issuer (no spec.ca)"
                ))
                .into());
            };
            self.hold_back(primitive, target, format!("{would} (now {from:?})"))
                .await;
            return Ok(());
        }
        let result = self
            .cluster
            .set_ca_issuer_secret(&issuer, secret_name)
            .await;
        self.audit_applied(primitive, target, would, result).await
    }
}
