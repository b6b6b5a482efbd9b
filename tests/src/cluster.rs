//! The rest of a real cluster beside the test environment's control plane: the upstream
//! kube-scheduler and `kcm-virtual-node` as child processes, the way `make up` runs them.
//!
//! [`virtual_node_binary`] builds `kcm-virtual-node` once per test binary (`KCM_VIRTUAL_NODE_BINARY`
//! names one to use instead, a release build for measurements, say).

use std::{path::PathBuf, process::Command, sync::OnceLock, time::Duration};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client, api::ListParams};

use crate::{
    ManagedProcess, TestEnv,
    env::Identity,
    wait::{Check, wait_until},
};

/// The kcm-virtual-node binary, built on first use.
pub fn virtual_node_binary() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            crate::kcm::build_binary("kcm-virtual-node", "KCM_VIRTUAL_NODE_BINARY")
                .map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// A running `kcm-virtual-node`; killed when dropped (its Node objects stay, as a kubelet's do).
#[derive(Debug)]
pub struct VirtualNode {
    process: ManagedProcess,
    names: Vec<String>,
}

impl VirtualNode {
    /// Starts `nodes` nodes named `<prefix>-1`… with the admin identity, plus `args`, and
    /// waits until they are registered and the pod watch is synced.
    pub async fn start(
        env: &TestEnv,
        prefix: &str,
        nodes: usize,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(virtual_node_binary()?);
        command
            .arg(format!(
                "--kubeconfig={}",
                env.kubeconfig(Identity::Admin).display()
            ))
            .arg(format!("--nodes={nodes}"))
            .arg(format!("--node-name-prefix={prefix}"))
            .args(args);
        let mut process = env.spawn("kcm-virtual-node", command)?;
        process
            .wait_for_log("pod watch synced", Duration::from_secs(60))
            .await
            .context("waiting for kcm-virtual-node to start")?;
        let names = (1..=nodes).map(|i| format!("{prefix}-{i}")).collect();
        Ok(Self { process, names })
    }

    /// The node names, `<prefix>-1`…
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn process(&self) -> &ManagedProcess {
        &self.process
    }

    pub fn process_mut(&mut self) -> &mut ManagedProcess {
        &mut self.process
    }

    /// Deletes this process's Node objects (so a scheduler never picks them after the test).
    pub async fn delete_nodes(&self, client: &Client) -> anyhow::Result<()> {
        let nodes: Api<Node> = Api::all(client.clone());
        for name in &self.names {
            match nodes.delete(name, &Default::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => return Err(e).with_context(|| format!("deleting node {name}")),
            }
        }
        Ok(())
    }
}

/// The upstream kube-scheduler of the environment's tag; stopped on drop.
#[derive(Debug)]
pub struct KubeScheduler {
    process: ManagedProcess,
}

impl KubeScheduler {
    /// Starts it with the admin identity, no leader election and no serving port, and waits
    /// until it runs; pods created before its caches sync are scheduled once they have.
    pub async fn start(env: &TestEnv) -> anyhow::Result<Self> {
        let binary = env.bin_dir().join("kube-scheduler");
        if !binary.is_file() {
            bail!(
                "{} does not exist; run tests/env/build.sh",
                binary.display()
            );
        }
        let mut command = Command::new(&binary);
        command.args([
            format!("--kubeconfig={}", env.kubeconfig(Identity::Admin).display()),
            "--leader-elect=false".to_owned(),
            "--secure-port=0".to_owned(),
            "--v=2".to_owned(),
        ]);
        let mut process = env.spawn("kube-scheduler", command)?;
        process
            .wait_for_log("Starting Kubernetes Scheduler", Duration::from_secs(60))
            .await
            .context("waiting for kube-scheduler to start")?;
        Ok(Self { process })
    }

    pub fn process(&self) -> &ManagedProcess {
        &self.process
    }
}

/// Waits until every node in `names` exists and is Ready.
pub async fn wait_for_ready_nodes(
    client: &Client,
    names: &[String],
    timeout: Duration,
) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    wait_until(timeout, "the virtual nodes to be Ready", || async {
        let listed = match nodes.list(&ListParams::default()).await {
            Ok(list) => list.items,
            Err(e) => return Check::NotYet(format!("listing nodes: {e}")),
        };
        let ready: Vec<&str> = listed
            .iter()
            .filter(|n| crate::nodes::is_node_ready(n))
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        if names.iter().all(|n| ready.contains(&n.as_str())) {
            Check::Done(())
        } else {
            Check::NotYet(format!("ready: {ready:?}"))
        }
    })
    .await?;
    Ok(())
}
