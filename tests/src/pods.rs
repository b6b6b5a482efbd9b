//! What a scheduler and a kubelet would do to pods, done by hand.
//!
//! Order matters as in a real cluster: bind first ([`bind_pod`]), then report status
//! ([`mark_pod_running_ready`] and friends). A bound pod deleted with a grace period only
//! gets a `deletionTimestamp`; its kubelet would finish the deletion, which here is
//! [`PodFinisher`]'s job.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::{
    api::core::v1::{Node, Pod, PodCondition},
    apimachinery::pkg::apis::meta::v1::Time,
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
/// as its kubelet would once every readiness probe passed.
pub async fn mark_pod_running_ready(
    client: &Client,
    namespace: &str,
    pod: &str,
    pod_ip: &str,
) -> anyhow::Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let current = pods
        .get(pod)
        .await
        .with_context(|| format!("reading pod {namespace}/{pod}"))?;
    let Some(node) = current.spec.as_ref().and_then(|s| s.node_name.clone()) else {
        bail!("pod {namespace}/{pod} is not bound to a node; bind it first");
    };
    let host_ip = host_ip(client, &node).await;
    let now = Time(jiff::Timestamp::now());
    let status = current.status.clone().unwrap_or_default();
    let existing = status.conditions.unwrap_or_default();
    let conditions: Vec<PodCondition> = ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
        .into_iter()
        .map(|type_| condition(&existing, type_, true, None, &now))
        .collect();
    let container_statuses: Vec<Value> = containers(&current)
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "imageID": "", "ready": true, "started": true,
                "restartCount": 0,
                "state": { "running": { "startedAt": now } },
            })
        })
        .collect();
    let patch = json!({ "status": {
        "phase": "Running",
        "hostIP": host_ip, "hostIPs": [{ "ip": host_ip }],
        "podIP": pod_ip, "podIPs": [{ "ip": pod_ip }],
        "startTime": status.start_time.unwrap_or_else(|| now.clone()),
        "conditions": conditions,
        "containerStatuses": container_statuses,
    }});
    patch_status(&pods, pod, &patch, "Running/Ready").await
}

/// Reports a running pod not Ready (its readiness probe started failing). Phase, IPs and
/// container states stay as they are.
pub async fn mark_pod_not_ready(
    client: &Client,
    namespace: &str,
    pod: &str,
) -> anyhow::Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let current = pods
        .get(pod)
        .await
        .with_context(|| format!("reading pod {namespace}/{pod}"))?;
    let now = Time(jiff::Timestamp::now());
    let status = current.status.clone().unwrap_or_default();
    let existing = status.conditions.unwrap_or_default();
    let reason = Some("ContainersNotReady");
    let conditions = vec![
        condition(&existing, "ContainersReady", false, reason, &now),
        condition(&existing, "Ready", false, reason, &now),
    ];
    let container_statuses: Vec<Value> = status
        .container_statuses
        .unwrap_or_default()
        .into_iter()
        .map(|mut s| {
            s.ready = false;
            serde_json::to_value(s).unwrap_or(Value::Null)
        })
        .collect();
    let patch = json!({ "status": {
        "conditions": conditions,
        "containerStatuses": container_statuses,
    }});
    patch_status(&pods, pod, &patch, "not Ready").await
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
    let current = pods
        .get(pod)
        .await
        .with_context(|| format!("reading pod {namespace}/{pod}"))?;
    let now = Time(jiff::Timestamp::now());
    let existing = current
        .status
        .clone()
        .unwrap_or_default()
        .conditions
        .unwrap_or_default();
    let reason = Some("PodCompleted");
    let (phase, exit_code) = if succeeded {
        ("Succeeded", 0)
    } else {
        ("Failed", 1)
    };
    let container_statuses: Vec<Value> = containers(&current)
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "imageID": "", "ready": false, "started": false,
                "restartCount": 0,
                "state": { "terminated": {
                    "exitCode": exit_code, "reason": if succeeded { "Completed" } else { "Error" },
                    "startedAt": now, "finishedAt": now,
                }},
            })
        })
        .collect();
    let patch = json!({ "status": {
        "phase": phase,
        "conditions": [
            condition(&existing, "ContainersReady", false, reason, &now),
            condition(&existing, "Ready", false, reason, &now),
        ],
        "containerStatuses": container_statuses,
    }});
    patch_status(&pods, pod, &patch, phase).await
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

fn containers(pod: &Pod) -> impl Iterator<Item = (String, String)> + '_ {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
}

/// A pod condition with the given status. The transition time moves only when the status
/// changes, as the kubelet does: `minReadySeconds` counts from the Ready transition.
fn condition(
    existing: &[PodCondition],
    type_: &str,
    ok: bool,
    reason: Option<&str>,
    now: &Time,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let previous = existing.iter().find(|c| c.type_ == type_);
    let last_transition_time = match previous {
        Some(c) if c.status == status => {
            c.last_transition_time.clone().or_else(|| Some(now.clone()))
        }
        _ => Some(now.clone()),
    };
    PodCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        last_transition_time,
        ..PodCondition::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_ips_are_unique() {
        let a = next_pod_ip();
        let b = next_pod_ip();
        assert_ne!(a, b);
        assert!(a.starts_with("10.244."));
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_its_status_holds() {
        let then = Time("2020-01-01T00:00:00Z".parse().unwrap());
        let now = Time(jiff::Timestamp::now());
        let existing = vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(then.clone()),
            ..PodCondition::default()
        }];
        let same = condition(&existing, "Ready", true, None, &now);
        assert_eq!(same.last_transition_time, Some(then));
        let flipped = condition(&existing, "Ready", false, Some("ContainersNotReady"), &now);
        assert_eq!(flipped.last_transition_time, Some(now.clone()));
        assert_eq!(flipped.status, "False");
        let new = condition(&existing, "Initialized", true, None, &now);
        assert_eq!(new.last_transition_time, Some(now));
    }
}
