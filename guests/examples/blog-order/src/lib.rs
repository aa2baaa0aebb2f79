//! A fixture, not a policy to use: the "Hands off Linkerd certificate
//! rotation" blog script, step for step. It sleeps instead of gating, renews
//! the issuer before any proxy trusts the new anchor, restarts only
//! Deployments in namespaces annotated `linkerd.io/inject: enabled`, and
//! drops the old anchor at the end. The simulator should report the outage.

use rotor_sdk::certs::{self, Named};
use rotor_sdk::{
    CallContext, Error, KeyValue, Policy, RotorError, Summary, WorkloadKind, clock, namespaces,
    step, workloads,
};

struct BlogOrder;

const ANCHOR: (&str, &str) = ("cert-manager", "linkerd-trust-anchor");
const ISSUER: (&str, &str) = ("linkerd", "linkerd-identity-issuer");
const PREVIOUS: (&str, &str) = ("cert-manager", "linkerd-previous-anchor");

fn sleep(seconds: u32) -> Result<(), RotorError> {
    clock::wait(seconds).call(|| format!("sleep {seconds}"))
}

/// `kubectl rollout restart deploy -n <ns>`: returns how many.
fn restart_deployments(namespace: &str) -> Result<usize, RotorError> {
    let restarted = workloads::restart_workloads(namespace, WorkloadKind::Deployment, "")
        .call(|| format!("restart deployments in {namespace}"))?;
    Ok(restarted.len())
}

fn rotate() -> Result<Summary, RotorError> {
    let anchor = Named::new(ANCHOR.0, ANCHOR.1);
    let issuer = Named::new(ISSUER.0, ISSUER.1);
    step("renew-anchor", || {
        certs::request_renewal(&anchor)?;
        sleep(120)?;
        Ok(((), "cmctl renew, sleep 120".into()))
    })?;
    step("renew-issuer", || {
        certs::request_renewal(&issuer)?;
        sleep(120)?;
        Ok(((), "cmctl renew, sleep 120".into()))
    })?;
    let mut restarted = 0;
    step("restart-control-plane", || {
        let n = restart_deployments("linkerd")? + restart_deployments("linkerd-viz")?;
        restarted += n;
        Ok(((), format!("{n} deployment(s) in linkerd, linkerd-viz")))
    })?;
    step("restart-data-plane", || {
        let all = namespaces::list_namespaces("").call(|| "list namespaces")?;
        let injected: Vec<String> = all
            .into_iter()
            .filter(|ns| {
                ns.annotations
                    .iter()
                    .any(|a| a.key == "linkerd.io/inject" && a.value == "enabled")
            })
            .map(|ns| ns.name)
            .collect();
        let mut n = 0;
        for ns in &injected {
            n += restart_deployments(ns)?;
            sleep(10)?;
        }
        restarted += n;
        Ok((
            (),
            format!("{n} deployment(s) in {} namespace(s)", injected.len()),
        ))
    })?;
    step("remove-old-anchor", || {
        certs::copy_certificate(&anchor, &Named::new(PREVIOUS.0, PREVIOUS.1))?;
        Ok((
            (),
            "copied the anchor's certificate to previous-anchor".into(),
        ))
    })?;
    Ok(Summary {
        message: "blog order finished (no gates were checked)".into(),
        facts: vec![KeyValue {
            key: "restarts".into(),
            value: restarted.to_string(),
        }],
    })
}

impl Policy for BlogOrder {
    fn run(_config: String) -> Result<Summary, Error> {
        rotate().map_err(Error::from)
    }
}

rotor_sdk::export_policy!(BlogOrder);
