use super::*;
use k8s_openapi::{
    api::{apps::v1::ReplicaSetSpec, core::v1::ReplicationControllerSpec},
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use std::collections::BTreeMap;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rs_with_selector(selector: LabelSelector) -> ReplicaSet {
    ReplicaSet {
        spec: Some(ReplicaSetSpec {
            selector,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn replicaset_selector_comes_from_the_spec_and_a_missing_spec_selects_nothing() {
    let rs = rs_with_selector(LabelSelector {
        match_labels: Some(labels(&[("app", "web")])),
        match_expressions: None,
    });
    let selector = rs.pod_selector().unwrap();
    assert!(selector.matches_map(Some(&labels(&[("app", "web"), ("tier", "a")]))));
    assert!(!selector.matches_map(Some(&labels(&[("app", "db")]))));
    let nothing = ReplicaSet::default().pod_selector().unwrap();
    assert_eq!(nothing, ObjectSelector::Nothing);
}

#[test]
fn rc_selector_is_a_label_map_and_a_missing_one_matches_nothing() {
    let mut rc = ReplicationController {
        spec: Some(ReplicationControllerSpec {
            selector: Some(labels(&[("name", "test")])),
            ..Default::default()
        }),
        ..Default::default()
    };
    let selector = rc.pod_selector().unwrap();
    assert!(selector.matches_map(Some(&labels(&[("name", "test"), ("x", "y")]))));
    assert!(
        selector.matches_orphan(kcm_shared::meta::Labels::Map(Some(&labels(&[(
            "name", "test"
        )]))))
    );
    assert!(!selector.matches_map(Some(&labels(&[("name", "other")]))));
    rc.spec.as_mut().unwrap().selector = None;
    assert_eq!(rc.pod_selector().unwrap(), ObjectSelector::Nothing);
}

#[test]
fn defaults_follow_the_apiserver() {
    assert_eq!(ReplicaSet::default().desired_replicas(), 1);
    assert_eq!(ReplicationController::default().desired_replicas(), 1);
    assert_eq!(ReplicaSet::default().min_ready_seconds(), 0);
    assert_eq!(
        ReplicaSet::default().replica_status(),
        ReplicaStatus::default()
    );
}

#[test]
fn status_round_trips_and_rc_never_reports_terminating() {
    let status = ReplicaStatus {
        replicas: 3,
        fully_labeled_replicas: 2,
        ready_replicas: 1,
        available_replicas: 1,
        terminating_replicas: Some(4),
        observed_generation: 7,
        conditions: vec![ReplicaCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some("FailedCreate".into()),
            message: Some("quota".into()),
            last_transition_time: None,
        }],
    };
    let rs = ReplicaSet::default().with_replica_status(&status);
    assert_eq!(rs.replica_status(), status);
    let rc = ReplicationController::default().with_replica_status(&status);
    let back = rc.replica_status();
    assert_eq!(back.terminating_replicas, None);
    assert_eq!(
        ReplicaStatus {
            terminating_replicas: Some(4),
            ..back
        },
        status
    );
    // Without conditions the field is left out, as Go's omitempty does.
    let bare = ReplicaSet::default().with_replica_status(&ReplicaStatus::default());
    assert!(bare.status.unwrap().conditions.is_none());
}

#[test]
fn kinds_carry_upstream_identities() {
    assert_eq!(ReplicaSet::names().queue, "replicaset");
    assert_eq!(ReplicationController::names().queue, "replicationmanager");
    assert_eq!(
        ReplicationController::names().event_component,
        Some("replication-controller")
    );
}
