//! The passes' choices, with upstream's `TestGCTerminated`, `TestGCOrphaned`,
//! `TestGCUnscheduledTerminating` and `TestGCTerminating` cases where they apply.

use super::*;
use serde_json::{Value, json};

/// A cached pod from its JSON; `created` counts hours after the epoch.
fn pod(name: &str, node: &str, phase: &str, created: i64) -> Value {
    json!({
        "metadata": { "name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "creationTimestamp": jiff::Timestamp::from_second(created * 3600).unwrap().to_string() },
        "spec": { "nodeName": node },
        "status": { "phase": phase },
    })
}

fn cached(v: Value) -> Arc<CachedPod> {
    Arc::new(serde_json::from_value(v).unwrap())
}

fn deleting(mut v: Value) -> Value {
    v["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    v
}

fn evicted(mut v: Value) -> Value {
    v["status"]["reason"] = json!("Evicted");
    v
}

fn names(pods: &[Arc<CachedPod>]) -> Vec<&str> {
    pods.iter().map(|p| &*p.name).collect()
}

/// Pods `(name, phase)` created an hour apart in list order, as upstream's table test does.
fn hourly(specs: &[(&str, &str)]) -> Vec<Arc<CachedPod>> {
    specs
        .iter()
        .enumerate()
        .map(|(i, (name, phase))| {
            let created = i64::try_from(i).unwrap() + 1;
            cached(pod(name, "node", phase, created))
        })
        .collect()
}

#[test]
fn terminated_pods_beyond_the_threshold_go_oldest_first() {
    let pods = hourly(&[("a", "Failed"), ("b", "Succeeded"), ("c", "Failed")]);
    assert_eq!(names(&terminated_over_threshold(&pods, 1)), ["a", "b"]);
    let pods = hourly(&[("a", "Failed"), ("b", "Succeeded")]);
    assert_eq!(names(&terminated_over_threshold(&pods, 1)), ["a"]);
    assert!(terminated_over_threshold(&pods, 5).is_empty());
    assert!(
        terminated_over_threshold(&pods, 2).is_empty(),
        "at the threshold"
    );
}

#[test]
fn a_threshold_of_zero_or_less_turns_the_pass_off() {
    let pods = hourly(&[("a", "Failed"), ("b", "Succeeded")]);
    assert!(terminated_over_threshold(&pods, 0).is_empty());
    assert!(terminated_over_threshold(&pods, -1).is_empty());
}

#[test]
fn non_terminal_pods_are_not_counted() {
    let pods = hourly(&[
        ("a", "Running"),
        ("b", "Succeeded"),
        ("c", "Failed"),
        ("d", "Pending"),
        ("e", "Unknown"),
    ]);
    assert_eq!(names(&terminated_over_threshold(&pods, 1)), ["b"]);
}

#[test]
fn an_empty_phase_counts_as_terminated() {
    let pods = hourly(&[("a", ""), ("b", "Succeeded")]);
    assert_eq!(names(&terminated_over_threshold(&pods, 1)), ["a"]);
}

#[test]
fn evicted_pods_go_first_whatever_their_age() {
    let mut pods = hourly(&[("a", "Failed"), ("b", "Succeeded")]);
    pods.push(cached(evicted(pod("c", "node", "Failed", 3))));
    assert_eq!(names(&terminated_over_threshold(&pods, 1)), ["c", "a"]);
    let mut pods = hourly(&[("a", "Running"), ("b", "Succeeded")]);
    pods.push(cached(evicted(pod("c", "node", "Failed", 3))));
    assert_eq!(names(&terminated_over_threshold(&pods, 1)), ["c"]);
    // "Evicted" on a Succeeded pod is not an eviction.
    let pods = vec![
        cached(pod("a", "node", "Succeeded", 1)),
        cached(evicted(pod("b", "node", "Succeeded", 2))),
    ];
    assert_eq!(names(&terminated_over_threshold(&pods, 1)), ["a"]);
}

#[test]
fn equal_creation_times_are_broken_by_name() {
    let pods = vec![
        cached(pod("b", "node", "Succeeded", 1)),
        cached(pod("a", "node", "Succeeded", 1)),
        cached(pod("c", "node", "Succeeded", 0)),
    ];
    assert_eq!(names(&terminated_over_threshold(&pods, 1)), ["c", "a"]);
}

#[test]
fn deleting_pods_still_count_as_terminated() {
    let pods = vec![
        cached(deleting(pod("a", "node", "Succeeded", 1))),
        cached(pod("b", "node", "Succeeded", 2)),
    ];
    assert_eq!(names(&terminated_over_threshold(&pods, 1)), ["a"]);
}

fn nodes(entries: &[(&str, bool, bool)]) -> Nodes {
    entries
        .iter()
        .map(|(name, ready, out_of_service)| {
            (
                (*name).to_owned(),
                NodeHealth {
                    ready: *ready,
                    out_of_service: *out_of_service,
                },
            )
        })
        .collect()
}

#[test]
fn terminating_pods_on_not_ready_out_of_service_nodes_are_taken() {
    let nodes = nodes(&[
        ("down-tainted", false, true),
        ("up-tainted", true, true),
        ("down", false, false),
    ]);
    let pods = vec![
        cached(deleting(pod("b", "down-tainted", "Running", 2))),
        cached(deleting(pod("a", "down-tainted", "Pending", 2))),
        cached(pod("live", "down-tainted", "Running", 1)),
        cached(deleting(pod("ready-node", "up-tainted", "Running", 1))),
        cached(deleting(pod("no-taint", "down", "Running", 1))),
        cached(deleting(pod("unknown-node", "gone", "Running", 1))),
        cached(deleting(pod("unscheduled", "", "Pending", 1))),
        cached(deleting(pod("old", "down-tainted", "Succeeded", 1))),
    ];
    assert_eq!(
        names(&terminating_out_of_service(&pods, &nodes)),
        ["old", "a", "b"],
        "sorted like the terminated pass"
    );
}

#[test]
fn missing_nodes_are_the_bound_ones_the_cache_lacks() {
    let nodes = nodes(&[("here", true, false)]);
    let pods = vec![
        cached(pod("a", "here", "Running", 1)),
        cached(pod("b", "gone", "Running", 1)),
        cached(deleting(pod("c", "gone", "Succeeded", 1))),
        cached(pod("d", "ghost", "Pending", 1)),
        cached(pod("e", "", "Pending", 1)),
    ];
    let missing = missing_nodes(&pods, &nodes);
    let missing: Vec<&str> = missing.iter().map(|n| &**n).collect();
    assert_eq!(missing, ["ghost", "gone"]);
}

#[test]
fn orphans_are_the_pods_of_confirmed_deleted_nodes_in_any_phase() {
    let pods = vec![
        cached(pod("a", "here", "Running", 1)),
        cached(pod("b", "gone", "Running", 1)),
        cached(deleting(pod("c", "gone", "Succeeded", 1))),
        cached(pod("d", "late", "Pending", 1)),
        cached(pod("e", "", "Pending", 1)),
    ];
    let deleted: BTreeSet<Arc<str>> = [Arc::from("gone")].into();
    assert_eq!(names(&orphaned(&pods, &deleted)), ["b", "c"]);
    assert!(orphaned(&pods, &BTreeSet::new()).is_empty());
}

#[test]
fn unscheduled_terminating_pods_are_taken_and_pending_ones_left() {
    let pods = vec![
        cached(deleting(pod("a", "", "Pending", 1))),
        cached(pod("b", "", "Pending", 1)),
        cached(deleting(pod("c", "node", "Running", 1))),
    ];
    assert_eq!(names(&unscheduled_terminating(&pods)), ["a"]);
}

#[test]
fn node_health_reads_the_ready_condition_and_the_taint_key() {
    let node = |conditions: Value, taints: Value| -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": { "name": "n" },
                "spec": { "taints": taints },
                "status": { "conditions": conditions },
            }))
            .unwrap(),
        )
    };
    let taint = json!([{ "key": OUT_OF_SERVICE_TAINT, "value": "x", "effect": "NoSchedule" }]);
    let other = json!([{ "key": "node.kubernetes.io/unreachable", "effect": "NoExecute" }]);
    let ready = json!([{ "type": "Ready", "status": "True" }]);
    let unknown = json!([{ "type": "Ready", "status": "Unknown" }]);
    let none = json!([{ "type": "MemoryPressure", "status": "False" }]);
    let health = |c: &Value, t: &Value| NodeHealth::of(&node(c.clone(), t.clone()));
    assert_eq!(
        health(&ready, &taint),
        NodeHealth {
            ready: true,
            out_of_service: true
        }
    );
    assert_eq!(
        health(&unknown, &taint),
        NodeHealth {
            ready: false,
            out_of_service: true
        }
    );
    assert_eq!(
        health(&none, &other),
        NodeHealth {
            ready: false,
            out_of_service: false
        }
    );
    let snapshot = node_snapshot(&[node(ready, json!(null))]);
    assert_eq!(
        snapshot.get("n"),
        Some(&NodeHealth {
            ready: true,
            out_of_service: false
        })
    );
}
