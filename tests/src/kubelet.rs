//! A stand-in for the scheduler and the kubelets of a namespace, for tests whose controllers
//! create pods (ReplicaSets, Deployments) and need them to become Ready and to go away.
//!
//! The kubelet part is the virtual node's own pod controller
//! ([`kcm_virtual_node::pod_controller`]) run in-process on nodes the test created (see
//! [`crate::nodes`]), so tests and `kcm-virtual-node` share one implementation: pods run and
//! become Ready (or follow their `kcm-virtual-node.io/*` annotations), get an IP from a
//! per-node CIDR, and terminating pods are deleted. The scheduler part binds every unbound pod
//! of the namespace to the given nodes, round robin, without looking at taints or resources.
//!
//! Unlike `kcm-virtual-node`, deletions are finished at once (no grace period), as the tests
//! written against the earlier stand-in expect; [`FakeKubelet::start_with_grace`] honours grace
//! periods up to a cap.

use std::{
    net::Ipv4Addr,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kcm_virtual_node::{
    ipam::Cidr,
    node_set::{NodeInfo, NodeSet},
    pod_controller::{PodController, PodControllerConfig, StatsSnapshot},
    provider::Simulated,
};
use kube::{
    Api, Client, ResourceExt,
    runtime::{WatchStreamExt, watcher},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{nodes::node_ip, pods::bind_pod};

/// Workers of each stand-in kubelet.
const WORKERS: usize = 8;

/// A pod CIDR of its own for each node of each stand-in kubelet of this process, so pod IPs
/// never repeat within a test binary: consecutive /22s of 10.128.0.0/9.
fn next_pod_cidr() -> Cidr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % (1 << 13);
    let base = u32::from(Ipv4Addr::new(10, 128, 0, 0)) + (n << 10);
    format!("{}/22", Ipv4Addr::from(base))
        .parse()
        .unwrap_or_else(|e| panic!("a /22 inside 10.128.0.0/9 is a valid CIDR: {e}"))
}

/// Binds, runs and finishes the pods of one namespace until dropped.
pub struct FakeKubelet {
    controller: Arc<PodController<Simulated>>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeKubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKubelet").finish_non_exhaustive()
    }
}

impl FakeKubelet {
    /// Starts on the current runtime, finishing deletions at once. `nodes` must exist (see
    /// [`crate::nodes`]) and must not be empty.
    pub fn start(client: Client, namespace: &str, nodes: Vec<String>) -> Self {
        Self::start_with_grace(client, namespace, nodes, Duration::ZERO)
    }

    /// Like [`start`](Self::start), but a deleted pod's containers get its grace period, at
    /// most `max_grace_period`, before the deletion is finished.
    pub fn start_with_grace(
        client: Client,
        namespace: &str,
        nodes: Vec<String>,
        max_grace_period: Duration,
    ) -> Self {
        assert!(!nodes.is_empty(), "FakeKubelet needs at least one node");
        let node_set = NodeSet::new(nodes.iter().map(|name| NodeInfo {
            name: name.clone(),
            internal_ip: node_ip(name).parse().unwrap_or(Ipv4Addr::LOCALHOST),
            pod_cidr: next_pod_cidr(),
            max_pods: None,
        }));
        let controller = PodController::new(
            client.clone(),
            Arc::new(node_set),
            Simulated::default(),
            PodControllerConfig {
                namespace: Some(namespace.to_owned()),
                workers: WORKERS,
                max_grace_period,
            },
        );
        let cancel = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(controller.clone().run(cancel.clone())),
            tokio::spawn(bind_unscheduled(client, namespace.to_owned(), nodes)),
        ];
        Self {
            controller,
            cancel,
            tasks,
        }
    }

    /// What the kubelet part has done so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.controller.stats()
    }
}

/// The scheduler part: binds each unbound pod of the namespace to the next node.
async fn bind_unscheduled(client: Client, namespace: String, nodes: Vec<String>) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let config = watcher::Config::default().fields("spec.nodeName=");
    let mut unbound = watcher(pods, config)
        .default_backoff()
        .applied_objects()
        .boxed();
    let mut turn = 0usize;
    while let Some(next) = unbound.next().await {
        let pod = match next {
            Ok(pod) => pod,
            Err(e) => {
                tracing::debug!("fake scheduler watch: {e}");
                continue;
            }
        };
        if pod.metadata.deletion_timestamp.is_some() {
            // An unbound pod is deleted by the API server itself: nothing to schedule.
            continue;
        }
        let node = &nodes[turn % nodes.len()];
        turn += 1;
        let name = pod.name_any();
        if let Err(e) = bind_pod(&client, &namespace, &name, node).await {
            // Usually a race with a deletion or an earlier binding; nothing to retry.
            tracing::debug!(namespace, name, "fake scheduler: {e:#}");
        }
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.cancel.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}
