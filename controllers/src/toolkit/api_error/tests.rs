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
        (405, "MethodNotAllowed", FailureKind::MethodNotAllowed),
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

#[test]
fn method_not_allowed_is_known_by_code_or_reason() {
    // A 405 whose body is not a Status (kube builds one with the code and a generic reason).
    let bare = ApiFailure::from(api_error(
        405,
        "Failed to parse error data",
        "405: Method Not Allowed",
    ));
    assert_eq!(bare.kind, FailureKind::MethodNotAllowed);
    let by_reason = ApiFailure::from(api_error(
        0,
        "MethodNotAllowed",
        "the server does not allow this method",
    ));
    assert_eq!(by_reason.kind, FailureKind::MethodNotAllowed);
}
