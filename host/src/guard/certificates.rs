//! cert-manager Certificates through the guard: reads, and renewals behind
//! the `renewCertificates` grant.

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
}
