//! What a scheduler and a kubelet would do to pods, done by hand.
//!
//! Order matters as in a real cluster: bind first ([`bind_pod`]), then report status
//! ([`mark_pod_running_ready`] and friends). A bound pod deleted with a grace period only
//! gets a `deletionTimestamp`; its kubelet would finish the deletion, which here is
//! [`PodFinisher`]'s job.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kcm_virtual_node::{
    lifecycle::{self, Observed, Outcome, Target},
    status::{Addresses, status_patch},
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::nodes::node_ip;

/// The next unused pod IP of this process: 10.244.0.1, 10.244.0.2, …
pub fn next_pod_ip() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("10.244.{}.{}", (n >> 8) & 0xff, n & 0xff)
}

/// Binds a pod to a node through `pods/binding`, as the scheduler does. Taints and resources
/// are not checked.
pub async fn bind_pod(
    client: &Client,
    namespace: &str,
    pod: &str,
    node: &str,
) -> anyhow::Result<()> {
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": { "name": pod },
        "target": { "apiVersion": "v1", "kind": "Node", "name": node },
    });
    Api::<Pod>::namespaced(client.clone(), namespace)
        .create_subresource::<_, Value>("binding", pod, &PostParams::default(), &binding)
        .await
        .with_context(|| format!("binding pod {namespace}/{pod} to node {node}"))?;
    Ok(())
}

/// Reports a bound pod Running and Ready with `pod_ip`, its containers started and ready,
/// as its kubelet would once every readiness probe passed. The status is built by the virtual
/// node's code ([`kcm_virtual_node::status`]), as `kcm-virtual-node` writes it.
pub async fn mark_pod_running_ready(
    client: &Client,
    namespace: &str,
    pod: &str,
    pod_ip: &str,
) -> anyhow::Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let current = read_bound(&pods, namespace, pod).await?;
    let now = jiff::Timestamp::now();
    let started_at = match lifecycle::observe(&current) {
        Observed::Running { started_at, .. } => started_at,
        _ => now,
    };
    let target = Target::Running {
        started_at,
        restarts: 0,
        ready: true,
    };
    report(
        client,
        &pods,
        &current,
        &target,
        Some(pod_ip),
        "Running/Ready",
    )
    .await
}

/// Reports a running pod not Ready (its readiness probe started failing). Phase, IPs and
/// container states stay as they are.
pub async fn mark_pod_not_ready(
    client: &Client,
    namespace: &str,
    pod: &str,
) -> anyhow::Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let current = read_bound(&pods, namespace, pod).await?;
    let (started_at, restarts) = match lifecycle::observe(&current) {
        Observed::Running {
            started_at,
            restarts,
            ..
        } => (started_at, restarts),
        other => bail!("pod {namespace}/{pod} is not running ({other:?}); start it first"),
    };
    let target = Target::Running {
        started_at,
        restarts,
        ready: false,
    };
    let pod_ip = current.status.as_ref().and_then(|s| s.pod_ip.clone());
    report(
        client,
        &pods,
        &current,
        &target,
        pod_ip.as_deref(),
        "not Ready",
    )
    .await
}

/// Reports that a bound pod's containers all exited: phase `Succeeded` (exit code 0) or
/// `Failed` (exit code 1). Terminal phases cannot be left again.
pub async fn mark_pod_finished(
    client: &Client,
    namespace: &str,
    pod: &str,
    succeeded: bool,
) -> anyhow::Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let current = read_bound(&pods, namespace, pod).await?;
    let started_at = match lifecycle::observe(&current) {
        Observed::Running { started_at, .. } => Some(started_at),
        _ => None,
    };
    let (outcome, exit_code) = if succeeded {
        (Outcome::Succeeded, 0)
    } else {
        (Outcome::Failed, 1)
    };
    let target = Target::Finished {
        outcome,
        exit_code,
        started_at,
        reason: None,
        message: None,
    };
    let pod_ip = current.status.as_ref().and_then(|s| s.pod_ip.clone());
    report(
        client,
        &pods,
        &current,
        &target,
        pod_ip.as_deref(),
        outcome.phase(),
    )
    .await
}

async fn read_bound(pods: &Api<Pod>, namespace: &str, pod: &str) -> anyhow::Result<Pod> {
    let current = pods
        .get(pod)
        .await
        .with_context(|| format!("reading pod {namespace}/{pod}"))?;
    if current
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_none()
    {
        bail!("pod {namespace}/{pod} is not bound to a node; bind it first");
    }
    Ok(current)
}

async fn report(
    client: &Client,
    pods: &Api<Pod>,
    current: &Pod,
    target: &Target,
    pod_ip: Option<&str>,
    what: &str,
) -> anyhow::Result<Pod> {
    let node = current
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default();
    let addresses = Addresses {
        host_ip: host_ip(client, &node).await,
        pod_ip: pod_ip.map(str::to_owned),
    };
    let patch = status_patch(current, target, &addresses, jiff::Timestamp::now());
    let name = current.name_any();
    patch_status(pods, &name, &patch, what).await
}

/// Deletes a pod immediately (grace period 0), as a kubelet does once its containers are
/// gone. The UID precondition keeps a recreated pod of the same name safe.
pub async fn force_delete_pod(
    client: &Client,
    namespace: &str,
    pod: &str,
    uid: Option<String>,
) -> kube::Result<()> {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: uid.map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    Api::<Pod>::namespaced(client.clone(), namespace)
        .delete(pod, &params)
        .await
        .map(|_| ())
}

/// Whether the pod's Ready condition is True.
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Finishes the deletion of terminating pods, the last step a kubelet takes: every pod with
/// a `deletionTimestamp` in the namespace (or everywhere) is force-deleted. Stops on drop.
#[derive(Debug)]
pub struct PodFinisher {
    task: JoinHandle<()>,
}

impl PodFinisher {
    /// Starts watching `namespace` (`None`: all namespaces) on the current runtime.
    pub fn start(client: Client, namespace: Option<&str>) -> Self {
        let pods: Api<Pod> = match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let task = tokio::spawn(async move {
            let mut terminating = watcher(pods, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .try_filter(|pod| std::future::ready(pod.metadata.deletion_timestamp.is_some()))
                .boxed();
            while let Some(next) = terminating.next().await {
                match next {
                    Ok(pod) => finish_deletion(&client, &pod).await,
                    Err(e) => tracing::debug!("pod finisher watch: {e}"),
                }
            }
        });
        Self { task }
    }
}

impl Drop for PodFinisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn finish_deletion(client: &Client, pod: &Pod) {
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    match force_delete_pod(client, &namespace, &name, pod.uid()).await {
        Ok(()) => tracing::debug!(namespace, name, "finished the deletion of a pod"),
        // Already gone, or a new pod took the name: nothing left to do for this one.
        Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => {}
        Err(e) => tracing::warn!(namespace, name, "finishing the deletion of a pod: {e}"),
    }
}

async fn patch_status(
    pods: &Api<Pod>,
    pod: &str,
    patch: &Value,
    what: &str,
) -> anyhow::Result<Pod> {
    pods.patch_status(pod, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .with_context(|| format!("marking pod {pod} {what}"))
}

/// The node's InternalIP, or the address [`crate::nodes`] would have given it.
async fn host_ip(client: &Client, node: &str) -> String {
    let from_node = Api::<Node>::all(client.clone())
        .get_opt(node)
        .await
        .ok()
        .flatten()
        .and_then(|n| {
            n.status?
                .addresses?
                .into_iter()
                .find(|a| a.type_ == "InternalIP")
                .map(|a| a.address)
        });
    from_node.unwrap_or_else(|| node_ip(node))
}

#[cfg(test)]
mod tests;
