//! One pass against a scripted API: the order of calls, the quarantine, and what a failure
//! stops (upstream's `TestGCOrphaned`, `TestGCInspectingPatchedPodBeforeDeletion`).

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::*;
use crate::{podgc::select::NodeHealth, toolkit::FailureKind};

#[derive(Default)]
struct FakeControl {
    calls: Mutex<Vec<String>>,
    patches: Mutex<HashMap<String, Value>>,
    /// Nodes the live GET finds.
    live_nodes: Mutex<HashSet<String>>,
    fail_get: Mutex<bool>,
    /// Pods whose patch fails.
    fail_patch: Mutex<HashSet<String>>,
    fail_delete: Mutex<HashSet<String>>,
}

impl FakeControl {
    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock())
    }
}

fn failure() -> ApiFailure {
    ApiFailure::new(FailureKind::Other, "boom")
}

impl GcControl for FakeControl {
    async fn patch_pod_status(
        &self,
        _namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), ApiFailure> {
        self.calls.lock().push(format!("patch {name}"));
        self.patches.lock().insert(name.to_owned(), patch.clone());
        if self.fail_patch.lock().contains(name) {
            return Err(failure());
        }
        Ok(())
    }

    async fn force_delete_pod(&self, _namespace: &str, name: &str) -> Result<(), ApiFailure> {
        self.calls.lock().push(format!("delete {name}"));
        if self.fail_delete.lock().contains(name) {
            return Err(failure());
        }
        Ok(())
    }

    async fn node_exists(&self, name: &str) -> Result<bool, ApiFailure> {
        self.calls.lock().push(format!("get node {name}"));
        if *self.fail_get.lock() {
            return Err(failure());
        }
        Ok(self.live_nodes.lock().contains(name))
    }
}

fn pod(name: &str, node: &str, phase: &str, hour: i64) -> Arc<CachedPod> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": { "name": name, "namespace": "gc-test", "uid": format!("uid-{name}"),
                "generation": 1,
                "creationTimestamp": Timestamp::from_second(hour * 3600).unwrap().to_string() },
            "spec": { "nodeName": node },
            "status": { "phase": phase },
        }))
        .unwrap(),
    )
}

fn deleting(pod: Arc<CachedPod>) -> Arc<CachedPod> {
    let mut pod = (*pod).clone();
    pod.deletion_timestamp = Some(Timestamp::from_second(1).unwrap());
    Arc::new(pod)
}

const QUARANTINE: Duration = Duration::from_secs(40);

fn collector(threshold: i32) -> (PodGc<FakeControl>, Arc<FakeControl>) {
    let control = Arc::new(FakeControl::default());
    let queue = WorkQueue::builder().build();
    let clock = Clock::from_fn(|| "2026-01-01T00:00:00Z".parse().unwrap());
    let gc = PodGc::new(control.clone(), clock, threshold, QUARANTINE, queue);
    (gc, control)
}

fn nodes(names: &[&str]) -> Nodes {
    names
        .iter()
        .map(|n| {
            (
                (*n).to_owned(),
                NodeHealth {
                    ready: true,
                    out_of_service: false,
                },
            )
        })
        .collect()
}

#[tokio::test]
async fn terminal_pods_are_deleted_without_a_patch_and_live_ones_patched_first() {
    let (gc, control) = collector(1);
    let pods = vec![
        pod("a", "n", "Failed", 1),
        pod("b", "n", "Succeeded", 2),
        pod("c", "n", "Succeeded", 3),
        pod("e", "", "Pending", 1),
    ];
    let pods = [pods, vec![deleting(pod("u", "", "Pending", 4))]].concat();
    gc.gc(&pods, &nodes(&["n"])).await;
    let mut calls = control.calls();
    // The terminated pass runs its deletions concurrently: compare it as a set.
    calls[..2].sort();
    assert_eq!(calls, ["delete a", "delete b", "patch u", "delete u"]);
    assert_eq!(
        control.patches.lock()["u"]["status"],
        json!({ "phase": "Failed", "observedGeneration": 1 }),
        "an unscheduled pod gets no condition"
    );
}

#[tokio::test(start_paused = true)]
async fn orphans_wait_out_the_quarantine_and_a_live_get() {
    let (gc, control) = collector(0);
    let pods = vec![
        pod("run", "gone", "Running", 1),
        pod("done", "gone", "Succeeded", 1),
        pod("late", "late", "Pending", 1),
        pod("here", "n", "Running", 1),
    ];
    gc.gc(&pods, &nodes(&["n"])).await;
    assert!(control.calls().is_empty(), "quarantined first");
    tokio::time::sleep(Duration::from_secs(20)).await;
    gc.gc(&pods, &nodes(&["n"])).await;
    assert!(control.calls().is_empty(), "still in quarantine after 20 s");
    tokio::time::sleep(Duration::from_secs(21)).await;
    // "late" registered in the meantime but the cache lags: the live read finds it.
    control.live_nodes.lock().insert("late".into());
    gc.gc(&pods, &nodes(&["n"])).await;
    assert_eq!(
        control.calls(),
        [
            "get node gone",
            "get node late",
            "patch run",
            "delete run",
            "delete done"
        ]
    );
    let condition = &control.patches.lock()["run"]["status"]["conditions"][0];
    assert_eq!(condition["reason"], "DeletionByPodGC");
    assert_eq!(condition["lastTransitionTime"], "2026-01-01T00:00:00Z");
}

#[tokio::test(start_paused = true)]
async fn a_failed_live_get_drops_the_name_until_it_is_quarantined_again() {
    let (gc, control) = collector(0);
    let pods = vec![pod("p", "gone", "Running", 1)];
    *control.fail_get.lock() = true;
    gc.gc(&pods, &nodes(&[])).await;
    tokio::time::sleep(QUARANTINE + Duration::from_secs(1)).await;
    gc.gc(&pods, &nodes(&[])).await;
    assert_eq!(control.calls(), ["get node gone"]);
    *control.fail_get.lock() = false;
    // The failed pass put the name back in quarantine before reading it.
    gc.gc(&pods, &nodes(&[])).await;
    assert!(control.calls().is_empty());
    tokio::time::sleep(QUARANTINE + Duration::from_secs(1)).await;
    gc.gc(&pods, &nodes(&[])).await;
    assert_eq!(control.calls(), ["get node gone", "patch p", "delete p"]);
}

#[tokio::test(start_paused = true)]
async fn a_node_back_in_the_cache_is_not_read_at_all() {
    let (gc, control) = collector(0);
    let pods = vec![pod("p", "late", "Running", 1)];
    gc.gc(&pods, &nodes(&[])).await;
    tokio::time::sleep(QUARANTINE + Duration::from_secs(1)).await;
    gc.gc(&pods, &nodes(&["late"])).await;
    assert!(control.calls().is_empty());
}

#[tokio::test]
async fn a_failed_patch_stops_before_the_delete_and_the_pass_goes_on() {
    let (gc, control) = collector(0);
    let mut down = nodes(&[]);
    down.insert(
        "down".into(),
        NodeHealth {
            ready: false,
            out_of_service: true,
        },
    );
    let pods = vec![
        deleting(pod("x", "down", "Running", 1)),
        deleting(pod("y", "", "Pending", 1)),
        deleting(pod("z", "", "Pending", 2)),
    ];
    control.fail_patch.lock().insert("x".into());
    control.fail_delete.lock().insert("y".into());
    gc.gc(&pods, &down).await;
    assert_eq!(
        control.calls(),
        ["patch x", "patch y", "delete y", "patch z", "delete z"]
    );
}

#[tokio::test]
async fn the_metrics_count_attempts_and_errors_per_namespace_and_reason() {
    let (gc, control) = collector(1);
    let namespace = "gc-metrics";
    let make = |name: &str, hour| {
        let mut p = (*pod(name, "n", "Succeeded", hour)).clone();
        p.namespace = namespace.into();
        Arc::new(p)
    };
    let pods = vec![make("a", 1), make("b", 2), make("c", 3)];
    control.fail_delete.lock().insert("a".into());
    metrics::register();
    gc.gc(&pods, &nodes(&["n"])).await;
    let text = kcm_shared::metrics::render();
    let value = |family: &str| {
        text.lines()
            .find(|l| {
                l.starts_with(family)
                    && l.contains(&format!("namespace=\"{namespace}\""))
                    && l.contains("reason=\"terminated\"")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
    };
    assert_eq!(value("pod_gc_collector_force_delete_pods_total{"), Some(2));
    assert_eq!(
        value("pod_gc_collector_force_delete_pod_errors_total{"),
        Some(1)
    );
}
