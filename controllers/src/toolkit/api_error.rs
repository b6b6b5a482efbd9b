//! The classes of API failure controllers treat differently (upstream's `apierrors.IsNotFound`,
//! `IsConflict`, `IsAlreadyExists`, `IsForbidden`, `IsInvalid`, `IsMethodNotSupported` and
//! `HasStatusCause(err, v1.NamespaceTerminatingCause)`).
//!
//! An [`ApiFailure`] keeps the status message as Go's `err.Error()` prints it, which is what
//! upstream puts into events and conditions, and the original [`kube::Error`] as its source.

use std::sync::Arc;

/// `v1.NamespaceTerminatingCause`: the namespace is being deleted, so creations fail.
pub const NAMESPACE_TERMINATING_CAUSE: &str = "NamespaceTerminating";

/// What kind of failure an API call met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// 404.
    NotFound,
    /// 409 on an update: the object changed since it was read. Retried quietly.
    Conflict,
    /// 409 on a create: the name is taken.
    AlreadyExists,
    /// A creation refused because the namespace is terminating (a 403 with that cause).
    NamespaceTerminating,
    /// Any other 403: RBAC, admission, quota.
    Forbidden,
    /// 422, e.g. a patch whose UID precondition no longer holds.
    Invalid,
    /// 405: the resource does not serve this verb (the namespace deleter then falls back from
    /// `deletecollection` to listing and deleting item by item).
    MethodNotAllowed,
    /// Anything else: 5xx, transport errors, timeouts.
    Other,
}

/// An API call that failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiFailure {
    pub kind: FailureKind,
    /// The status message, or the transport error's text.
    pub message: String,
    /// The error the client returned; absent for failures built by hand (tests, fakes).
    #[source]
    pub source: Option<Arc<kube::Error>>,
}

impl PartialEq for ApiFailure {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for ApiFailure {}

impl ApiFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn is(&self, kind: FailureKind) -> bool {
        self.kind == kind
    }
}

/// The class of a status returned by the apiserver.
pub fn classify(status: &kube::core::Status) -> FailureKind {
    let terminating = status
        .details
        .iter()
        .flat_map(|d| d.causes.iter())
        .any(|c| c.reason == NAMESPACE_TERMINATING_CAUSE);
    if terminating {
        return FailureKind::NamespaceTerminating;
    }
    match (status.code, status.reason.as_str()) {
        (404, _) | (_, "NotFound") => FailureKind::NotFound,
        (_, "AlreadyExists") => FailureKind::AlreadyExists,
        (409, _) | (_, "Conflict") => FailureKind::Conflict,
        (403, _) | (_, "Forbidden") => FailureKind::Forbidden,
        (422, _) | (_, "Invalid") => FailureKind::Invalid,
        (405, _) | (_, "MethodNotAllowed") => FailureKind::MethodNotAllowed,
        _ => FailureKind::Other,
    }
}

impl From<kube::Error> for ApiFailure {
    fn from(error: kube::Error) -> Self {
        let (kind, message) = match &error {
            kube::Error::Api(status) => {
                let message = if status.message.is_empty() {
                    format!("{} ({})", status.reason, status.code)
                } else {
                    status.message.clone()
                };
                (classify(status), message)
            }
            other => (FailureKind::Other, other.to_string()),
        };
        Self {
            kind,
            message,
            source: Some(Arc::new(error)),
        }
    }
}

#[cfg(test)]
mod tests;
