//! A stand-in for the scheduler and the kubelets of a namespace, for tests whose controllers
//! create pods (ReplicaSets, Deployments) and need them to become Ready and to go away.
//!
//! For every pod of the namespace it takes the next step a real cluster would take:
//! unbound → bound to one of the given nodes (round robin), bound and Pending → Running and
//! Ready with a fresh pod IP, terminating → deleted. It reacts to watch events, so each step
//! happens shortly after the previous one was written.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client, ResourceExt,
    runtime::{WatchStreamExt, watcher},
};
use tokio::task::JoinHandle;

use crate::pods::{bind_pod, finish_deletion, mark_pod_running_ready, next_pod_ip};

/// What the fake kubelet will do next with a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NextStep {
    /// Finish a deletion.
    Delete,
    /// Schedule it.
    Bind,
    /// Start it: Running, Ready, with an IP.
    Start,
    /// Running already, or finished: nothing to do.
    Nothing,
}

fn next_step(pod: &Pod) -> NextStep {
    if pod.metadata.deletion_timestamp.is_some() {
        return NextStep::Delete;
    }
    let bound = pod.spec.as_ref().is_some_and(|s| s.node_name.is_some());
    if !bound {
        return NextStep::Bind;
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    match phase {
        None | Some("Pending") => NextStep::Start,
        _ => NextStep::Nothing,
    }
}

/// Binds, starts and finishes the pods of one namespace until dropped.
#[derive(Debug)]
pub struct FakeKubelet {
    task: JoinHandle<()>,
}

impl FakeKubelet {
    /// Starts on the current runtime. `nodes` must exist (see [`crate::nodes`]) and must not
    /// be empty.
    pub fn start(client: Client, namespace: &str, nodes: Vec<String>) -> Self {
        assert!(!nodes.is_empty(), "FakeKubelet needs at least one node");
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let namespace = namespace.to_owned();
        let task = tokio::spawn(async move {
            let turn = AtomicUsize::new(0);
            let mut events = watcher(pods, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Some(next) = events.next().await {
                let pod = match next {
                    Ok(pod) => pod,
                    Err(e) => {
                        tracing::debug!("fake kubelet watch: {e}");
                        continue;
                    }
                };
                let name = pod.name_any();
                let result = match next_step(&pod) {
                    NextStep::Delete => {
                        finish_deletion(&client, &pod).await;
                        Ok(())
                    }
                    NextStep::Bind => {
                        let node = &nodes[turn.fetch_add(1, Ordering::Relaxed) % nodes.len()];
                        bind_pod(&client, &namespace, &name, node).await
                    }
                    NextStep::Start => {
                        mark_pod_running_ready(&client, &namespace, &name, &next_pod_ip())
                            .await
                            .map(|_| ())
                    }
                    NextStep::Nothing => Ok(()),
                };
                if let Err(e) = result {
                    // Usually a race with a deletion; the next event for the pod retries.
                    tracing::debug!(namespace, name, "fake kubelet: {e:#}");
                }
            }
        });
        Self { task }
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::{PodSpec, PodStatus},
        apimachinery::pkg::apis::meta::v1::Time,
    };

    use super::*;

    fn pod(node: Option<&str>, phase: Option<&str>, deleting: bool) -> Pod {
        let mut pod = Pod {
            spec: Some(PodSpec {
                node_name: node.map(str::to_owned),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: phase.map(str::to_owned),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        if deleting {
            pod.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
        }
        pod
    }

    #[test]
    fn each_pod_gets_the_step_a_cluster_would_take_next() {
        assert_eq!(
            next_step(&pod(None, Some("Pending"), false)),
            NextStep::Bind
        );
        assert_eq!(
            next_step(&pod(Some("n"), Some("Pending"), false)),
            NextStep::Start
        );
        assert_eq!(next_step(&pod(Some("n"), None, false)), NextStep::Start);
        assert_eq!(
            next_step(&pod(Some("n"), Some("Running"), false)),
            NextStep::Nothing
        );
        assert_eq!(
            next_step(&pod(Some("n"), Some("Succeeded"), false)),
            NextStep::Nothing
        );
        assert_eq!(
            next_step(&pod(Some("n"), Some("Running"), true)),
            NextStep::Delete
        );
        assert_eq!(next_step(&pod(None, None, true)), NextStep::Delete);
    }
}
