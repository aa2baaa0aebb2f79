//! `Status` error bodies as the API server writes them: `kind: Status`,
//! `status: Failure`, a machine-readable `reason`, `details` and `code`.

use serde_json::{Value, json};

use crate::cluster::ClusterError;

/// An error answer: HTTP code, reason, message, and what it was about.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub kind: Option<String>,
    pub name: Option<String>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            kind: None,
            name: None,
        }
    }

    pub fn about(mut self, kind: &str, name: &str) -> Self {
        self.kind = Some(kind.to_string());
        self.name = Some(name.to_string());
        self
    }

    pub fn not_found(resource: &str, name: &str) -> Self {
        ApiError::new(404, "NotFound", format!("{resource} {name:?} not found"))
            .about(resource, name)
    }

    pub fn conflict(resource: &str, name: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {resource} {name:?}: the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
        .about(resource, name)
    }

    pub fn already_exists(resource: &str, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{resource} {name:?} already exists"),
        )
        .about(resource, name)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    /// A backend error, in the terms the API server would have used.
    pub fn from_cluster(resource: &str, name: &str, e: ClusterError) -> Self {
        let (code, reason, message) = match e {
            ClusterError::NotFound(m) => (404, "NotFound", m),
            ClusterError::Denied(m) => (403, "Forbidden", m),
            ClusterError::Conflict(m) => (409, "Conflict", m),
            ClusterError::Invalid(m) => (422, "Invalid", m),
            ClusterError::Timeout(m) => (504, "Timeout", m),
            ClusterError::Unavailable(m) => (503, "ServiceUnavailable", m),
            ClusterError::Internal(m) => (500, "InternalError", m),
        };
        ApiError::new(code, reason, message).about(resource, name)
    }

    pub fn body(&self) -> Value {
        let mut details = json!({});
        if let Some(k) = &self.kind {
            details["kind"] = json!(k);
        }
        if let Some(n) = &self.name {
            details["name"] = json!(n);
        }
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": details,
            "code": self.code,
        })
    }
}
