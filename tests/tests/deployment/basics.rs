//! Creation, naming, annotations, status before and after readiness, minReadySeconds and the
//! scale subresource (reference §6 scenarios 1–4).

use std::time::Duration;

use k8s_openapi::api::{apps::v1::Deployment, autoscaling::v1::Scale};
use kube::{
    ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::support::*;

/// What the pods of a fresh Deployment look like, per pod.
#[derive(Debug, PartialEq)]
struct PodFacts {
    generate_name_is_rs: bool,
    hash_label_is_rs: bool,
    controller: Option<(String, bool)>,
}

#[tokio::test]
async fn creation_names_annotates_and_reports_status() -> anyhow::Result<()> {
    let Some((unready, pod_facts, ready)) = both("d-basic", &[], |ns, _| async move {
        let mut d = build("d", 3, "registry.invalid/img:1");
        d.metadata.annotations = Some(labels(&[
            ("example.com/note", "copied"),
            ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
        ]));
        let created = create(&ns, &d).await?;
        wait_deployment(&ns, "d", "3 unready replicas", |d| {
            five(d) == (3, 3, 0, 0, 3) && condition(d, "Available").is_some()
        })
        .await?;
        let rs_list = wait_replica_sets(&ns, "one replica set", |l| l.len() == 1).await?;
        let rs = &rs_list[0];
        let owner = controller_of(&rs.metadata).cloned();
        assert_eq!(
            owner
                .as_ref()
                .map(|o| (&o.api_version[..], &o.kind[..], &o.uid)),
            Some(("apps/v1", "Deployment", &created.uid().unwrap_or_default()))
        );
        let pods = wait_pods(&ns, "3 pods", |p| p.len() == 3).await?;
        let hash = hash_of(rs).unwrap_or_default().to_owned();
        let mut facts: Vec<PodFacts> = pods
            .iter()
            .map(|p| PodFacts {
                generate_name_is_rs: p.metadata.generate_name.as_deref()
                    == Some(&format!("{}-", rs.name_any())),
                hash_label_is_rs: p.labels().get(HASH_LABEL) == Some(&hash),
                controller: controller_of(&p.metadata).map(|r| {
                    (
                        format!("{}/{}", r.kind, (r.uid == rs.uid().unwrap_or_default())),
                        r.block_owner_deletion == Some(true),
                    )
                }),
            })
            .collect();
        facts.dedup();
        // Let the status settle (a later write would show in the comparison anyway).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let unready = view(&ns, "d").await?;
        let _kubelet = kubelet(&ns).await?;
        wait_complete(&ns, "d").await?;
        wait_deployment(&ns, "d", "NewReplicaSetAvailable", |d| {
            reason(d, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
        })
        .await?;
        let ready = view(&ns, "d").await?;
        anyhow::Ok((unready, facts, ready))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        pod_facts,
        vec![PodFacts {
            generate_name_is_rs: true,
            hash_label_is_rs: true,
            controller: Some(("ReplicaSet/true".into(), true)),
        }]
    );
    let rs = unready.rs("H1");
    assert!(rs.hash_consistent, "{rs:#?}");
    assert_eq!(rs.name, "d-H1");
    assert_eq!(rs.controller, Some(("Deployment".into(), "d".into(), true)));
    assert_eq!(
        rs.annotations,
        labels(&[
            ("deployment.kubernetes.io/revision", "1"),
            ("deployment.kubernetes.io/desired-replicas", "3"),
            ("deployment.kubernetes.io/max-replicas", "4"),
            ("example.com/note", "copied"),
        ])
    );
    assert_eq!(
        unready.annotations.get(REVISION).map(String::as_str),
        Some("1")
    );
    assert_eq!(
        (
            unready.counts.replicas,
            unready.counts.updated,
            unready.counts.ready
        ),
        (3, 3, 0)
    );
    assert_eq!(
        (unready.counts.available, unready.counts.unavailable),
        (0, 3)
    );
    let available = unready.condition("Available").expect("Available");
    assert_eq!(
        (
            &available.status[..],
            &available.reason[..],
            &available.message[..]
        ),
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability."
        )
    );
    let progressing = unready.condition("Progressing").expect("Progressing");
    assert_eq!(progressing.status, "True");
    assert!(
        ["NewReplicaSetCreated", "ReplicaSetUpdated"].contains(&progressing.reason.as_str()),
        "{progressing:?}"
    );
    assert_eq!(
        unready.messages("ScalingReplicaSet"),
        ["Scaled up replica set d-H1 from 0 to 3".to_owned()].into()
    );
    let available = ready.condition("Available").expect("Available");
    assert_eq!(
        (&available.status[..], &available.reason[..]),
        ("True", "MinimumReplicasAvailable")
    );
    let progressing = ready.condition("Progressing").expect("Progressing");
    assert_eq!(
        progressing.message,
        "ReplicaSet \"d-H1\" has successfully progressed."
    );
    Ok(())
}

#[tokio::test]
async fn min_ready_seconds_holds_back_availability() -> anyhow::Result<()> {
    let Some(views) = both("d-minready", &[], |ns, _| async move {
        let d = with_spec(
            build("d", 4, "registry.invalid/img:1"),
            json!({ "minReadySeconds": 3600, "progressDeadlineSeconds": 7200 }),
        )?;
        create(&ns, &d).await?;
        wait_deployment(&ns, "d", "4 unready", |d| five(d) == (4, 4, 0, 0, 4)).await?;
        let unready = view(&ns, "d").await?;
        let _kubelet = kubelet(&ns).await?;
        wait_deployment(&ns, "d", "4 ready, none available", |d| {
            five(d) == (4, 4, 4, 0, 4)
                && reason(d, "Progressing").as_deref() == Some("ReplicaSetUpdated")
        })
        .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let ready = view(&ns, "d").await?;
        patch(&ns, "d", json!({ "spec": { "minReadySeconds": 1 } })).await?;
        wait_deployment(&ns, "d", "4 available", |d| five(d) == (4, 4, 4, 4, 0)).await?;
        wait_deployment(&ns, "d", "NewReplicaSetAvailable", |d| {
            reason(d, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
        })
        .await?;
        let available = view(&ns, "d").await?;
        anyhow::Ok([unready, ready, available])
    })
    .await?
    else {
        return Ok(());
    };
    let [unready, ready, available] = &views;
    assert_eq!(unready.rs("H1").min_ready_seconds, 3600);
    assert_eq!(
        ready.condition("Available").map(|c| c.reason.as_str()),
        Some("MinimumReplicasUnavailable")
    );
    assert_eq!(ready.replica_sets.len(), 1);
    assert_eq!(available.replica_sets.len(), 1, "no new ReplicaSet");
    assert_eq!(available.rs("H1").min_ready_seconds, 1);
    assert_eq!(
        available.condition("Available").map(|c| c.status.as_str()),
        Some("True")
    );
    Ok(())
}

/// What the scale subresource reports: spec.replicas (omitted when 0), status.replicas,
/// status.selector.
fn scale_facts(scale: &Scale) -> (i32, i32, Option<String>) {
    (
        scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
        scale.status.as_ref().map_or(0, |s| s.replicas),
        scale.status.as_ref().and_then(|s| s.selector.clone()),
    )
}

#[tokio::test]
async fn scale_subresource_resizes_a_recreate_deployment() -> anyhow::Result<()> {
    let Some((steps, last)) = both("d-scale", &[], |ns, _| async move {
        let _kubelet = kubelet(&ns).await?;
        let d = with_spec(
            build("d", 1, "registry.invalid/img:1"),
            json!({ "strategy": { "type": "Recreate" } }),
        )?;
        create(&ns, &d).await?;
        wait_complete(&ns, "d").await?;
        let api = ns.api::<Deployment>();
        let mut steps = Vec::new();
        for n in [2, 0, 1] {
            api.patch_scale(
                "d",
                &PatchParams::default(),
                &Patch::Merge(&json!({ "spec": { "replicas": n } })),
            )
            .await?;
            wait_deployment(&ns, "d", &format!("{n} replicas"), |d| {
                spec_replicas(d) == n && complete(d)
            })
            .await?;
            let sizes = view(&ns, "d").await?.sizes();
            let scale = scale_facts(&api.get_scale("d").await?);
            steps.push((sizes, scale));
        }
        let before = api.get("d").await?.metadata.generation;
        let changed = patch(&ns, "d", json!({ "spec": { "revisionHistoryLimit": 4 } })).await?;
        anyhow::ensure!(changed.metadata.generation > before, "generation bumped");
        wait_deployment(&ns, "d", "the new generation observed", |_| true).await?;
        anyhow::Ok((steps, view(&ns, "d").await?))
    })
    .await?
    else {
        return Ok(());
    };
    let selector = Some("name=test".to_owned());
    assert_eq!(
        steps,
        vec![
            (vec![("H1".into(), 2)], (2, 2, selector.clone())),
            (vec![("H1".into(), 0)], (0, 0, selector.clone())),
            (vec![("H1".into(), 1)], (1, 1, selector)),
        ]
    );
    assert_eq!(
        last.messages("ScalingReplicaSet"),
        [
            "Scaled up replica set d-H1 from 0 to 1",
            "Scaled up replica set d-H1 from 1 to 2",
            "Scaled down replica set d-H1 from 2 to 0",
            "Scaled up replica set d-H1 from 0 to 1",
        ]
        .map(String::from)
        .into()
    );
    Ok(())
}
