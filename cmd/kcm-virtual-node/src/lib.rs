//! kcm-virtual-node: simulated Kubernetes nodes for trying kcm-rs and for tests at scale.
//!
//! One process runs N Nodes, in virtual-kubelet's shape: a node part that registers them and
//! keeps them alive ([`node`]: Ready conditions, Lease heartbeats in `kube-node-lease`, status
//! reports), and a pod part ([`pod_controller`]) that runs the pods bound to them through a
//! pluggable [`provider::Provider`]. The one provider, [`provider::Simulated`], runs no
//! containers: each pod's containers follow its `kcm-virtual-node.io/*` annotations
//! ([`behaviour`]) through a pure state machine ([`lifecycle`]), reported as a kubelet reports
//! them ([`status`]).
//!
//! - [`options`]: flags and their validation;
//! - [`node_set`]: the nodes as the pod part sees them (pod capacity, per-node pod CIDR via
//!   [`ipam`], whether the Node still exists);
//! - [`run`]: the process wiring.
//!
//! The test support library (`testenv`) runs [`pod_controller::PodController`] in-process as its
//! stand-in kubelet, so tests and the binary share one implementation.

pub mod behaviour;
pub mod duration;
pub mod ipam;
pub mod lifecycle;
pub mod node;
pub mod node_set;
pub mod options;
pub mod pod_controller;
mod precise;
pub mod provider;
pub mod run;
pub mod status;
