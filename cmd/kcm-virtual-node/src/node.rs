//! The node part: register Node objects and keep them alive as a kubelet does.
//!
//! A kubelet registers its Node with a full status (conditions, addresses, capacity, node
//! info), renews its Lease in `kube-node-lease` every quarter of the lease duration (the
//! node-lifecycle controller's main heartbeat), and rewrites its status when something
//! changes or at least every `nodeStatusReportFrequency` (5 min). [`heartbeat`] does exactly
//! that for one node until cancelled or until its Node object is deleted.

use std::{collections::BTreeMap, time::Duration};

use anyhow::Context;
use jiff::Timestamp;
use k8s_openapi::{
    api::{
        coordination::v1::{Lease, LeaseSpec},
        core::v1::{Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo, Taint},
    },
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{MicroTime, OwnerReference, Time},
    },
};
use kube::{
    Api, Client,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::node_set::NodeInfo;

/// Namespace of node Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// Label on every Node this binary registers.
pub const MANAGED_LABEL: &str = "kcm-virtual-node.io/managed";
/// Label `type=virtual-kubelet`, as virtual-kubelet providers set it, so workloads can select
/// or avoid virtual nodes the usual way.
pub const TYPE_LABEL: (&str, &str) = ("type", "virtual-kubelet");

/// What every node of the process looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTemplate {
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// `status.capacity` (= allocatable): cpu, memory, pods, ephemeral-storage.
    pub capacity: BTreeMap<String, Quantity>,
    pub kubelet_version: String,
}

/// Heartbeat timing (kubelet's `nodeLeaseDurationSeconds`, `nodeStatusReportFrequency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatTiming {
    pub lease_duration: Duration,
    pub status_report_frequency: Duration,
}

impl HeartbeatTiming {
    /// The kubelet renews at a quarter of the lease duration (10 s for 40 s).
    pub fn renew_interval(&self) -> Duration {
        (self.lease_duration / 4).max(Duration::from_millis(100))
    }
}

/// The Node object as registered.
pub fn node_object(info: &NodeInfo, template: &NodeTemplate, now: Timestamp) -> Node {
    let mut labels = template.labels.clone();
    labels.insert("kubernetes.io/hostname".into(), info.name.clone());
    labels.insert("kubernetes.io/os".into(), "linux".into());
    labels.insert("kubernetes.io/arch".into(), go_arch().into());
    labels.insert(MANAGED_LABEL.into(), "true".into());
    labels.insert(TYPE_LABEL.0.into(), TYPE_LABEL.1.into());
    Node {
        metadata: ObjectMeta {
            name: Some(info.name.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: Some(info.pod_cidr.to_string()),
            pod_cidrs: Some(vec![info.pod_cidr.to_string()]),
            taints: (!template.taints.is_empty()).then(|| template.taints.clone()),
            ..NodeSpec::default()
        }),
        status: Some(node_status(info, template, &[], now)),
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A healthy kubelet's node status; transition times are kept from `existing` conditions
/// whose status is unchanged.
pub fn node_status(
    info: &NodeInfo,
    template: &NodeTemplate,
    existing: &[NodeCondition],
    now: Timestamp,
) -> NodeStatus {
    let condition = |type_: &str, ok: bool, reason: &str, message: &str| {
        let status = if ok { "True" } else { "False" };
        let last_transition_time = existing
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .or(Some(Time(now)));
        NodeCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_heartbeat_time: Some(Time(now)),
            last_transition_time,
        }
    };
    NodeStatus {
        capacity: Some(template.capacity.clone()),
        allocatable: Some(template.capacity.clone()),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: info.internal_ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: info.name.clone(),
            },
        ]),
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                false,
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure",
                false,
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            condition(
                "PIDPressure",
                false,
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition(
                "Ready",
                true,
                "KubeletReady",
                "kubelet is posting ready status",
            ),
        ]),
        node_info: Some(NodeSystemInfo {
            architecture: go_arch().into(),
            operating_system: "linux".into(),
            os_image: "kcm-virtual-node (simulated)".into(),
            kernel_version: "simulated".into(),
            container_runtime_version: format!("kcm-virtual-node://{}", env!("CARGO_PKG_VERSION")),
            kubelet_version: template.kubelet_version.clone(),
            kube_proxy_version: String::new(),
            machine_id: info.name.clone(),
            system_uuid: info.name.clone(),
            boot_id: info.name.clone(),
            ..NodeSystemInfo::default()
        }),
        ..NodeStatus::default()
    }
}

/// The node's Lease, owned by the Node so the garbage collector removes it with the Node.
pub fn lease_object(node: &Node, timing: &HeartbeatTiming, now: Timestamp) -> Lease {
    let name = node.metadata.name.clone().unwrap_or_default();
    Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(LEASE_NAMESPACE.into()),
            owner_references: node.metadata.uid.clone().map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: name.clone(),
                    uid,
                    ..OwnerReference::default()
                }]
            }),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name),
            lease_duration_seconds: i32::try_from(timing.lease_duration.as_secs()).ok(),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    }
}

/// Registers the node: creates the Node, or takes over an existing one (a restart), then
/// writes its status. Returns the Node as stored.
pub async fn register(
    client: &Client,
    info: &NodeInfo,
    template: &NodeTemplate,
) -> anyhow::Result<Node> {
    let nodes: Api<Node> = Api::all(client.clone());
    let now = Timestamp::now();
    let wanted = node_object(info, template, now);
    let existing = match nodes.create(&PostParams::default(), &wanted).await {
        Ok(created) => created,
        Err(kube::Error::Api(s)) if s.is_already_exists() => {
            let labels = json!({ "metadata": { "labels": wanted.metadata.labels } });
            nodes
                .patch(&info.name, &PatchParams::default(), &Patch::Merge(&labels))
                .await
                .with_context(|| format!("updating the labels of existing node {}", info.name))?
        }
        Err(e) => return Err(e).with_context(|| format!("creating node {}", info.name)),
    };
    let previous = existing
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let status = json!({ "status": node_status(info, template, &previous, now) });
    nodes
        .patch_status(
            &info.name,
            &PatchParams::default(),
            &Patch::Strategic(&status),
        )
        .await
        .with_context(|| format!("writing the status of node {}", info.name))
}

/// Keeps one node alive until `cancel`: Lease renewals, and a full status report every
/// `status_report_frequency`. Failures are logged and retried at the next tick, as a
/// kubelet keeps trying.
pub async fn heartbeat(
    client: Client,
    info: NodeInfo,
    template: NodeTemplate,
    timing: HeartbeatTiming,
    mut node: Node,
    cancel: CancellationToken,
) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let nodes: Api<Node> = Api::all(client);
    let mut renew = tokio::time::interval(timing.renew_interval());
    let mut report = tokio::time::interval(timing.status_report_frequency);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first status report just happened in `register`.
    report.tick().await;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = renew.tick() => {
                if let Err(e) = renew_lease(&leases, &node, &timing).await {
                    tracing::warn!(node = info.name, "renewing the node lease: {e:#}");
                }
            }
            _ = report.tick() => {
                let previous = node
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.clone())
                    .unwrap_or_default();
                let status = json!({
                    "status": node_status(&info, &template, &previous, Timestamp::now())
                });
                match nodes
                    .patch_status(&info.name, &PatchParams::default(), &Patch::Strategic(&status))
                    .await
                {
                    Ok(updated) => node = updated,
                    Err(e) => tracing::warn!(node = info.name, "reporting the node status: {e}"),
                }
            }
        }
    }
}

async fn renew_lease(
    leases: &Api<Lease>,
    node: &Node,
    timing: &HeartbeatTiming,
) -> anyhow::Result<()> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let now = Timestamp::now();
    let renewal = json!({ "spec": {
        "holderIdentity": name,
        "leaseDurationSeconds": timing.lease_duration.as_secs(),
        "renewTime": MicroTime(now),
    }});
    match leases
        .patch(&name, &PatchParams::default(), &Patch::Merge(&renewal))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => {
            leases
                .create(&PostParams::default(), &lease_object(node, timing, now))
                .await
                .context("creating the node lease")?;
            tracing::debug!(node = name, "created the node lease");
            Ok(())
        }
        Err(e) => Err(e).context("patching the node lease"),
    }
}

#[cfg(test)]
mod tests;
