//! The mark-Failed patch: what upstream's two-way merge of the old and new status contains.

use super::*;

fn pod(phase: &str, conditions: Value) -> CachedPod {
    serde_json::from_value(json!({
        "metadata": { "name": "p", "namespace": "ns", "uid": "uid-p", "generation": 2 },
        "spec": { "nodeName": "n1" },
        "status": { "phase": phase, "conditions": conditions },
    }))
    .unwrap()
}

fn now() -> Timestamp {
    "2026-03-01T10:20:30.75Z".parse().unwrap()
}

#[test]
fn a_running_pod_becomes_failed_with_its_generation_observed() {
    let patch = mark_failed_patch(&pod("Running", json!([])), None, now()).unwrap();
    assert_eq!(
        patch,
        json!({
            "metadata": { "uid": "uid-p" },
            "status": { "phase": "Failed", "observedGeneration": 2 },
        })
    );
}

#[test]
fn pending_unknown_and_phaseless_pods_are_patched_too() {
    for phase in ["Pending", "Unknown", ""] {
        assert!(
            mark_failed_patch(&pod(phase, json!([])), None, now()).is_some(),
            "{phase:?}"
        );
    }
}

#[test]
fn terminal_pods_are_not_patched_even_when_orphaned() {
    for phase in ["Succeeded", "Failed"] {
        assert_eq!(
            mark_failed_patch(&pod(phase, json!([])), Some(NODE_GONE), now()),
            None
        );
    }
}

#[test]
fn orphans_get_the_disruption_target_condition_at_whole_seconds() {
    let patch = mark_failed_patch(&pod("Running", json!([])), Some(NODE_GONE), now()).unwrap();
    assert_eq!(
        patch["status"]["conditions"],
        json!([{
            "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
            "message": "PodGC: node no longer exists", "lastProbeTime": null,
            "lastTransitionTime": "2026-03-01T10:20:30Z", "observedGeneration": 2,
        }])
    );
    assert_eq!(patch["status"]["phase"], "Failed");
}

#[test]
fn a_true_disruption_target_keeps_its_transition_time() {
    let old = json!([{ "type": "DisruptionTarget", "status": "True",
        "reason": "DeletionByTaintManager", "lastTransitionTime": "2026-03-01T09:00:00Z" }]);
    let patch = mark_failed_patch(&pod("Running", old), Some(NODE_GONE), now()).unwrap();
    assert_eq!(
        patch["status"]["conditions"][0]["lastTransitionTime"],
        "2026-03-01T09:00:00Z"
    );
    assert_eq!(
        patch["status"]["conditions"][0]["reason"],
        "DeletionByPodGC"
    );
    let old = json!([{ "type": "DisruptionTarget", "status": "False",
        "lastTransitionTime": "2026-03-01T09:00:00Z" }]);
    let patch = mark_failed_patch(&pod("Running", old), Some(NODE_GONE), now()).unwrap();
    assert_eq!(
        patch["status"]["conditions"][0]["lastTransitionTime"], "2026-03-01T10:20:30Z",
        "a status change moves the time"
    );
}

#[test]
fn a_pod_without_generation_leaves_observed_generation_out() {
    let pod: CachedPod = serde_json::from_value(json!({
        "metadata": { "name": "p", "namespace": "ns", "uid": "u" },
        "status": { "phase": "Running" },
    }))
    .unwrap();
    let patch = mark_failed_patch(&pod, Some(NODE_GONE), now()).unwrap();
    assert_eq!(patch["status"].get("observedGeneration"), None);
    assert_eq!(
        patch["status"]["conditions"][0].get("observedGeneration"),
        None
    );
}
