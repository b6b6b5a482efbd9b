use super::*;
use std::error::Error as _;

#[test]
fn messages_read_as_upstream_prints_them() {
    let api = SyncError::Api(ApiFailure::new(FailureKind::Forbidden, "pods is forbidden"));
    assert_eq!(api.to_string(), "pods is forbidden");
    let wrapped = SyncError::api(
        "unable to delete pods",
        ApiFailure::new(FailureKind::Other, "boom"),
    );
    assert_eq!(wrapped.to_string(), "unable to delete pods: boom");
    assert!(wrapped.source().is_some(), "the cause is kept");
    let many = SyncError::aggregate(vec![api, wrapped]).unwrap();
    assert_eq!(
        many.to_string(),
        "[pods is forbidden, unable to delete pods: boom]"
    );
    let one = SyncError::aggregate(vec![SyncError::Retry("x".into())]).unwrap();
    assert_eq!(one.to_string(), "x");
    assert!(SyncError::aggregate(vec![]).is_none());
}

#[test]
fn conflicts_are_recognised_alone_and_in_aggregates() {
    let conflict = || SyncError::Api(ApiFailure::new(FailureKind::Conflict, "changed"));
    assert!(conflict().is_conflict());
    assert!(SyncError::Many(vec![conflict(), conflict()]).is_conflict());
    assert!(!SyncError::Many(vec![conflict(), SyncError::Retry("x".into())]).is_conflict());
    assert!(!SyncError::Retry("x".into()).is_conflict());
}
