//! Node objects for a cluster without kubelets.
//!
//! A kubelet registers its Node with a full status; these helpers do the same so that pods
//! can be bound to the node and controllers that look at node readiness see a Ready node.
//! Nothing listens on the addresses given: they are only labels.

use std::collections::BTreeMap;

use anyhow::Context;
use k8s_openapi::{
    api::core::v1::{Node, NodeAddress, NodeCondition, NodeStatus},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::Time},
};
use kube::{
    Api, Client,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use serde_json::json;

/// Label on every node this module creates.
pub const FAKE_NODE_LABEL: &str = "kcm-testenv/fake-node";

/// A Node object as a kubelet would register it: Ready, with capacity and an InternalIP.
pub fn ready_node(name: &str) -> Node {
    let now = Time(jiff::Timestamp::now());
    let resources = BTreeMap::from([
        ("cpu".to_owned(), Quantity("32".to_owned())),
        ("memory".to_owned(), Quantity("256Gi".to_owned())),
        ("pods".to_owned(), Quantity("110".to_owned())),
    ]);
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([
                ("kubernetes.io/hostname".to_owned(), name.to_owned()),
                (FAKE_NODE_LABEL.to_owned(), "true".to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        status: Some(NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            addresses: Some(vec![NodeAddress {
                type_: "InternalIP".to_owned(),
                address: node_ip(name),
            }]),
            conditions: Some(vec![ready_condition(true, &now)]),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

/// Creates a Ready node (see [`ready_node`]). Status sent on create is kept for Nodes, but
/// it is written again through `nodes/status` so the result does not depend on that.
pub async fn create_ready_node(client: &Client, name: &str) -> anyhow::Result<Node> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = ready_node(name);
    nodes
        .create(&PostParams::default(), &node)
        .await
        .with_context(|| format!("creating node {name}"))?;
    let status = json!({ "status": node.status });
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| format!("writing the status of node {name}"))
}

/// Sets the node's Ready condition, as a kubelet's heartbeat (or its absence) would.
pub async fn set_node_ready(client: &Client, name: &str, ready: bool) -> anyhow::Result<Node> {
    let now = Time(jiff::Timestamp::now());
    let patch = json!({ "status": { "conditions": [ready_condition(ready, &now)] } });
    Api::<Node>::all(client.clone())
        .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .with_context(|| format!("setting Ready={ready} on node {name}"))
}

/// The InternalIP a node gets: 10.254.x.y derived from its name, stable across calls.
pub fn node_ip(name: &str) -> String {
    // FNV-1a: a fixed hash, unlike std's randomly seeded one.
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!(
        "10.254.{}.{}",
        (hash >> 8) & 0xff,
        (hash & 0xff).clamp(1, 254)
    )
}

fn ready_condition(ready: bool, now: &Time) -> NodeCondition {
    NodeCondition {
        type_: "Ready".to_owned(),
        status: if ready { "True" } else { "False" }.to_owned(),
        reason: Some(
            if ready {
                "KubeletReady"
            } else {
                "KubeletNotReady"
            }
            .to_owned(),
        ),
        message: Some(
            if ready {
                "kubelet is posting ready status"
            } else {
                "kubelet stopped"
            }
            .to_owned(),
        ),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    }
}

/// Whether the node's Ready condition is True.
pub fn is_node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[cfg(test)]
mod tests;
