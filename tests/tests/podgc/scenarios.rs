//! The scenarios of the reference §5.2, run on one side (one environment, one manager).
//!
//! Timings follow upstream's fixed 20 s period and 40 s quarantine, which both managers use
//! here: phase 1 (threshold 0) runs every scenario that does not count terminated pods at
//! once, each in its own namespace with its own nodes, and reads negative outcomes only after
//! [`SETTLE`], when every pass that could have acted has run; phase 2 empties the cluster,
//! creates the threshold scenario's pods and only then starts the manager, so its first pass
//! sees them all.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api,
    api::{ListParams, Patch, PatchParams},
};
use serde_json::json;
use testenv::TestNamespace;

use crate::support::*;

/// When phase 1's negative checks are read, counted from the start of the phase: a node
/// seen missing at the latest 20 s in is confirmed 40 s later and acted on by the pass after
/// (80 s), plus slack for a loaded machine.
pub const SETTLE: Duration = Duration::from_secs(95);
/// How long an orphan may take after its node goes (quarantine, up to two periods, slack).
const ORPHAN_TIMEOUT: Duration = Duration::from_secs(120);
/// One pass plus slack.
const PASS_TIMEOUT: Duration = Duration::from_secs(45);

pub type States = Vec<(String, PodState)>;
pub type Counters = BTreeMap<(String, String), u64>;

/// P1–P3: what orphans look like once the collector acted, and how long after the node went.
#[derive(Clone, Debug, PartialEq)]
pub struct Orphans {
    pub deleted_node: States,
    pub ghost_node: States,
}

/// Everything phase 1 observed; the durations are checked against windows, not compared.
#[derive(Clone, Debug)]
pub struct Phase1 {
    pub orphans: Orphans,
    pub orphan_took: Duration,
    pub late_node: States,
    pub unscheduled: States,
    pub unscheduled_released: PodState,
    pub out_of_service: States,
    pub out_of_service_took: Duration,
    pub threshold_zero_left: usize,
    pub metrics: Counters,
}

/// Phase 2: the terminated-pod threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase2 {
    pub states: States,
    pub same_second: bool,
    pub metrics: Counters,
}

async fn settle(start: Instant) {
    tokio::time::sleep(SETTLE.saturating_sub(start.elapsed())).await;
}

/// P1, P2 and the Succeeded case: a node with Running, Pending and Succeeded pods, with and
/// without finalizers, is deleted.
async fn deleted_node(side: &Side) -> anyhow::Result<(States, Duration)> {
    let ns = side.env.namespace("gc-orphan").await?;
    let pods: Api<Pod> = ns.api();
    let node = format!("{}-node", ns.name());
    let client = side.client();
    create_node(&client, &node, Some(true), &[]).await?;
    let held = ["running-held", "pending-held", "succeeded-held"];
    let free = ["running", "pending", "succeeded"];
    for (names, finalizer) in [(held, true), (free, false)] {
        for (name, phase) in names.iter().zip(["Running", "Pending", "Succeeded"]) {
            let spec = PodSpec::on(&node, phase);
            create_pod(&pods, name, if finalizer { spec.held() } else { spec }).await?;
        }
    }
    delete_node(&client, &node).await?;
    let took = wait_pods(&pods, &held, ORPHAN_TIMEOUT, "orphans force-deleted", |s| {
        s.is_terminating()
    })
    .await?;
    wait_pods(&pods, &free, PASS_TIMEOUT, "free orphans gone", |s| {
        *s == PodState::Gone
    })
    .await?;
    Ok((
        pod_states(&pods, &[held.as_slice(), &free].concat()).await?,
        took,
    ))
}

/// P3: a pod bound to a node name that never existed.
async fn ghost_node(side: &Side) -> anyhow::Result<States> {
    let ns = side.env.namespace("gc-ghost").await?;
    let pods: Api<Pod> = ns.api();
    let ghost = format!("{}-ghost", ns.name());
    create_pod(&pods, "held", PodSpec::on(&ghost, "Running").held()).await?;
    create_pod(&pods, "free", PodSpec::on(&ghost, "Pending")).await?;
    wait_pods(&pods, &["held"], ORPHAN_TIMEOUT, "ghost orphan", |s| {
        s.is_terminating()
    })
    .await?;
    wait_pods(
        &pods,
        &["free"],
        PASS_TIMEOUT,
        "free ghost orphan gone",
        |s| *s == PodState::Gone,
    )
    .await?;
    pod_states(&pods, &["held", "free"]).await
}

/// The quarantine: the node registers 25 s after its pod was created, after at least one
/// pass has seen it missing (passes are 20 s apart) and before any quarantine started by that
/// pass has ended (40 s); the pod is never touched.
async fn late_node(side: &Side, start: Instant) -> anyhow::Result<States> {
    let ns = side.env.namespace("gc-late").await?;
    let pods: Api<Pod> = ns.api();
    let node = format!("{}-late", ns.name());
    create_pod(&pods, "held", PodSpec::on(&node, "Running").held()).await?;
    tokio::time::sleep(Duration::from_secs(25)).await;
    create_node(&side.client(), &node, Some(true), &[]).await?;
    settle(start).await;
    pod_states(&pods, &["held"]).await
}

/// P4: an unscheduled pod held by a finalizer and deleted is failed and force-deleted, and
/// goes with its finalizer; an unscheduled pending one is left alone.
async fn unscheduled(side: &Side, start: Instant) -> anyhow::Result<(States, PodState)> {
    let ns = side.env.namespace("gc-unscheduled").await?;
    let pods: Api<Pod> = ns.api();
    create_pod(&pods, "terminating", PodSpec::unscheduled("Pending").held()).await?;
    create_pod(&pods, "pending", PodSpec::unscheduled("Pending")).await?;
    delete_pod(&pods, "terminating", 30).await?;
    wait_pods(
        &pods,
        &["terminating"],
        PASS_TIMEOUT,
        "unscheduled failed",
        |s| matches!(s, PodState::Present { phase, .. } if phase == "Failed"),
    )
    .await?;
    settle(start).await;
    let states = pod_states(&pods, &["terminating", "pending"]).await?;
    remove_finalizer(&pods, "terminating").await?;
    wait_pods(&pods, &["terminating"], PASS_TIMEOUT, "released", |s| {
        *s == PodState::Gone
    })
    .await?;
    Ok((states, pod_state(&pods, "terminating").await?))
}

/// P5–P7 and the node without a Ready condition.
async fn out_of_service(side: &Side, start: Instant) -> anyhow::Result<(States, Duration)> {
    let ns = side.env.namespace("gc-oos").await?;
    let pods: Api<Pod> = ns.api();
    let client = side.client();
    let node = |suffix: &str| format!("{}-{suffix}", ns.name());
    create_node(&client, &node("down"), Some(false), &[]).await?;
    create_node(&client, &node("ready"), Some(true), &[OUT_OF_SERVICE]).await?;
    create_node(&client, &node("nocond"), None, &[OUT_OF_SERVICE]).await?;
    create_node(&client, &node("untainted"), Some(false), &[]).await?;
    let layout = [
        ("down-free", "down", false, true),
        ("down-held", "down", true, true),
        ("down-live", "down", false, false),
        ("ready-tainted", "ready", false, true),
        ("no-condition", "nocond", false, true),
        ("untainted", "untainted", false, true),
    ];
    for (name, on, held, deleted) in layout {
        let on = node(on);
        let spec = PodSpec::on(&on, "Running");
        create_pod(&pods, name, if held { spec.held() } else { spec }).await?;
        if deleted {
            delete_pod(&pods, name, 300).await?;
        }
    }
    taint_node(&client, &node("down"), OUT_OF_SERVICE).await?;
    let took = wait_pods(
        &pods,
        &["down-free", "down-held", "no-condition"],
        PASS_TIMEOUT,
        "out-of-service pods force-deleted",
        |s| match s {
            PodState::Gone => true,
            PodState::Present { phase, .. } => phase == "Failed",
        },
    )
    .await?;
    settle(start).await;
    let names: Vec<&str> = layout.iter().map(|l| l.0).collect();
    Ok((pod_states(&pods, &names).await?, took))
}

/// P10: with threshold 0, twenty Succeeded pods stay.
async fn threshold_zero(side: &Side, start: Instant) -> anyhow::Result<usize> {
    let ns = side.env.namespace("gc-zero").await?;
    let pods: Api<Pod> = ns.api();
    let node = format!("{}-node", ns.name());
    create_node(&side.client(), &node, Some(true), &[]).await?;
    for i in 0..20 {
        create_pod(&pods, &format!("done-{i}"), PodSpec::on(&node, "Succeeded")).await?;
    }
    settle(start).await;
    Ok(pods.list(&ListParams::default()).await?.items.len())
}

/// The metrics: two orphans and one out-of-service pod, none held, each counted once.
async fn metrics_pods(side: &Side) -> anyhow::Result<TestNamespace> {
    let ns = side.env.namespace("gc-metrics").await?;
    let pods: Api<Pod> = ns.api();
    let client = side.client();
    let gone = format!("{}-gone", ns.name());
    let down = format!("{}-down", ns.name());
    create_node(&client, &gone, Some(true), &[]).await?;
    create_node(&client, &down, Some(false), &[OUT_OF_SERVICE]).await?;
    create_pod(&pods, "orphan-running", PodSpec::on(&gone, "Running")).await?;
    create_pod(&pods, "orphan-succeeded", PodSpec::on(&gone, "Succeeded")).await?;
    create_pod(&pods, "out-of-service", PodSpec::on(&down, "Running")).await?;
    delete_pod(&pods, "out-of-service", 300).await?;
    delete_node(&client, &gone).await?;
    let all = ["orphan-running", "orphan-succeeded", "out-of-service"];
    wait_pods(&pods, &all, ORPHAN_TIMEOUT, "metrics pods gone", |s| {
        *s == PodState::Gone
    })
    .await?;
    Ok(ns)
}

/// Phase 1 on one side: the manager with threshold 0 and every scenario at once.
pub async fn phase1(side: &mut Side) -> anyhow::Result<Phase1> {
    side.start(0).await?;
    let start = Instant::now();
    let side_ref = &*side;
    let (orphans, ghost, late, unscheduled, oos, zero, metrics_ns) = tokio::try_join!(
        deleted_node(side_ref),
        ghost_node(side_ref),
        late_node(side_ref, start),
        unscheduled(side_ref, start),
        out_of_service(side_ref, start),
        threshold_zero(side_ref, start),
        metrics_pods(side_ref),
    )?;
    let metrics = gc_metrics(&side.metrics()?, metrics_ns.name());
    Ok(Phase1 {
        orphans: Orphans {
            deleted_node: orphans.0,
            ghost_node: ghost,
        },
        orphan_took: orphans.1,
        late_node: late,
        unscheduled: unscheduled.0,
        unscheduled_released: unscheduled.1,
        out_of_service: oos.0,
        out_of_service_took: oos.1,
        threshold_zero_left: zero,
        metrics,
    })
}

/// Creates the tie pair `b` then `a` until both carry the same creation second.
async fn same_second_pair(pods: &Api<Pod>, node: &str) -> anyhow::Result<bool> {
    for _ in 0..5 {
        let b = create_pod(pods, "b", PodSpec::on(node, "Succeeded").held()).await?;
        let a = create_pod(pods, "a", PodSpec::on(node, "Succeeded").held()).await?;
        if a.metadata.creation_timestamp == b.metadata.creation_timestamp {
            return Ok(true);
        }
        for name in ["a", "b"] {
            remove_finalizer(pods, name).await?;
            delete_pod(pods, name, 0).await?;
        }
        wait_pods(pods, &["a", "b"], PASS_TIMEOUT, "tie pair gone", |s| {
            *s == PodState::Gone
        })
        .await?;
    }
    Ok(false)
}

/// Phase 2 on one side (P8, P9, evicted first, non-terminal pods not counted): threshold 2
/// over seven terminated pods and a Running one, all held by finalizers so the deleted ones
/// stay visible. Expected: the evicted pod, the three oldest and `a` of the same-second pair.
pub async fn phase2(side: &mut Side) -> anyhow::Result<Phase2> {
    side.stop().await?;
    remove_all_pods(&side.client()).await?;
    let ns = side.env.namespace("gc-threshold").await?;
    let pods: Api<Pod> = ns.api();
    let node = format!("{}-node", ns.name());
    create_node(&side.client(), &node, Some(true), &[]).await?;
    let one_second = Duration::from_millis(1100);
    create_pod(
        &pods,
        "running-oldest",
        PodSpec::on(&node, "Running").held(),
    )
    .await?;
    for (name, phase) in [("p1", "Succeeded"), ("p2", "Failed"), ("p3", "Succeeded")] {
        tokio::time::sleep(one_second).await;
        create_pod(&pods, name, PodSpec::on(&node, phase).held()).await?;
    }
    tokio::time::sleep(one_second).await;
    let same_second = same_second_pair(&pods, &node).await?;
    tokio::time::sleep(one_second).await;
    create_pod(&pods, "p4", PodSpec::on(&node, "Succeeded").held()).await?;
    tokio::time::sleep(one_second).await;
    let evicted = PodSpec::on(&node, "Failed").reason("Evicted").held();
    create_pod(&pods, "evicted-newest", evicted).await?;
    side.start(2).await?;
    let deleted = ["evicted-newest", "p1", "p2", "p3", "a"];
    wait_pods(&pods, &deleted, PASS_TIMEOUT, "five force-deleted", |s| {
        s.is_terminating()
    })
    .await?;
    // At once, before the next pass (20 s later) deletes the held pods again.
    let metrics = gc_metrics(&side.metrics()?, ns.name());
    // One more pass: it takes the same pods and no other.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let names = [
        "running-oldest",
        "p1",
        "p2",
        "p3",
        "b",
        "a",
        "p4",
        "evicted-newest",
    ];
    let states = pod_states(&pods, &names).await?;
    // Release everything for whoever runs next.
    let patch = json!({ "metadata": { "finalizers": null } });
    for name in names {
        pods.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    Ok(Phase2 {
        states,
        same_second,
        metrics,
    })
}
