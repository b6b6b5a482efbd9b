//! Recreate (reference §3.7, §6 scenarios 11–12): every old replica goes before the new
//! ReplicaSet exists, a terminating pod (held by a finalizer) still counts as running, and a
//! Failed pod does not.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::{
    ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;
use testenv::pods::mark_pod_finished;

use crate::support::*;

const HOLD: &str = "example.com/hold";

#[derive(Debug, PartialEq)]
struct Outcome {
    view: View,
    /// The old ReplicaSet's spec.replicas when the new one was first seen.
    old_size_at_new: Option<i32>,
    /// The Failed pod is still there, owned by the old ReplicaSet.
    failed_pod_kept: bool,
}

#[tokio::test]
async fn recreate_waits_for_terminating_pods_and_ignores_failed_ones() -> anyhow::Result<()> {
    let Some(outcome) = both("d-recreate", &[], |ns, _| async move {
        let _kubelet = kubelet(&ns).await?;
        let d = with_spec(
            build("d", 3, "registry.invalid/img:1"),
            json!({ "strategy": { "type": "Recreate" } }),
        )?;
        create(&ns, &d).await?;
        wait_complete(&ns, "d").await?;
        let old_rs = replica_sets(&ns).await?.remove(0);
        let names: Vec<String> = wait_pods(&ns, "3 running pods", |p| p.len() == 3)
            .await?
            .iter()
            .map(|p| p.name_any())
            .collect();
        // One pod fails: it is replaced and stays (terminal pods are never deleted by the RS).
        mark_pod_finished(ns.client(), ns.name(), &names[0], false).await?;
        wait_pods(&ns, "a replacement for the failed pod", |p| p.len() == 4).await?;
        wait_complete(&ns, "d").await?;
        // Another is held by a finalizer: deleted, it stays terminating (still Running).
        let pod_api = ns.api::<Pod>();
        let hold = json!({ "metadata": { "finalizers": [HOLD] } });
        pod_api
            .patch(&names[1], &PatchParams::default(), &Patch::Merge(&hold))
            .await?;

        let sets = Observer::replica_sets(&ns).await?;
        set_image(&ns, "d", "registry.invalid/img:2", false).await?;
        wait_pods(&ns, "the held pod terminating, the others gone", |pods| {
            pods.len() == 2
                && pods
                    .iter()
                    .any(|p| p.name_any() == names[1] && p.metadata.deletion_timestamp.is_some())
        })
        .await?;
        wait_deployment(&ns, "d", "no active old replica", |d| {
            counts(d).replicas == 0
        })
        .await?;
        replica_sets_stay(
            &ns,
            Duration::from_secs(5),
            "no new replica set while a pod terminates",
            |l| l.len() == 1,
        )
        .await?;
        let release = json!({ "metadata": { "finalizers": null } });
        pod_api
            .patch(&names[1], &PatchParams::default(), &Patch::Merge(&release))
            .await?;
        wait_deployment(&ns, "d", "the new replica set rolled out", |d| {
            complete(d) && reason(d, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
        })
        .await?;
        let old_uid = old_rs.uid();
        let mut old_size = None;
        let mut old_size_at_new = None;
        for rs in sets.seen() {
            if rs.uid() == old_uid {
                old_size = Some(rs_spec_replicas(&rs));
            } else if old_size_at_new.is_none() {
                old_size_at_new = old_size;
            }
        }
        let failed = pod_api.get_opt(&names[0]).await?;
        let failed_pod_kept = failed.is_some_and(|p| {
            controller_of(&p.metadata).map(|r| Some(&r.uid)) == Some(old_uid.as_ref())
        });
        anyhow::Ok(Outcome {
            view: view(&ns, "d").await?,
            old_size_at_new,
            failed_pod_kept,
        })
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(outcome.old_size_at_new, Some(0));
    assert!(outcome.failed_pod_kept);
    let v = &outcome.view;
    assert_eq!(v.sizes(), vec![("H1".into(), 0), ("H2".into(), 3)]);
    assert_eq!(v.rs("H2").annotations[REVISION], "2");
    assert_eq!(
        v.messages("ScalingReplicaSet"),
        [
            "Scaled up replica set d-H1 from 0 to 3",
            "Scaled down replica set d-H1 from 3 to 0",
            "Scaled up replica set d-H2 from 0 to 3",
        ]
        .map(String::from)
        .into()
    );
    Ok(())
}
