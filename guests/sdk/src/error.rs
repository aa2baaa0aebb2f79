//! What can go wrong in a policy, worded so an operator knows what to do next.

use std::fmt;

use crate::Error;

/// A failed host call, gate or refusal. Converts into the WIT `error` the
/// policy's `run` returns, keeping the message.
#[derive(Debug, thiserror::Error)]
pub enum RotorError {
    /// A host call returned an error; `call` says which call on which object.
    #[error("{call}: {}", describe(.error))]
    Call { call: String, error: Error },
    /// A gate did not pass: the step's effect was not observed in time.
    #[error(transparent)]
    Gate(#[from] GateError),
    /// Going on would break meshed traffic; `items` names what is in the way.
    #[error("{reason}: {}", .items.join(", "))]
    Blocked { reason: String, items: Vec<String> },
    /// The policy configuration is malformed.
    #[error("policy config: {0}")]
    Config(String),
    /// The cluster is in a state the policy cannot safely work from.
    #[error("{0}")]
    State(String),
    /// What went wrong in one cluster of a run over several.
    #[error("cluster {cluster}: {error}")]
    InCluster {
        cluster: String,
        error: Box<RotorError>,
    },
}

/// A gate that did not pass. The message names the gate and what it saw,
/// e.g. "gate bundle-holds-new-anchor: after 300 s ... missing".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gate {gate}: after {waited} s {saw}")]
pub struct GateError {
    pub gate: String,
    /// Seconds between the first check and the failure.
    pub waited: i64,
    /// What the last check saw.
    pub saw: String,
    /// True when the deadline passed; false when the gate saw a failure
    /// (a failed rollout, a skipped reload) and stopped early.
    pub timed_out: bool,
}

/// The WIT error as "kind: message".
pub fn describe(error: &Error) -> String {
    let (kind, message) = match error {
        Error::Denied(m) => ("denied", m),
        Error::NotFound(m) => ("not found", m),
        Error::Conflict(m) => ("conflict", m),
        Error::Invalid(m) => ("invalid", m),
        Error::Timeout(m) => ("timeout", m),
        Error::Unavailable(m) => ("unavailable", m),
        Error::Internal(m) => ("internal", m),
    };
    format!("{kind}: {message}")
}

/// An error of `kind`'s kind saying `message`.
fn same_kind(kind: &Error, message: String) -> Error {
    match kind {
        Error::Denied(_) => Error::Denied(message),
        Error::NotFound(_) => Error::NotFound(message),
        Error::Conflict(_) => Error::Conflict(message),
        Error::Invalid(_) => Error::Invalid(message),
        Error::Timeout(_) => Error::Timeout(message),
        Error::Unavailable(_) => Error::Unavailable(message),
        Error::Internal(_) => Error::Internal(message),
    }
}

impl From<RotorError> for Error {
    fn from(e: RotorError) -> Self {
        let message = e.to_string();
        match e {
            // The inner error's kind, with the cluster in the message.
            RotorError::InCluster { error, .. } => same_kind(&Error::from(*error), message),
            RotorError::Call { error, .. } => same_kind(&error, message),
            RotorError::Gate(g) if g.timed_out => Error::Timeout(message),
            RotorError::Gate(_)
            | RotorError::Blocked { .. }
            | RotorError::Config(_)
            | RotorError::State(_) => Error::Invalid(message),
        }
    }
}

/// Name the call behind a host error: `secrets::read_secret(..).call(|| "read secret x")`.
pub trait CallContext<T> {
    fn call<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T, RotorError>;
}

impl<T> CallContext<T> for Result<T, Error> {
    fn call<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T, RotorError> {
        self.map_err(|error| RotorError::Call {
            call: what().to_string(),
            error,
        })
    }
}

/// True when a host call failed because the object does not exist.
pub fn is_not_found(e: &RotorError) -> bool {
    matches!(
        e,
        RotorError::Call {
            error: Error::NotFound(_),
            ..
        }
    )
}

/// True when a host call failed because the object changed since it was
/// read (409 Conflict).
pub fn is_conflict(e: &RotorError) -> bool {
    matches!(
        e,
        RotorError::Call {
            error: Error::Conflict(_),
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_message_names_gate_and_what_it_saw() {
        let e = RotorError::from(GateError {
            gate: "bundle-holds-new-anchor".into(),
            waited: 300,
            saw: "linkerd/linkerd-identity-trust-roots holds 1 anchor(s), new anchor 3f2a missing"
                .into(),
            timed_out: true,
        });
        assert_eq!(
            e.to_string(),
            "gate bundle-holds-new-anchor: after 300 s linkerd/linkerd-identity-trust-roots \
             holds 1 anchor(s), new anchor 3f2a missing"
        );
        assert!(matches!(Error::from(e), Error::Timeout(_)));
    }

    #[test]
    fn call_context_keeps_the_error_kind() {
        let r: Result<(), Error> = Err(Error::NotFound("secrets \"x\" not found".into()));
        let e = r.call(|| "read secret cert-manager/x").unwrap_err();
        assert!(is_not_found(&e));
        assert_eq!(
            e.to_string(),
            "read secret cert-manager/x: not found: secrets \"x\" not found"
        );
        match Error::from(e) {
            Error::NotFound(m) => assert!(m.starts_with("read secret cert-manager/x")),
            other => panic!("wrong kind: {other:?}"),
        }
    }

    #[test]
    fn blocked_lists_what_is_in_the_way() {
        let e = RotorError::Blocked {
            reason: "old anchor still needed".into(),
            items: vec!["pod default/a".into(), "deployment shop/b (paused)".into()],
        };
        assert_eq!(
            e.to_string(),
            "old anchor still needed: pod default/a, deployment shop/b (paused)"
        );
    }
}
