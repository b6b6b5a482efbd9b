//! Tests of status calculation, the write decision and the availability requeue.

use super::*;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::{
    api::core::v1::{PodCondition, PodStatus},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(pod_labels: &[(&str, &str)], ready_secs_ago: Option<i64>) -> Arc<CachedPod> {
    let pod = Pod {
        metadata: ObjectMeta {
            labels: Some(labels(pod_labels)),
            ..Default::default()
        },
        spec: None,
        status: Some(PodStatus {
            phase: Some("Running".into()),
            conditions: ready_secs_ago.map(|ago| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(now() - SignedDuration::from_secs(ago))),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
    };
    Arc::new(CachedPod::from_pod(&pod).expect("pod decodes"))
}

fn inputs<'a>(
    current: &'a ReplicaStatus,
    active: &'a [Arc<CachedPod>],
    template: &'a BTreeMap<String, String>,
) -> StatusInputs<'a> {
    StatusInputs {
        current,
        desired_replicas: active.len() as i32,
        min_ready_seconds: 0,
        template_labels: Some(template),
        active,
        terminating: Some(0),
        manage_error: None,
        now: now(),
    }
}

#[test]
fn counts_labeled_ready_and_available_pods() {
    let template = labels(&[("app", "web"), ("tier", "fe")]);
    let active = vec![
        pod(&[("app", "web"), ("tier", "fe"), ("extra", "x")], Some(100)),
        pod(&[("app", "web")], Some(5)),
        pod(&[("app", "web"), ("tier", "fe")], None),
    ];
    let current = ReplicaStatus {
        observed_generation: 4,
        ..Default::default()
    };
    let status = calculate_status(&StatusInputs {
        min_ready_seconds: 10,
        terminating: Some(2),
        ..inputs(&current, &active, &template)
    });
    assert_eq!(status.replicas, 3);
    assert_eq!(status.fully_labeled_replicas, 2);
    assert_eq!(status.ready_replicas, 2);
    assert_eq!(
        status.available_replicas, 1,
        "ready 5 s ago is not yet available"
    );
    assert_eq!(status.terminating_replicas, Some(2));
    assert_eq!(status.observed_generation, 4, "set only when writing");
    let rc_status = calculate_status(&StatusInputs {
        terminating: None,
        ..inputs(&current, &active, &template)
    });
    assert_eq!(rc_status.terminating_replicas, None);
    assert_eq!(rc_status.available_replicas, 2, "minReadySeconds 0");
}

#[test]
fn failure_condition_is_added_with_the_reason_of_the_diff() {
    let template = labels(&[("app", "web")]);
    let active = vec![pod(&[("app", "web")], None)];
    let current = ReplicaStatus::default();
    let create_failed = calculate_status(&StatusInputs {
        desired_replicas: 5,
        manage_error: Some("pods \"x\" is forbidden: exceeded quota"),
        ..inputs(&current, &active, &template)
    });
    assert_eq!(
        create_failed.conditions,
        vec![ReplicaCondition {
            type_: REPLICA_FAILURE.into(),
            status: "True".into(),
            reason: Some(FAILED_CREATE.into()),
            message: Some("pods \"x\" is forbidden: exceeded quota".into()),
            last_transition_time: Some(Time(now())),
        }]
    );
    let delete_failed = calculate_status(&StatusInputs {
        desired_replicas: 0,
        manage_error: Some("unable to delete pods: boom"),
        ..inputs(&current, &active, &template)
    });
    assert_eq!(
        delete_failed.conditions[0].reason.as_deref(),
        Some(FAILED_DELETE)
    );
}

#[test]
fn an_existing_failure_condition_is_kept_while_failing_and_removed_on_success() {
    let template = labels(&[("app", "web")]);
    let active = vec![pod(&[("app", "web")], None)];
    let old_condition = ReplicaCondition {
        type_: REPLICA_FAILURE.into(),
        status: "True".into(),
        reason: Some(FAILED_CREATE.into()),
        message: Some("first error".into()),
        last_transition_time: Some(Time(Timestamp::UNIX_EPOCH)),
    };
    let other = ReplicaCondition {
        type_: "Other".into(),
        status: "True".into(),
        ..Default::default()
    };
    let current = ReplicaStatus {
        conditions: vec![other.clone(), old_condition.clone()],
        ..Default::default()
    };
    let still_failing = calculate_status(&StatusInputs {
        desired_replicas: 3,
        manage_error: Some("second error"),
        ..inputs(&current, &active, &template)
    });
    assert_eq!(still_failing.conditions, vec![other.clone(), old_condition]);
    let recovered = calculate_status(&inputs(&current, &active, &template));
    assert_eq!(recovered.conditions, vec![other]);
}

#[test]
fn writes_only_when_something_changed() {
    let template = labels(&[("app", "web")]);
    let active = vec![pod(&[("app", "web")], Some(100))];
    let current = ReplicaStatus {
        replicas: 1,
        fully_labeled_replicas: 1,
        ready_replicas: 1,
        available_replicas: 1,
        terminating_replicas: Some(0),
        observed_generation: 2,
        conditions: vec![],
    };
    let same = calculate_status(&inputs(&current, &active, &template));
    assert!(!needs_update(&current, &same, 2));
    assert!(needs_update(&current, &same, 3), "new generation observed");
    let missing_field = ReplicaStatus {
        terminating_replicas: None,
        ..current.clone()
    };
    assert!(
        needs_update(&missing_field, &same, 2),
        "terminatingReplicas appearing is a change"
    );
    let fewer = calculate_status(&inputs(&current, &[], &template));
    assert!(needs_update(&current, &fewer, 2));
}

#[test]
fn next_check_is_the_earliest_pod_to_become_available() {
    let active = vec![
        pod(&[], Some(2)),  // available in 8 s
        pod(&[], Some(7)),  // available in 3 s
        pod(&[], Some(20)), // already available
        pod(&[], None),     // not ready
    ];
    assert_eq!(
        next_availability_check(&active, 10, now(), now()),
        Some(Duration::from_secs(3))
    );
    // Recomputed at the current time: one second later, two seconds remain.
    assert_eq!(
        next_availability_check(&active, 10, now(), now() + SignedDuration::from_secs(1)),
        Some(Duration::from_secs(2))
    );
    // Already past: requeue immediately.
    assert_eq!(
        next_availability_check(&active, 10, now(), now() + SignedDuration::from_secs(30)),
        Some(Duration::ZERO)
    );
    assert_eq!(next_availability_check(&active, 0, now(), now()), None);
    assert_eq!(
        next_availability_check(&active[2..], 10, now(), now()),
        None
    );
}
