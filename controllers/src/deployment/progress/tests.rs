use super::*;
use crate::deployment::{conditions::*, testing::*};
use k8s_openapi::api::apps::v1::ReplicaSetCondition;

fn with_status(
    mut d: k8s_openapi::api::apps::v1::Deployment,
    status: DeploymentStatus,
) -> k8s_openapi::api::apps::v1::Deployment {
    d.status = Some(status);
    d
}

fn counts(replicas: i32, updated: i32, ready: i32, available: i32) -> DeploymentStatus {
    DeploymentStatus {
        replicas: Some(replicas),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        observed_generation: Some(1),
        ..Default::default()
    }
}

fn progressing(reason: &str, status: &str, updated_at: i64) -> DeploymentStatus {
    let mut s = counts(1, 1, 0, 0);
    conditions::set(
        &mut s,
        new_condition(PROGRESSING, status, reason, "m", at(updated_at)),
    );
    s
}

#[test]
fn complete_rollout_reports_new_replica_set_available() {
    let d = with_status(
        deployment(1, int(1), int(0)),
        progressing(REPLICA_SET_UPDATED, TRUE, 0),
    );
    let new_rs = rs("d-abc", 0, 1, 1);
    let out = rollout_status(&d, counts(1, 1, 1, 1), Some(&new_rs), &[&new_rs], at(10));
    let c = conditions::get(&out, PROGRESSING)
        .cloned()
        .unwrap_or_default();
    assert_eq!(c.reason.as_deref(), Some(NEW_RS_AVAILABLE));
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"d-abc\" has successfully progressed.")
    );
}

#[test]
fn progress_refreshes_update_time_and_keeps_transition_time() {
    let d = with_status(
        deployment(3, int(1), int(0)),
        progressing(NEW_REPLICA_SET, TRUE, 0),
    );
    let new_rs = rs("d-abc", 0, 3, 1);
    let out = rollout_status(&d, counts(3, 3, 1, 1), Some(&new_rs), &[&new_rs], at(10));
    let c = conditions::get(&out, PROGRESSING)
        .cloned()
        .unwrap_or_default();
    assert_eq!(c.reason.as_deref(), Some(REPLICA_SET_UPDATED));
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"d-abc\" is progressing.")
    );
    assert_eq!(c.last_transition_time, Some(api_time(at(0))));
    assert_eq!(c.last_update_time, Some(api_time(at(10))));
}

#[test]
fn deadline_exceeded_without_progress() {
    let mut d = with_status(
        deployment(1, int(1), int(0)),
        progressing(NEW_REPLICA_SET, TRUE, 0),
    );
    if let Some(s) = d.spec.as_mut() {
        s.progress_deadline_seconds = Some(3);
    }
    let new_rs = rs("d-abc", 0, 1, 0);
    let mut same = counts(1, 1, 0, 0);
    same.conditions = d.status.as_ref().and_then(|s| s.conditions.clone());
    // Before the deadline: unchanged, and a re-check is due at the deadline plus a second.
    let out = rollout_status(&d, same.clone(), Some(&new_rs), &[&new_rs], at(2));
    assert_eq!(
        conditions::reason(conditions::get(&out, PROGRESSING).unwrap_or(&Default::default())),
        NEW_REPLICA_SET
    );
    assert_eq!(
        progress_check(&d, &out, at(1)),
        ProgressCheck::After(Duration::from_secs(3))
    );
    assert_eq!(
        progress_check(&d, &out, at(2)),
        ProgressCheck::After(Duration::from_secs(2))
    );
    assert_eq!(progress_check(&d, &out, at(3)), ProgressCheck::Now);
    // After it: exceeded.
    let out = rollout_status(&d, same, Some(&new_rs), &[&new_rs], at(4));
    let c = conditions::get(&out, PROGRESSING)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        (FALSE, Some(TIMED_OUT))
    );
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"d-abc\" has timed out progressing.")
    );
    // Once exceeded, no further checks.
    let d = with_status(d, out.clone());
    assert_eq!(progress_check(&d, &out, at(100)), ProgressCheck::None);
}

#[test]
fn no_deadline_means_no_progressing_condition() {
    let mut d = with_status(
        deployment(1, int(1), int(0)),
        progressing(NEW_REPLICA_SET, TRUE, 0),
    );
    if let Some(s) = d.spec.as_mut() {
        s.progress_deadline_seconds = Some(i32::MAX);
    }
    let new_rs = rs("d-abc", 0, 1, 0);
    let mut calculated = counts(1, 1, 0, 0);
    calculated.conditions = d.status.as_ref().and_then(|s| s.conditions.clone());
    let out = rollout_status(&d, calculated, Some(&new_rs), &[&new_rs], at(1000));
    assert!(conditions::get(&out, PROGRESSING).is_none());
    assert_eq!(progress_check(&d, &out, at(1000)), ProgressCheck::None);
}

#[test]
fn finished_deployment_scaled_up_never_times_out() {
    let mut d = with_status(
        deployment(1, int(1), int(0)),
        progressing(NEW_RS_AVAILABLE, TRUE, 0),
    );
    if let Some(s) = d.spec.as_mut() {
        s.replicas = Some(2);
        s.progress_deadline_seconds = Some(3);
    }
    let new_rs = rs("d-abc", 0, 2, 1);
    let mut calculated = counts(2, 2, 1, 1);
    calculated.conditions = d.status.as_ref().and_then(|s| s.conditions.clone());
    let out = rollout_status(&d, calculated, Some(&new_rs), &[&new_rs], at(1000));
    assert_eq!(
        conditions::reason(conditions::get(&out, PROGRESSING).unwrap_or(&Default::default())),
        NEW_RS_AVAILABLE
    );
}

#[test]
fn replica_failure_is_copied_from_the_new_replica_set_first() {
    let d = with_status(deployment(2, int(1), int(0)), counts(0, 0, 0, 0));
    let failure = |message: &str| ReplicaSetCondition {
        type_: REPLICA_FAILURE.into(),
        status: TRUE.into(),
        reason: Some("FailedCreate".into()),
        message: Some(message.into()),
        last_transition_time: Some(api_time(at(5))),
    };
    let mut old_rs = rs("old", 0, 1, 0);
    let mut new_rs = rs("new", 1, 1, 0);
    if let Some(s) = old_rs.status.as_mut() {
        s.conditions = Some(vec![failure("old quota")]);
    }
    let out = rollout_status(
        &d,
        counts(0, 0, 0, 0),
        Some(&new_rs),
        &[&old_rs, &new_rs],
        at(6),
    );
    let c = conditions::get(&out, REPLICA_FAILURE)
        .cloned()
        .unwrap_or_default();
    assert_eq!(c.message.as_deref(), Some("old quota"));
    if let Some(s) = new_rs.status.as_mut() {
        s.conditions = Some(vec![failure("new quota")]);
    }
    let out = rollout_status(
        &d,
        counts(0, 0, 0, 0),
        Some(&new_rs),
        &[&old_rs, &new_rs],
        at(6),
    );
    let c = conditions::get(&out, REPLICA_FAILURE)
        .cloned()
        .unwrap_or_default();
    assert_eq!(c.message.as_deref(), Some("new quota"));
    assert_eq!(c.last_update_time, Some(api_time(at(5))));
    // Gone from every ReplicaSet: removed.
    let d = with_status(d, out.clone());
    let mut calculated = counts(0, 0, 0, 0);
    calculated.conditions = out.conditions.clone();
    let clean = rs("new", 1, 1, 0);
    let out = rollout_status(&d, calculated, Some(&clean), &[&clean], at(7));
    assert!(conditions::get(&out, REPLICA_FAILURE).is_none());
}
