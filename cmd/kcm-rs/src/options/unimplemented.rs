//! Flags that configure only upstream controllers kcm-rs does not run.
//!
//! kubeadm's command line for the controller manager carries flags such as `--root-ca-file`
//! (service-account tokens) or `--cluster-signing-cert-file` (CSR signing). kcm-rs accepts
//! upstream controller names it does not implement with one warning, so that such a command
//! line works; these flags get the same treatment. Their values are read, kept nowhere, and named
//! in one warning with the controllers that would have used them.

use clap::{ArgMatches, Args, parser::ValueSource};

use super::flags::parse_go_bool;

const HEADING: &str = "Flags of controllers kcm-rs does not run (accepted and ignored)";

/// Declared only so clap accepts them; [`warning`] reports which were given.
#[derive(Debug, Clone, Default, Args)]
pub struct UnimplementedControllerFlags {
    /// serviceaccount-token-controller, root-ca-certificate-publisher-controller: the CA bundle
    /// put into service account token secrets and the kube-root-ca.crt ConfigMaps.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, help_heading = HEADING)]
    pub root_ca_file: Option<String>,

    /// serviceaccount-token-controller: the key that signs service account tokens.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, help_heading = HEADING)]
    pub service_account_private_key_file: Option<String>,

    /// certificatesigningrequest-signing-controller: the signing CA certificate.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, help_heading = HEADING)]
    pub cluster_signing_cert_file: Option<String>,

    /// certificatesigningrequest-signing-controller: the signing CA key.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, help_heading = HEADING)]
    pub cluster_signing_key_file: Option<String>,

    /// certificatesigningrequest-signing-controller: the longest certificate it signs.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, help_heading = HEADING)]
    pub cluster_signing_duration: Option<String>,

    /// Cloud-provider controllers: the instance prefix for the cluster.
    #[arg(long, value_name = "NAME", allow_hyphen_values = true, help_heading = HEADING)]
    pub cluster_name: Option<String>,

    /// node-ipam-controller: allocate pod CIDRs to nodes.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", help_heading = HEADING)]
    pub allocate_node_cidrs: Option<bool>,

    /// node-ipam-controller: the CIDR range of pods.
    #[arg(long, value_name = "CIDR", allow_hyphen_values = true, help_heading = HEADING)]
    pub cluster_cidr: Option<String>,

    /// node-ipam-controller: the CIDR range of services.
    #[arg(long, value_name = "CIDR", allow_hyphen_values = true, help_heading = HEADING)]
    pub service_cluster_ip_range: Option<String>,

    /// node-ipam-controller: mask size of each node's pod CIDR.
    #[arg(long, value_name = "N", allow_hyphen_values = true, help_heading = HEADING)]
    pub node_cidr_mask_size: Option<String>,

    /// node-ipam-controller: mask size of each node's IPv4 pod CIDR.
    #[arg(long, value_name = "N", allow_hyphen_values = true, help_heading = HEADING)]
    pub node_cidr_mask_size_ipv4: Option<String>,

    /// node-ipam-controller: mask size of each node's IPv6 pod CIDR.
    #[arg(long, value_name = "N", allow_hyphen_values = true, help_heading = HEADING)]
    pub node_cidr_mask_size_ipv6: Option<String>,
}

/// Who would have read each flag, by clap id (the flag's name with `_` for `-`).
const READERS: &[(&str, &str)] = &[
    (
        "root_ca_file",
        "serviceaccount-token-controller, root-ca-certificate-publisher-controller",
    ),
    (
        "service_account_private_key_file",
        "serviceaccount-token-controller",
    ),
    ("cluster_signing_cert_file", CSR_SIGNING),
    ("cluster_signing_key_file", CSR_SIGNING),
    ("cluster_signing_duration", CSR_SIGNING),
    ("cluster_name", "the cloud-provider controllers"),
    ("allocate_node_cidrs", NODE_IPAM),
    ("cluster_cidr", NODE_IPAM),
    ("service_cluster_ip_range", NODE_IPAM),
    ("node_cidr_mask_size", NODE_IPAM),
    ("node_cidr_mask_size_ipv4", NODE_IPAM),
    ("node_cidr_mask_size_ipv6", NODE_IPAM),
];
const CSR_SIGNING: &str = "certificatesigningrequest-signing-controller";
const NODE_IPAM: &str = "node-ipam-controller";

/// One warning naming every such flag given on the command line and who would have read it.
pub fn warning(matches: &ArgMatches) -> Option<String> {
    let listed: Vec<String> = READERS
        .iter()
        .filter(|(id, _)| matches.value_source(id) == Some(ValueSource::CommandLine))
        .map(|(id, readers)| format!("--{} ({readers})", id.replace('_', "-")))
        .collect();
    (!listed.is_empty()).then(|| {
        format!(
            "these flags configure controllers kcm-rs does not implement and are ignored: {}",
            listed.join(", ")
        )
    })
}

#[cfg(test)]
mod tests;
