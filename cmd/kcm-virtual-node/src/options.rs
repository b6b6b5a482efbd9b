//! Command-line flags, and their validation into a [`Settings`] the process runs with.
//!
//! Flag names follow the kubelet's where one exists (`--max-pods`, `--node-labels`,
//! `--kube-api-qps`); the rest describe the simulation. Bad input exits with code 2 and a
//! message naming the flag, before anything is registered.

use std::{collections::BTreeMap, net::Ipv4Addr, path::PathBuf, time::Duration};

use clap::Parser;
use k8s_openapi::{api::core::v1::Taint, apimachinery::pkg::api::resource::Quantity};

use crate::{
    duration::FlagDuration,
    ipam::Cidr,
    lifecycle::RestartBackoff,
    node::{HeartbeatTiming, NodeTemplate},
    node_set::NodeInfo,
};

/// Simulated Kubernetes nodes: registers Nodes, heartbeats their Leases, and runs the pods
/// bound to them (virtual-kubelet style). Pod behaviour comes from
/// `kcm-virtual-node.io/*` annotations (see the README).
#[derive(Debug, Clone, Parser)]
#[command(name = "kcm-virtual-node", version)]
pub struct Flags {
    /// Kubeconfig file; without it, $KUBECONFIG, ~/.kube/config or the in-cluster config.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// How many nodes this process runs.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Node names are `<prefix>-1`, `<prefix>-2`, …
    #[arg(long, default_value = "virtual-node")]
    pub node_name_prefix: String,
    /// Extra labels on every node, `key=value`, comma-separated or repeated.
    #[arg(long, value_delimiter = ',')]
    pub node_labels: Vec<String>,
    /// Taints on every node, `key[=value]:Effect` (NoSchedule, PreferNoSchedule, NoExecute).
    #[arg(long, value_delimiter = ',')]
    pub node_taints: Vec<String>,
    /// CPU capacity of each node.
    #[arg(long, default_value = "32")]
    pub node_cpu: String,
    /// Memory capacity of each node.
    #[arg(long, default_value = "256Gi")]
    pub node_memory: String,
    /// Pod capacity of each node; pods beyond it are rejected (OutOfpods) as by a kubelet.
    #[arg(long, default_value_t = 110)]
    pub max_pods: usize,
    /// The cluster's pod network; node i gets its i-th subnet as spec.podCIDR.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub pod_cidr: String,
    /// Prefix length of each node's pod subnet.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// Node i gets the (i+1)-th address of this network as its InternalIP.
    #[arg(long, default_value = "10.253.0.0/16")]
    pub node_ip_cidr: String,
    /// Node Lease duration; the Lease is renewed every quarter of it.
    #[arg(long, default_value = "40s")]
    pub node_lease_duration: FlagDuration,
    /// How often the full node status is written even when nothing changed.
    #[arg(long, default_value = "5m")]
    pub node_status_report_frequency: FlagDuration,
    /// Upper bound on a deleted pod's grace period.
    #[arg(long, default_value = "30s")]
    pub max_grace_period: FlagDuration,
    /// First container restart back-off (doubled per restart).
    #[arg(long, default_value = "10s")]
    pub restart_backoff: FlagDuration,
    /// Longest container restart back-off.
    #[arg(long, default_value = "5m")]
    pub max_restart_backoff: FlagDuration,
    /// Pods handled concurrently.
    #[arg(long, default_value_t = 32)]
    pub workers: usize,
    /// Client-side request rate limit (<= 0: none).
    #[arg(long, default_value_t = 1000.0)]
    pub kube_api_qps: f32,
    /// Requests allowed in a burst above the QPS.
    #[arg(long, default_value_t = 2000)]
    pub kube_api_burst: i32,
    /// Reported as status.nodeInfo.kubeletVersion.
    #[arg(long, default_value = "v1.37.1")]
    pub kubelet_version: String,
    /// Log verbosity: 0-1 info, 2-4 debug (every pod transition), 5+ trace.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u32,
}

/// A flag with a value the process cannot use.
#[derive(Debug, thiserror::Error)]
#[error("--{flag}: {message}")]
pub struct FlagError {
    pub flag: &'static str,
    pub message: String,
}

fn bad(flag: &'static str, message: impl Into<String>) -> FlagError {
    FlagError {
        flag,
        message: message.into(),
    }
}

/// Everything the process runs with, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub kubeconfig: Option<PathBuf>,
    pub nodes: Vec<NodeInfo>,
    pub template: NodeTemplate,
    pub heartbeat: HeartbeatTiming,
    pub max_grace_period: Duration,
    pub backoff: RestartBackoff,
    pub workers: usize,
    pub qps: f32,
    pub burst: i32,
    pub verbosity: u32,
}

impl Flags {
    pub fn validate(self) -> Result<Settings, FlagError> {
        if self.nodes == 0 {
            return Err(bad("nodes", "must be at least 1"));
        }
        if self.max_pods == 0 {
            return Err(bad("max-pods", "must be at least 1"));
        }
        if self.workers == 0 {
            return Err(bad("workers", "must be at least 1"));
        }
        if !is_dns_label_prefix(&self.node_name_prefix) {
            return Err(bad(
                "node-name-prefix",
                format!(
                    "{:?} is not a lowercase DNS label (a-z, 0-9, '-', starting with a letter or digit)",
                    self.node_name_prefix
                ),
            ));
        }
        let pod_cidr: Cidr = self
            .pod_cidr
            .parse()
            .map_err(|e| bad("pod-cidr", format!("{e}")))?;
        let subnets = pod_cidr
            .subnets(self.node_cidr_mask_size, self.nodes)
            .map_err(|e| bad("node-cidr-mask-size", format!("{e}")))?;
        let node_ips: Cidr = self
            .node_ip_cidr
            .parse()
            .map_err(|e| bad("node-ip-cidr", format!("{e}")))?;
        if (self.nodes as u64) + 2 > node_ips.size() {
            return Err(bad(
                "node-ip-cidr",
                format!("{node_ips} has too few addresses for {} nodes", self.nodes),
            ));
        }
        let labels = self
            .node_labels
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| parse_label(l))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        let taints = self
            .node_taints
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| parse_taint(t))
            .collect::<Result<Vec<_>, _>>()?;
        for (flag, value) in [
            ("node-cpu", &self.node_cpu),
            ("node-memory", &self.node_memory),
        ] {
            if !is_quantity(value) {
                return Err(bad(
                    flag,
                    format!("{value:?} is not a resource quantity such as 32, 500m or 256Gi"),
                ));
            }
        }
        let capacity = BTreeMap::from([
            ("cpu".to_owned(), Quantity(self.node_cpu.clone())),
            ("memory".to_owned(), Quantity(self.node_memory.clone())),
            ("pods".to_owned(), Quantity(self.max_pods.to_string())),
            ("ephemeral-storage".to_owned(), Quantity("1Ti".to_owned())),
        ]);
        let lease_duration = self.node_lease_duration.0;
        if lease_duration < Duration::from_secs(1) {
            return Err(bad("node-lease-duration", "must be at least 1s"));
        }
        if self.node_status_report_frequency.0 < Duration::from_secs(1) {
            return Err(bad("node-status-report-frequency", "must be at least 1s"));
        }
        if self.restart_backoff.0 > self.max_restart_backoff.0 {
            return Err(bad(
                "restart-backoff",
                "must not be longer than --max-restart-backoff",
            ));
        }
        let nodes = subnets
            .into_iter()
            .enumerate()
            .map(|(i, pod_cidr)| NodeInfo {
                name: format!("{}-{}", self.node_name_prefix, i + 1),
                internal_ip: node_ips.nth(i as u64 + 1).unwrap_or(Ipv4Addr::UNSPECIFIED),
                pod_cidr,
                max_pods: Some(self.max_pods),
            })
            .collect();
        Ok(Settings {
            kubeconfig: self.kubeconfig,
            nodes,
            template: NodeTemplate {
                labels,
                taints,
                capacity,
                kubelet_version: self.kubelet_version,
            },
            heartbeat: HeartbeatTiming {
                lease_duration,
                status_report_frequency: self.node_status_report_frequency.0,
            },
            max_grace_period: self.max_grace_period.0,
            backoff: RestartBackoff {
                initial: self.restart_backoff.0,
                max: self.max_restart_backoff.0,
            },
            workers: self.workers,
            qps: self.kube_api_qps,
            burst: self.kube_api_burst,
            verbosity: self.verbosity,
        })
    }
}

fn is_dns_label_prefix(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.as_bytes()[0] != b'-'
}

fn parse_label(label: &str) -> Result<(String, String), FlagError> {
    let (key, value) = label
        .split_once('=')
        .ok_or_else(|| bad("node-labels", format!("{label:?} is not key=value")))?;
    if key.is_empty() {
        return Err(bad("node-labels", format!("{label:?} has an empty key")));
    }
    Ok((key.to_owned(), value.to_owned()))
}

fn parse_taint(taint: &str) -> Result<Taint, FlagError> {
    let (key_value, effect) = taint.rsplit_once(':').ok_or_else(|| {
        bad(
            "node-taints",
            format!("{taint:?} is not key[=value]:Effect"),
        )
    })?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(bad(
            "node-taints",
            format!(
                "{taint:?}: effect {effect:?} is not NoSchedule, PreferNoSchedule or NoExecute"
            ),
        ));
    }
    let (key, value) = match key_value.split_once('=') {
        Some((k, v)) => (k, Some(v.to_owned())),
        None => (key_value, None),
    };
    if key.is_empty() {
        return Err(bad("node-taints", format!("{taint:?} has an empty key")));
    }
    Ok(Taint {
        key: key.to_owned(),
        value,
        effect: effect.to_owned(),
        time_added: None,
    })
}

/// A plain decimal with an optional SI or binary suffix (what capacities use).
fn is_quantity(s: &str) -> bool {
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    !number.is_empty()
        && number.parse::<f64>().is_ok()
        && matches!(
            suffix,
            "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
        )
}

#[cfg(test)]
mod tests;
