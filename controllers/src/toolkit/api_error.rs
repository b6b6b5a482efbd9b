//! The classes of API failure controllers treat differently (upstream's `apierrors.IsNotFound`,
//! `IsConflict`, `IsAlreadyExists`, `IsForbidden`, `IsInvalid` and
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
mod tests {
    use super::*;
    use kube::core::{
        Status,
        response::{StatusCause, StatusDetails},
    };

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status {
            code,
            reason: reason.into(),
            message: message.into(),
            ..Status::failure(message, reason)
        }))
    }

    #[test]
    fn api_errors_are_classified_and_keep_the_status_message() {
        let not_found = ApiFailure::from(api_error(404, "NotFound", "pods \"p\" not found"));
        assert_eq!(
            not_found,
            ApiFailure::new(FailureKind::NotFound, "pods \"p\" not found")
        );
        assert!(std::error::Error::source(&not_found).is_some());
        for (code, reason, kind) in [
            (422, "Invalid", FailureKind::Invalid),
            (409, "Conflict", FailureKind::Conflict),
            (409, "AlreadyExists", FailureKind::AlreadyExists),
            (403, "Forbidden", FailureKind::Forbidden),
            (500, "InternalError", FailureKind::Other),
        ] {
            assert_eq!(ApiFailure::from(api_error(code, reason, "m")).kind, kind);
        }
        let quota = ApiFailure::from(api_error(
            403,
            "Forbidden",
            "pods \"web-x\" is forbidden: exceeded quota: q",
        ));
        assert_eq!(
            quota.to_string(),
            "pods \"web-x\" is forbidden: exceeded quota: q"
        );
        let bare = ApiFailure::from(api_error(500, "InternalError", ""));
        assert_eq!(bare.message, "InternalError (500)");
    }

    #[test]
    fn namespace_terminating_is_recognised_by_its_cause() {
        let mut status = Status::failure("namespace ns is being terminated", "Forbidden");
        status.code = 403;
        status.details = Some(StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: vec![StatusCause {
                reason: NAMESPACE_TERMINATING_CAUSE.into(),
                message: "namespace ns is being terminated".into(),
                field: "metadata.namespace".into(),
            }],
            retry_after_seconds: 0,
        });
        let failure = ApiFailure::from(kube::Error::Api(Box::new(status)));
        assert_eq!(failure.kind, FailureKind::NamespaceTerminating);
    }
}
