use super::*;
use k8s_openapi::{
    api::{
        apps::v1::ReplicaSet,
        core::v1::{PodCondition, PodStatus},
    },
    apimachinery::pkg::apis::meta::v1::Time,
};

fn ready_pod(since: jiff::Timestamp) -> Pod {
    Pod {
        status: Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(since)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn availability_honours_min_ready_seconds() {
    let t0 = jiff::Timestamp::from_second(1_000).expect("ts");
    let pod = ready_pod(t0);
    assert!(is_pod_ready(&pod));
    assert!(is_pod_available(&pod, 0, t0));
    assert!(!is_pod_available(
        &pod,
        10,
        t0 + jiff::SignedDuration::from_secs(9)
    ));
    // Upstream wants the deadline strictly passed.
    assert!(!is_pod_available(
        &pod,
        10,
        t0 + jiff::SignedDuration::from_secs(10)
    ));
    assert!(is_pod_available(
        &pod,
        10,
        t0 + jiff::SignedDuration::from_secs(11)
    ));
}

#[test]
fn controller_ref_blocks_owner_deletion() {
    let mut rs = ReplicaSet::default();
    rs.metadata.name = Some("web".into());
    rs.metadata.uid = Some("u1".into());
    let r = new_controller_ref(&rs).expect("named owner with uid");
    assert_eq!(
        (r.kind.as_str(), r.api_version.as_str()),
        ("ReplicaSet", "apps/v1")
    );
    assert_eq!(
        (r.controller, r.block_owner_deletion),
        (Some(true), Some(true))
    );
    let meta = ObjectMeta {
        owner_references: Some(vec![
            OwnerReference {
                controller: Some(false),
                ..r.clone()
            },
            r,
        ]),
        ..Default::default()
    };
    assert_eq!(controller_of(&meta).map(|r| r.uid.as_str()), Some("u1"));
}

#[test]
fn activity_and_keys() {
    let mut pod = ready_pod(jiff::Timestamp::UNIX_EPOCH);
    pod.metadata.name = Some("p".into());
    pod.metadata.namespace = Some("ns".into());
    assert!(is_pod_active(&pod));
    pod.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
    assert!(!is_pod_active(&pod));
    assert!(is_pod_terminating(&pod));
}
