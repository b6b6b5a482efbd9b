//! Which pods a scale-down deletes: unscheduled and not-ready ones first, then by
//! pod-deletion-cost; both managers must pick the same pods.

use super::*;

/// Creates `replicas` pods, binds all but the `unbound` first ones to a fresh node and marks
/// them Running and Ready. Returns the pod names in a stable order.
pub(crate) async fn ready_pods(
    ns: &TestNamespace,
    name: &str,
    replicas: i32,
    unbound: usize,
) -> anyhow::Result<Vec<String>> {
    let client = ns.client().clone();
    let node = format!("{}-node", ns.name());
    create_ready_node(&client, &node).await?;
    ns.api::<ReplicaSet>()
        .create(
            &PostParams::default(),
            &ReplicaSet::build(name, replicas, &[("app", name)], &[]),
        )
        .await?;
    let pods = wait_pods(ns, "pods created", |p| p.len() == replicas as usize).await?;
    let names: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
    for pod in &names[unbound..] {
        bind_pod(&client, ns.name(), pod, &node).await?;
        mark_pod_running_ready(&client, ns.name(), pod, &next_pod_ip()).await?;
    }
    Ok(names)
}

/// Which of `names` were chosen for deletion (gone, or terminating because they are bound).
async fn chosen_for_deletion(
    ns: &TestNamespace,
    names: &[String],
    expected: usize,
) -> anyhow::Result<Vec<usize>> {
    let pods = wait_pods(ns, "the scale-down", |pods| {
        let active = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .count();
        active == names.len() - expected
    })
    .await?;
    Ok(names
        .iter()
        .enumerate()
        .filter(|(_, name)| {
            !pods
                .iter()
                .any(|p| &p.name_any() == *name && p.metadata.deletion_timestamp.is_none())
        })
        .map(|(i, _)| i)
        .collect())
}

#[tokio::test]
async fn scale_down_deletes_unscheduled_and_not_ready_pods_first() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rs-order", &[], |ns, _| async move {
        // Pod 0 stays unscheduled; 1..4 run and are Ready; then pod 2 stops being Ready.
        let names = ready_pods(&ns, "order", 4, 1).await?;
        mark_pod_not_ready(ns.client(), ns.name(), &names[2]).await?;
        wait_status::<ReplicaSet>(&ns, "order", "2 ready", |s| s.ready_replicas == 2).await?;
        scale::<ReplicaSet>(&ns, "order", 2).await?;
        chosen_for_deletion(&ns, &names, 2).await
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours, vec![0, 2]);
    assert_eq!(ours, upstream);
    Ok(())
}

#[tokio::test]
async fn scale_down_honours_pod_deletion_cost() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("rs-cost", &[], |ns, _| async move {
        let names = ready_pods(&ns, "cost", 3, 0).await?;
        for (name, cost) in names.iter().zip(["100", "-5", "50"]) {
            let patch = json!({ "metadata": { "annotations": {
                "controller.kubernetes.io/pod-deletion-cost": cost } } });
            ns.api::<Pod>()
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        wait_status::<ReplicaSet>(&ns, "cost", "3 ready", |s| s.ready_replicas == 3).await?;
        scale::<ReplicaSet>(&ns, "cost", 1).await?;
        chosen_for_deletion(&ns, &names, 2).await
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours, vec![1, 2], "the most expensive pod stays");
    assert_eq!(ours, upstream);
    Ok(())
}
