//! Pods that run: `kcm-virtual-node` (the release build) for the kubelets and a binder in the
//! harness for the scheduler, both as `restricted-user`, so neither appears among the
//! contender's requests.

use std::{path::PathBuf, process::Command, time::Duration};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client, ResourceExt,
    runtime::{WatchStreamExt, watcher},
};
use tokio::task::JoinHandle;

use super::{measure, plane::ControlPlane, target_dir};
use crate::{ManagedProcess, pods::bind_pod};

/// Node names are `<NODE_PREFIX>-1`, `<NODE_PREFIX>-2`, ...
pub const NODE_PREFIX: &str = "bench-node";
/// Bindings the binder keeps in flight.
const BIND_CONCURRENCY: usize = 32;

/// The virtual node binary: `KCM_VIRTUAL_NODE_BINARY`, else the release build.
pub fn virtual_node_binary() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("KCM_VIRTUAL_NODE_BINARY")
        .filter(|p| !p.is_empty())
        .map_or_else(
            || target_dir().join("release/kcm-virtual-node"),
            PathBuf::from,
        );
    anyhow::ensure!(
        path.is_file(),
        "{} is missing (cargo build --release -p kcm-virtual-node)",
        path.display()
    );
    Ok(path)
}

/// A running virtual node with `nodes` nodes and the binder; both stop on drop.
pub struct PodRunner {
    process: ManagedProcess,
    binder: JoinHandle<()>,
}

impl PodRunner {
    /// Starts both and waits until the virtual node's pod watch is synced. The harness
    /// binding (`ControlPlane::harness_client`) must exist.
    pub async fn start(
        plane: &ControlPlane,
        harness: Client,
        nodes: usize,
        max_pods: usize,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(virtual_node_binary()?);
        command.args([
            format!(
                "--kubeconfig={}",
                plane.dir().join("restricted.kubeconfig").display()
            ),
            format!("--nodes={nodes}"),
            format!("--node-name-prefix={NODE_PREFIX}"),
            format!("--max-pods={max_pods}"),
            // 2048 node subnets of 4094 addresses each.
            "--pod-cidr=10.128.0.0/9".to_owned(),
            "--node-cidr-mask-size=20".to_owned(),
            // Deleted pods go at once, as the upstream tests' kubelets-less clusters expect.
            "--max-grace-period=0s".to_owned(),
            "--workers=64".to_owned(),
        ]);
        let mut process =
            ManagedProcess::spawn_in(&plane.processes_dir(), "kcm-virtual-node", command)?;
        process
            .wait_for_log("pod watch synced", Duration::from_secs(60))
            .await?;
        let names: Vec<String> = (1..=nodes).map(|i| format!("{NODE_PREFIX}-{i}")).collect();
        let binder = tokio::spawn(bind_unscheduled(harness, names));
        Ok(Self { process, binder })
    }

    /// The virtual node process (to watch it while polling).
    pub fn process_mut(&mut self) -> &mut ManagedProcess {
        &mut self.process
    }

    /// The virtual node's CPU seconds so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        measure::cpu_seconds(self.process.pid()).ok()
    }
}

impl Drop for PodRunner {
    fn drop(&mut self) {
        self.binder.abort();
    }
}

/// The scheduler's part: binds every unbound pod of the cluster to the next node.
async fn bind_unscheduled(client: Client, nodes: Vec<String>) {
    let pods: Api<Pod> = Api::all(client.clone());
    let config = watcher::Config::default().fields("spec.nodeName=");
    watcher(pods, config)
        .default_backoff()
        .applied_objects()
        .filter_map(|event| async move { event.ok() })
        .filter(|pod| std::future::ready(pod.metadata.deletion_timestamp.is_none()))
        .enumerate()
        .for_each_concurrent(BIND_CONCURRENCY, |(turn, pod)| {
            let (client, node) = (client.clone(), nodes[turn % nodes.len()].clone());
            async move {
                let namespace = pod.namespace().unwrap_or_default();
                if let Err(e) = bind_pod(&client, &namespace, &pod.name_any(), &node).await {
                    // Mostly a pod bound or deleted meanwhile: nothing to retry.
                    tracing::debug!("bench binder: {e:#}");
                }
            }
        })
        .await;
}
