//! Pods are deleted first, and nothing else while any remains (`OrderedNamespaceDeletion`):
//! the grace-period estimate, a pod that never goes (no kubelet) turning into a content
//! failure, and finished pods going at once.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::{Api, Client};
use serde_json::json;
use testenv::pods::{force_delete_pod, mark_pod_finished, mark_pod_running_ready, next_pod_ip};

use crate::support::*;

const NODE: &str = "ns-test-node";

async fn ensure_node(client: &Client) -> anyhow::Result<()> {
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    if nodes.get_opt(NODE).await?.is_none() {
        testenv::nodes::create_ready_node(client, NODE).await?;
    }
    Ok(())
}

/// A pod bound to the test node (so deleting it waits for a kubelet), optionally with its own
/// grace period.
async fn scheduled_pod(
    client: &Client,
    ns: &str,
    name: &str,
    grace: Option<i64>,
) -> anyhow::Result<()> {
    let mut spec = json!({
        "nodeName": NODE,
        "containers": [{ "name": "c", "image": "registry.invalid/x:1" }],
    });
    if let Some(grace) = grace {
        spec["terminationGracePeriodSeconds"] = json!(grace);
    }
    create(
        client,
        ns,
        "pods",
        json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name }, "spec": spec,
        }),
    )
    .await
}

async fn configmap(client: &Client, ns: &str) -> anyhow::Result<()> {
    create(
        client,
        ns,
        "configmaps",
        json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "cm" },
        }),
    )
    .await
}

/// The conditions without ContentRemaining and FinalizersRemaining, which differ on purpose
/// while pods remain (kubernetes#138208, README).
fn without_totals(conditions: &[Condition]) -> Vec<Condition> {
    conditions
        .iter()
        .filter(|c| {
            !matches!(
                c.type_.as_str(),
                "NamespaceContentRemaining" | "NamespaceFinalizersRemaining"
            )
        })
        .cloned()
        .collect()
}

/// What upstream and kcm-rs say about remaining content while only pods remain.
fn totals_while_pods_remain(manager: Manager, conditions: &[Condition]) {
    let remaining = condition(conditions, "NamespaceContentRemaining").cloned();
    let expected = match manager {
        // Upstream returns before counting (the bug): content reported as removed.
        Manager::Upstream => Condition::new(
            "NamespaceContentRemaining",
            "False",
            "ContentRemoved",
            "All content successfully removed",
        ),
        // kcm-rs reports the pods.
        Manager::KcmRs => Condition::new(
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            "Some resources are remaining: pods. has 1 resource instances",
        ),
    };
    assert_eq!(remaining, Some(expected), "{manager:?}");
}

/// N5/N6: a running pod (30 s grace, no kubelet) is deleted first and the ConfigMap waits;
/// once the pod is gone, the ConfigMap and the namespace follow.
#[tokio::test]
async fn pods_go_first_and_other_content_waits_for_them() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let client = h.client();
        ensure_node(&client).await?;
        let name = h.namespace("ns-pods-first", &[], &[]).await?;
        scheduled_pod(&client, &name, "p", None).await?;
        mark_pod_running_ready(&client, &name, "p", &next_pod_ip()).await?;
        configmap(&client, &name).await?;
        h.delete_namespace(&name).await?;
        let conditions = h
            .wait_conditions(&name, "the first pass's conditions", |c| c.len() == 5)
            .await?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &name);
        let pod = pods.get("p").await?;
        let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &name);
        let cm_kept = configmaps.get_opt("cm").await?.is_some();
        totals_while_pods_remain(h.manager, &conditions);
        force_delete_pod(&client, &name, "p", None).await?;
        let took = h.wait_gone(&name, TIMEOUT).await?;
        anyhow::Ok((
            pod.metadata.deletion_timestamp.is_some(),
            pod.metadata.deletion_grace_period_seconds,
            cm_kept,
            without_totals(&conditions),
            took < Duration::from_secs(25),
        ))
    })
    .await?
    else {
        return Ok(());
    };
    assert!(ours.0, "the pod is being deleted");
    assert_eq!(ours.1, Some(30));
    assert!(ours.2, "the ConfigMap waits for the pod");
    assert_eq!(ours.3, without_totals(&all_clear()));
    assert!(ours.4, "gone within a 16 s requeue after the pod went");
    assert_eq!(ours, upstream);
    Ok(())
}

/// A pod that outlives its grace period (no kubelet finishes it) is unexpected content: the
/// content-failure condition names it and the namespace stays until the pod is removed.
#[tokio::test]
async fn a_pod_stuck_past_its_grace_period_is_a_content_failure() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let client = h.client();
        ensure_node(&client).await?;
        let name = h.namespace("ns-stuck-pod", &[], &[]).await?;
        scheduled_pod(&client, &name, "stuck", Some(2)).await?;
        mark_pod_running_ready(&client, &name, "stuck", &next_pod_ip()).await?;
        h.delete_namespace(&name).await?;
        let conditions = h
            .wait_conditions(&name, "a content failure", |c| {
                condition(c, "NamespaceDeletionContentFailure").is_some_and(|c| c.status == "True")
            })
            .await?;
        totals_while_pods_remain(h.manager, &conditions);
        let namespace = h.get(&name).await?.context("held namespace")?;
        force_delete_pod(&client, &name, "stuck", None).await?;
        h.wait_gone(&name, Duration::from_secs(90)).await?;
        anyhow::Ok((without_totals(&conditions), spec_finalizers(&namespace)))
    })
    .await?
    else {
        return Ok(());
    };
    let mut expected = without_totals(&all_clear());
    expected[2] = Condition::new(
        "NamespaceDeletionContentFailure",
        "True",
        "ContentDeletionFailed",
        "Failed to delete all resource types, 1 remaining: unexpected items still remain in \
         namespace: <ns> for gvr: /v1, Resource=pods",
    );
    assert_eq!(ours.0, expected);
    assert_eq!(ours.1, ["kubernetes"]);
    assert_eq!(ours, upstream);
    Ok(())
}

/// Finished pods (Succeeded, Failed) count for no grace period and are removed at once, so the
/// namespace goes on the first pass, without a 16 s wait.
#[tokio::test]
async fn finished_pods_go_at_once() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let client = h.client();
        ensure_node(&client).await?;
        let name = h.namespace("ns-done-pods", &[], &[]).await?;
        for (pod, succeeded) in [("ok", true), ("failed", false)] {
            scheduled_pod(&client, &name, pod, None).await?;
            mark_pod_finished(&client, &name, pod, succeeded).await?;
        }
        configmap(&client, &name).await?;
        h.delete_namespace(&name).await?;
        let took = h.wait_gone(&name, TIMEOUT).await?;
        anyhow::Ok(took < Duration::from_secs(12))
    })
    .await?
    else {
        return Ok(());
    };
    assert!(ours, "gone on the first pass");
    assert_eq!(ours, upstream);
    Ok(())
}
