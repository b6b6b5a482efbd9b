//! The ReplicaSet and ReplicationController controllers against a real apiserver. Every
//! scenario runs with kcm-rs and then with the upstream kube-controller-manager, in fresh
//! namespaces, and both runs must produce the same outcome. kcm-rs is the binary built by
//! `cargo build -p kcm-rs`.

mod deletion;
mod support;

use deletion::ready_pods;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use k8s_openapi::{
    api::{
        apps::v1::ReplicaSet,
        core::v1::{Pod, ReplicationController},
    },
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use kcm_controllers::replicaset::kind::ReplicaKind;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    runtime::watcher,
};
use serde_json::json;
use support::*;
use testenv::{
    TestNamespace,
    nodes::create_ready_node,
    pods::{bind_pod, mark_pod_not_ready, mark_pod_running_ready, next_pod_ip},
    quota::set_pod_quota,
};

/// What a scale-up from 0 to 3 and back to 0 leaves behind.
#[derive(Debug, PartialEq)]
struct ScaleOutcome {
    scaled_up: Counts,
    created_events: Vec<(String, String, String)>,
    scaled_down: Counts,
    deleted_events: usize,
}

async fn scale_up_and_down<K: TestOwner>(ns: TestNamespace) -> anyhow::Result<ScaleOutcome> {
    let owner = ns
        .api::<K>()
        .create(
            &PostParams::default(),
            &K::build("web", 0, &[("app", "web")], &[]),
        )
        .await?;
    wait_status::<K>(&ns, "web", "status of 0 replicas", |s| s.replicas == 0).await?;
    scale::<K>(&ns, "web", 3).await?;
    let up = wait_status::<K>(&ns, "web", "3 replicas", |s| s.replicas == 3).await?;
    let pods = pods(&ns).await?;
    assert_eq!(pods.len(), 3);
    let expected_ref = OwnerReference {
        api_version: K::API_VERSION.into(),
        kind: K::kind(&()).into_owned(),
        name: "web".into(),
        uid: owner.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    for pod in &pods {
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(pod.labels(), &labels(&[("app", "web")]));
        assert_eq!(pod.annotations()["example.com/from-template"], "yes");
        assert_eq!(pod.owner_references(), std::slice::from_ref(&expected_ref));
    }
    let created = wait_events(&ns, "web", "SuccessfulCreate", 3).await?;
    let names: HashSet<String> = pods
        .iter()
        .map(|p| format!("Created pod: {}", p.name_any()))
        .collect();
    let messages: HashSet<String> = created.iter().map(|e| e.message.clone()).collect();
    assert_eq!(messages, names);

    scale::<K>(&ns, "web", 0).await?;
    let down = wait_status::<K>(&ns, "web", "0 replicas", |s| s.replicas == 0).await?;
    wait_pods(&ns, "every pod deleted", |p| p.is_empty()).await?;
    let deleted = wait_events(&ns, "web", "SuccessfulDelete", 3).await?;
    Ok(ScaleOutcome {
        scaled_up: counts(&up.replica_status()),
        created_events: created
            .into_iter()
            .map(|e| (e.type_, e.reason, e.component))
            .collect(),
        scaled_down: counts(&down.replica_status()),
        deleted_events: deleted.len(),
    })
}

#[tokio::test]
async fn replica_set_scales_up_from_zero_and_down_to_zero() -> anyhow::Result<()> {
    let Some((ours, upstream)) =
        with_both("rs-scale", &[], |ns, _| scale_up_and_down::<ReplicaSet>(ns)).await?
    else {
        return Ok(());
    };
    assert_eq!(
        ours.scaled_up,
        Counts {
            replicas: 3,
            fully_labeled: 3,
            ready: 0,
            available: 0,
            terminating: Some(0)
        }
    );
    assert_eq!(ours.created_events[0].2, "replicaset-controller");
    assert_eq!(ours, upstream);
    Ok(())
}

#[tokio::test]
async fn replication_controller_scales_the_same_way() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rc-scale", &[], |ns, _| {
        scale_up_and_down::<ReplicationController>(ns)
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        ours.scaled_up.terminating, None,
        "RCs report no terminatingReplicas"
    );
    assert_eq!(ours.created_events[0].2, "replication-controller");
    assert_eq!(ours, upstream);
    Ok(())
}

#[tokio::test]
async fn a_replica_set_of_300_never_creates_more_than_300_pods() -> anyhow::Result<()> {
    let fast = ["--kube-api-qps=200", "--kube-api-burst=300"];
    let Some((ours, upstream)) = with_both("rs-300", &fast, |ns, _| async move {
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
        let watch = tokio::spawn({
            let seen = seen.clone();
            let api: Api<Pod> = ns.api();
            async move {
                let mut synced = Some(synced_tx);
                let mut events = watcher(api, watcher::Config::default()).boxed();
                while let Some(Ok(event)) = events.next().await {
                    match event {
                        watcher::Event::InitDone => {
                            if let Some(tx) = synced.take() {
                                let _ = tx.send(());
                            }
                        }
                        watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                            seen.lock().unwrap().insert(p.uid().unwrap_or_default());
                        }
                        _ => {}
                    }
                }
            }
        });
        synced_rx.await?;
        ns.api::<ReplicaSet>()
            .create(
                &PostParams::default(),
                &ReplicaSet::build("big", 300, &[("app", "big")], &[]),
            )
            .await?;
        let rs =
            wait_status::<ReplicaSet>(&ns, "big", "300 replicas", |s| s.replicas == 300).await?;
        stays(&ns, Duration::from_secs(3), "300 pods", |p| p.len() == 300).await?;
        watch.abort();
        let total = seen.lock().unwrap().len();
        anyhow::Ok((total, counts(&rs.replica_status())))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours.0, 300, "pods ever created");
    assert_eq!(ours, upstream);
    Ok(())
}

#[tokio::test]
async fn quota_limited_creation_reports_replica_failure_and_recovers() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rs-quota", &[], |ns, _| async move {
        set_pod_quota(&ns, 2, true).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        ns.api::<ReplicaSet>()
            .create(
                &PostParams::default(),
                &ReplicaSet::build("q", 5, &[("app", "q")], &[]),
            )
            .await?;
        let failing = wait_status::<ReplicaSet>(&ns, "q", "a ReplicaFailure condition", |s| {
            s.replicas == 2 && s.conditions.iter().any(|c| c.type_ == "ReplicaFailure")
        })
        .await?;
        let condition = failing.replica_status().conditions[0].clone();
        assert!(
            condition
                .message
                .as_deref()
                .is_some_and(|m| m.contains("exceeded quota")),
            "{condition:?}"
        );
        let failures = wait_events(&ns, "q", "FailedCreate", 1).await?;
        assert!(
            failures[0].message.starts_with("Error creating: "),
            "{failures:?}"
        );
        assert_eq!(pods(&ns).await?.len(), 2);

        set_pod_quota(&ns, 5, false).await?;
        let recovered = wait_status::<ReplicaSet>(&ns, "q", "recovery", |s| {
            s.replicas == 5 && s.conditions.is_empty()
        })
        .await?;
        anyhow::Ok((
            (condition.type_, condition.status, condition.reason),
            (failures[0].type_.clone(), failures[0].component.clone()),
            counts(&recovered.replica_status()),
        ))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        ours.0,
        (
            "ReplicaFailure".into(),
            "True".into(),
            Some("FailedCreate".into())
        )
    );
    assert_eq!(ours, upstream);
    Ok(())
}

/// Orphans are adopted (a non-controller reference to the owner is upgraded in place), the
/// surplus is deleted, and a pod whose labels stop matching is released and replaced. The
/// orphans carry a high pod-deletion-cost so the surplus deleted is always the created pods.
async fn adoption_and_release<K: TestOwner>(
    ns: TestNamespace,
) -> anyhow::Result<(usize, usize, usize, bool)> {
    let owner = ns
        .api::<K>()
        .create(
            &PostParams::default(),
            &K::build("own", 3, &[("app", "own")], &[]),
        )
        .await?;
    let uid = owner.uid().unwrap_or_default();
    let owned_by_us = |p: &Pod| controller_uid(p).as_deref() == Some(uid.as_str());
    wait_pods(&ns, "3 pods created", |pods| pods.len() == 3).await?;
    let orphan = |name: &str, refs: Vec<OwnerReference>| Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels(&[("app", "own")])),
            annotations: Some(labels(&[(
                "controller.kubernetes.io/pod-deletion-cost",
                "1000",
            )])),
            owner_references: Some(refs),
            ..Default::default()
        },
        spec: template(labels(&[])).spec,
        status: None,
    };
    let weak_ref = OwnerReference {
        api_version: K::API_VERSION.into(),
        kind: K::kind(&()).into_owned(),
        name: "own".into(),
        uid: uid.clone(),
        controller: Some(false),
        block_owner_deletion: None,
    };
    let pod_api: Api<Pod> = ns.api();
    pod_api
        .create(&PostParams::default(), &orphan("plain-orphan", vec![]))
        .await?;
    pod_api
        .create(&PostParams::default(), &orphan("weak-ref", vec![weak_ref]))
        .await?;
    let adopted = wait_pods(
        &ns,
        "both orphans adopted and the surplus deleted",
        |pods| {
            pods.len() == 3
                && pods.iter().all(owned_by_us)
                && ["plain-orphan", "weak-ref"]
                    .iter()
                    .all(|n| pods.iter().any(|p| p.name_any() == *n))
        },
    )
    .await?;
    let weak = adopted
        .iter()
        .find(|p| p.name_any() == "weak-ref")
        .expect("kept");
    assert_eq!(
        weak.owner_references().len(),
        1,
        "upgraded in place: {weak:?}"
    );
    let deleted = wait_events(&ns, "own", "SuccessfulDelete", 2).await?.len();

    let relabel = json!({ "metadata": { "labels": { "app": "gone" } } });
    pod_api
        .patch(
            "plain-orphan",
            &PatchParams::default(),
            &Patch::Merge(&relabel),
        )
        .await?;
    let after = wait_pods(&ns, "release and replacement", |pods| {
        pods.iter().filter(|p| owned_by_us(p)).count() == 3 && pods.len() == 4
    })
    .await?;
    let released = after
        .iter()
        .find(|p| p.name_any() == "plain-orphan")
        .expect("kept");
    let refs_left = released.owner_references().len();
    Ok((adopted.len(), deleted, after.len(), refs_left == 0))
}

#[tokio::test]
async fn replica_sets_adopt_orphans_and_release_pods_that_stop_matching() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rs-adopt", &[], |ns, _| {
        adoption_and_release::<ReplicaSet>(ns)
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours, (3, 2, 4, true));
    assert_eq!(ours, upstream);
    Ok(())
}

#[tokio::test]
async fn replication_controllers_adopt_and_release_the_same_way() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rc-adopt", &[], |ns, _| {
        adoption_and_release::<ReplicationController>(ns)
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours, (3, 2, 4, true));
    assert_eq!(ours, upstream);
    Ok(())
}

#[tokio::test]
async fn min_ready_seconds_delays_available_replicas() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rs-minready", &[], |ns, _| async move {
        let patch = json!({ "spec": { "minReadySeconds": 5 } });
        let names = ready_pods(&ns, "slow", 2, 2).await?;
        ns.api::<ReplicaSet>()
            .patch("slow", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        let node = format!("{}-node", ns.name());
        let marked = Instant::now();
        for pod in &names {
            bind_pod(ns.client(), ns.name(), pod, &node).await?;
            mark_pod_running_ready(ns.client(), ns.name(), pod, &next_pod_ip()).await?;
        }
        let ready =
            wait_status::<ReplicaSet>(&ns, "slow", "2 ready", |s| s.ready_replicas == 2).await?;
        let early = counts(&ready.replica_status());
        let available =
            wait_status::<ReplicaSet>(&ns, "slow", "2 available", |s| s.available_replicas == 2)
                .await?;
        let waited = marked.elapsed();
        assert!(
            waited >= Duration::from_secs(4),
            "available after {waited:?}"
        );
        anyhow::Ok((early.available, counts(&available.replica_status())))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        ours.0, 0,
        "ready pods are not available before minReadySeconds"
    );
    assert_eq!(ours, upstream);
    Ok(())
}

/// A pod held by a finalizer is terminating: replaced at once, counted apart.
async fn finalizer_holds_a_pod<K: TestOwner>(
    ns: TestNamespace,
) -> anyhow::Result<(Counts, usize, Counts)> {
    ns.api::<K>()
        .create(
            &PostParams::default(),
            &K::build("held", 2, &[("app", "held")], &[]),
        )
        .await?;
    let names: Vec<String> = wait_pods(&ns, "2 pods", |p| p.len() == 2)
        .await?
        .iter()
        .map(|p| p.name_any())
        .collect();
    let pod_api: Api<Pod> = ns.api();
    let hold = json!({ "metadata": { "finalizers": ["example.com/hold"] } });
    pod_api
        .patch(&names[0], &PatchParams::default(), &Patch::Merge(&hold))
        .await?;
    pod_api.delete(&names[0], &DeleteParams::default()).await?;
    let held = wait_status::<K>(&ns, "held", "a replacement", |s| {
        s.replicas == 2 && s.terminating_replicas.unwrap_or(1) == 1
    })
    .await?;
    let total = wait_pods(&ns, "3 pods", |p| p.len() == 3).await?.len();
    let release = json!({ "metadata": { "finalizers": null } });
    pod_api
        .patch(&names[0], &PatchParams::default(), &Patch::Merge(&release))
        .await?;
    // RCs report no terminatingReplicas, so wait on what both kinds show once the held pod is
    // gone: two pods, and a status that counts two active replicas and no terminating one.
    wait_pods(&ns, "the held pod gone", |p| p.len() == 2).await?;
    let settled = wait_status::<K>(&ns, "held", "two replicas, none terminating", |s| {
        s.replicas == 2 && s.terminating_replicas.unwrap_or(0) == 0
    })
    .await?;
    Ok((
        counts(&held.replica_status()),
        total,
        counts(&settled.replica_status()),
    ))
}

#[tokio::test]
async fn a_pod_held_by_a_finalizer_counts_in_terminating_replicas() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rs-final", &[], |ns, _| {
        finalizer_holds_a_pod::<ReplicaSet>(ns)
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours.0.terminating, Some(1));
    assert_eq!(ours.1, 3);
    assert_eq!(ours, upstream);
    Ok(())
}

#[tokio::test]
async fn replication_controllers_replace_terminating_pods_without_reporting_them()
-> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rc-final", &[], |ns, _| {
        finalizer_holds_a_pod::<ReplicationController>(ns)
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!((ours.0.replicas, ours.0.terminating), (2, None));
    assert_eq!(ours, upstream);
    Ok(())
}

#[tokio::test]
async fn overlapping_selectors_do_not_fight_over_pods() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rs-overlap", &[], |ns, _| async move {
        let api: Api<ReplicaSet> = ns.api();
        let a = api
            .create(
                &PostParams::default(),
                &ReplicaSet::build("a", 2, &[("app", "shared")], &[("owner", "a")]),
            )
            .await?;
        let b = api
            .create(
                &PostParams::default(),
                &ReplicaSet::build("b", 3, &[("app", "shared")], &[("owner", "b")]),
            )
            .await?;
        let owned_by = |pods: &[Pod], rs: &ReplicaSet| {
            pods.iter()
                .filter(|p| controller_uid(p) == rs.uid())
                .count()
        };
        let split =
            |pods: &[Pod]| pods.len() == 5 && owned_by(pods, &a) == 2 && owned_by(pods, &b) == 3;
        wait_pods(&ns, "2 + 3 pods", &split).await?;
        stays(&ns, Duration::from_secs(3), "the 2 + 3 split", &split).await?;
        let a_status =
            wait_status::<ReplicaSet>(&ns, "a", "a settled", |s| s.replicas == 2).await?;
        let b_status =
            wait_status::<ReplicaSet>(&ns, "b", "b settled", |s| s.replicas == 3).await?;
        anyhow::Ok((
            counts(&a_status.replica_status()),
            counts(&b_status.replica_status()),
        ))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours, upstream);
    Ok(())
}

#[tokio::test]
async fn a_deleted_pod_is_replaced() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rs-repair", &[], |ns, _| async move {
        ns.api::<ReplicaSet>()
            .create(
                &PostParams::default(),
                &ReplicaSet::build("r", 3, &[("app", "r")], &[]),
            )
            .await?;
        let before = wait_pods(&ns, "3 pods", |p| p.len() == 3).await?;
        let victim = before[0].name_any();
        ns.api::<Pod>()
            .delete(&victim, &DeleteParams::default())
            .await?;
        let after = wait_pods(&ns, "a replacement", |p| {
            p.len() == 3 && !p.iter().any(|p| p.name_any() == victim)
        })
        .await?;
        let rs = wait_status::<ReplicaSet>(&ns, "r", "3 replicas", |s| s.replicas == 3).await?;
        anyhow::Ok((after.len(), counts(&rs.replica_status())))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours.0, 3);
    assert_eq!(ours, upstream);
    Ok(())
}
