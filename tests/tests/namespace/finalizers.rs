//! The namespace's own finalizers: other spec finalizers are kept (sorted, deduplicated) and
//! hold the namespace with five clear conditions; a metadata finalizer holds it after the
//! controller is done; a namespace whose spec finalizers are already empty is left alone; and
//! a controller restarted mid-termination picks the namespace up again.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::{held_deployment, support::*};

async fn configmap(h: &Harness, ns: &str) -> anyhow::Result<Api<ConfigMap>> {
    create(
        &h.client(),
        ns,
        "configmaps",
        json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "cm" },
        }),
    )
    .await?;
    Ok(Api::namespaced(h.client(), ns))
}

/// Waits until the controller has finalised (`kubernetes` gone from the spec finalizers).
async fn wait_finalized(
    h: &Harness,
    name: &str,
) -> anyhow::Result<k8s_openapi::api::core::v1::Namespace> {
    let api = h.namespaces();
    Ok(testenv::wait_for_object(
        &api,
        name,
        TIMEOUT,
        "the kubernetes finalizer to go",
        |ns| !spec_finalizers(ns).iter().any(|f| f == "kubernetes"),
    )
    .await?)
}

/// N2: another spec finalizer keeps a namespace Terminating after its content is gone, with
/// all five conditions clear; finalising it by hand removes it.
#[tokio::test]
async fn another_spec_finalizer_holds_the_namespace_with_clear_conditions() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let name = h
            .namespace("ns-spec-hold", &["example.com/hold"], &[])
            .await?;
        let configmaps = configmap(&h, &name).await?;
        h.delete_namespace(&name).await?;
        let finalized = wait_finalized(&h, &name).await?;
        let cm_left = configmaps.get_opt("cm").await?.is_some();
        h.finalize(&name, &[]).await?;
        h.wait_gone(&name, Duration::from_secs(10)).await?;
        anyhow::Ok((
            spec_finalizers(&finalized),
            finalized.status.as_ref().and_then(|s| s.phase.clone()),
            conditions(&finalized),
            cm_left,
        ))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours.0, ["example.com/hold"]);
    assert_eq!(ours.1.as_deref(), Some("Terminating"));
    assert_eq!(ours.2, all_clear());
    assert!(!ours.3, "the ConfigMap is deleted");
    assert_eq!(ours, upstream);
    Ok(())
}

/// The finalizers left behind are sorted and deduplicated.
#[tokio::test]
async fn remaining_spec_finalizers_are_sorted_and_deduplicated() -> anyhow::Result<()> {
    let holds = [
        "z.example.com/hold",
        "a.example.com/hold",
        "m.example.com/hold",
        "z.example.com/hold",
    ];
    let Some((ours, upstream)) = with_both(|h| async move {
        let name = h.namespace("ns-sorted", &holds, &[]).await?;
        let created = h.get(&name).await?.context("created")?;
        h.delete_namespace(&name).await?;
        let finalized = wait_finalized(&h, &name).await?;
        h.finalize(&name, &[]).await?;
        h.wait_gone(&name, Duration::from_secs(10)).await?;
        anyhow::Ok((spec_finalizers(&created), spec_finalizers(&finalized)))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        ours.0,
        [holds.as_slice(), &["kubernetes"]].concat(),
        "the apiserver appends kubernetes"
    );
    assert_eq!(
        ours.1,
        [
            "a.example.com/hold",
            "m.example.com/hold",
            "z.example.com/hold"
        ]
    );
    assert_eq!(ours, upstream);
    Ok(())
}

/// A metadata finalizer on the namespace itself: the controller deletes the content and
/// finalises, the apiserver keeps the namespace until that finalizer goes too.
#[tokio::test]
async fn a_metadata_finalizer_on_the_namespace_keeps_it_after_finalisation() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let name = h
            .namespace("ns-meta-hold", &[], &["example.com/meta"])
            .await?;
        let configmaps = configmap(&h, &name).await?;
        h.delete_namespace(&name).await?;
        let finalized = wait_finalized(&h, &name).await?;
        // Further passes change nothing: the spec finalizers are empty now.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let later = h
            .get(&name)
            .await?
            .context("held by its metadata finalizer")?;
        let cm_left = configmaps.get_opt("cm").await?.is_some();
        let patch = json!({ "metadata": { "finalizers": null } });
        h.namespaces()
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        h.wait_gone(&name, Duration::from_secs(10)).await?;
        anyhow::Ok((
            spec_finalizers(&finalized),
            later.metadata.finalizers.clone().unwrap_or_default(),
            conditions(&later),
            cm_left,
        ))
    })
    .await?
    else {
        return Ok(());
    };
    assert!(ours.0.is_empty());
    assert_eq!(ours.1, ["example.com/meta"]);
    assert_eq!(ours.2, all_clear());
    assert!(!ours.3);
    assert_eq!(ours, upstream);
    Ok(())
}

/// N9: spec finalizers emptied before the DELETE: the controller does nothing (content stays,
/// no conditions); a second DELETE removes the namespace (the apiserver does that).
#[tokio::test]
async fn a_namespace_without_spec_finalizers_is_left_to_the_apiserver() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let name = h.namespace("ns-no-spec", &[], &[]).await?;
        let configmaps = configmap(&h, &name).await?;
        h.finalize(&name, &[]).await?;
        h.delete_namespace(&name).await?;
        // The first pass comes 5 s after the delete; give it time to (not) act.
        tokio::time::sleep(Duration::from_secs(8)).await;
        let marked = h.get(&name).await?.context("marked Terminating only")?;
        let cm_left = configmaps.get_opt("cm").await?.is_some();
        h.delete_namespace(&name).await?;
        h.wait_gone(&name, Duration::from_secs(10)).await?;
        anyhow::Ok((
            marked.metadata.deletion_timestamp.is_some(),
            marked.status.as_ref().and_then(|s| s.phase.clone()),
            conditions(&marked).len(),
            cm_left,
        ))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours, (true, Some("Terminating".to_owned()), 0, true));
    assert_eq!(ours, upstream);
    Ok(())
}

/// N8: stopped while a finalizer holds content, the controller finds the terminating
/// namespace again when it starts (its initial list) and completes it.
#[tokio::test]
async fn a_restarted_controller_completes_a_terminating_namespace() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let name = h.namespace("ns-restart", &[], &[]).await?;
        let client = h.client();
        create(&client, &name, "deployments", held_deployment("d")).await?;
        h.delete_namespace(&name).await?;
        let before = h
            .wait_conditions(&name, "ContentRemaining True", |c| {
                condition(c, "NamespaceContentRemaining").is_some_and(|c| c.status == "True")
            })
            .await?;
        h.stop().await?;
        remove_finalizers(&client, &name, "apps/v1", "Deployment", "deployments", "d").await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let while_stopped = h.get(&name).await?.is_some();
        h.start().await?;
        let took = h.wait_gone(&name, TIMEOUT).await?;
        anyhow::Ok((before, while_stopped, took < Duration::from_secs(20)))
    })
    .await?
    else {
        return Ok(());
    };
    assert!(ours.1, "nobody finalises it while the controller is down");
    assert!(
        ours.2,
        "gone within the 5 s delay plus a pass after the restart"
    );
    assert_eq!(ours, upstream);
    Ok(())
}
