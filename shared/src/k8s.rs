//! Small Kubernetes helpers the controllers share: controller references, object references
//! and pod state checks, each mirroring the upstream helper named in its doc.

use k8s_openapi::{
    api::core::v1::{ObjectReference, Pod},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use kube::Resource;

/// The owner reference with `controller: true`, if any (`metav1.GetControllerOf`).
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// A controller reference to `owner`, with `blockOwnerDeletion` set as `metav1.NewControllerRef` does.
pub fn new_controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> Option<OwnerReference> {
    let meta = owner.meta();
    Some(OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// A full object reference (with uid and resourceVersion) for events; `kubectl describe`
/// matches events on the uid.
pub fn object_reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    obj.object_ref(&())
}

/// The pod has a deletion timestamp (`pod.DeletionTimestamp != nil`).
pub fn is_terminating<K: Resource>(obj: &K) -> bool {
    obj.meta().deletion_timestamp.is_some()
}

/// The pod's phase, or "" when unset.
pub fn pod_phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// `controller.IsPodActive`: not Succeeded, not Failed, not being deleted.
pub fn is_pod_active(pod: &Pod) -> bool {
    let phase = pod_phase(pod);
    phase != "Succeeded" && phase != "Failed" && !is_terminating(pod)
}

/// `controller.IsPodTerminating`-style check used for `terminatingReplicas`: being deleted but
/// not yet in a terminal phase.
pub fn is_pod_terminating(pod: &Pod) -> bool {
    let phase = pod_phase(pod);
    is_terminating(pod) && phase != "Succeeded" && phase != "Failed"
}

/// The pod's Ready condition, if reported.
pub fn pod_ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// `podutil.IsPodReady`.
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod_ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// `podutil.IsPodAvailable`: ready for more than `min_ready_seconds` at `now` (upstream
/// requires `lastTransitionTime + minReadySeconds` to be strictly before `now`).
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    let Some(cond) = pod_ready_condition(pod).filter(|c| c.status == "True") else {
        return false;
    };
    if min_ready_seconds <= 0 {
        return true;
    }
    match &cond.last_transition_time {
        Some(t) => t.0 + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)) < now,
        None => false,
    }
}

#[cfg(test)]
mod tests {
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
}
