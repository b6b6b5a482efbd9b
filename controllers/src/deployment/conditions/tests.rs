use super::*;
use crate::deployment::testing::at;

#[test]
fn set_keeps_transition_time_for_the_same_status() {
    let mut status = DeploymentStatus::default();
    set(
        &mut status,
        new_condition(PROGRESSING, TRUE, NEW_REPLICA_SET, "a", at(0)),
    );
    set(
        &mut status,
        new_condition(AVAILABLE, FALSE, MINIMUM_REPLICAS_UNAVAILABLE, "b", at(1)),
    );
    // Same status and reason: nothing changes, not even the message.
    set(
        &mut status,
        new_condition(PROGRESSING, TRUE, NEW_REPLICA_SET, "other", at(5)),
    );
    let p = get(&status, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(p.message.as_deref(), Some("a"));
    // New reason, same status: transition time kept, update time new, moved to the end.
    set(
        &mut status,
        new_condition(PROGRESSING, TRUE, REPLICA_SET_UPDATED, "c", at(7)),
    );
    let conditions = status.conditions.clone().unwrap_or_default();
    assert_eq!(
        conditions
            .iter()
            .map(|c| c.type_.as_str())
            .collect::<Vec<_>>(),
        [AVAILABLE, PROGRESSING]
    );
    let p = &conditions[1];
    assert_eq!(p.last_transition_time, Some(api_time(at(0))));
    assert_eq!(p.last_update_time, Some(api_time(at(7))));
    // New status: both times new.
    set(
        &mut status,
        new_condition(PROGRESSING, FALSE, TIMED_OUT, "d", at(9)),
    );
    let p = get(&status, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(p.last_transition_time, Some(api_time(at(9))));
}

#[test]
fn remove_and_copy_from_replica_set() {
    let mut status = DeploymentStatus::default();
    set(
        &mut status,
        new_condition(PROGRESSING, TRUE, NEW_REPLICA_SET, "a", at(0)),
    );
    remove(&mut status, PROGRESSING);
    assert_eq!(status.conditions, None);
    let rs_condition = ReplicaSetCondition {
        type_: REPLICA_FAILURE.into(),
        status: TRUE.into(),
        reason: Some("FailedCreate".into()),
        message: Some("quota".into()),
        last_transition_time: Some(api_time(at(3))),
    };
    let c = from_replica_set(&rs_condition);
    assert_eq!(c.last_update_time, Some(api_time(at(3))));
    assert_eq!(c.reason.as_deref(), Some("FailedCreate"));
}
