//! Flags that configure only upstream controllers kcm-rs does not run.
//!
//! kubeadm's command line for the controller manager carries flags such as `--root-ca-file`
//! (service-account tokens) or `--cluster-signing-cert-file` (CSR signing). kcm-rs accepts
//! upstream controller names it does not implement with one warning, so that such a command
//! line works; these flags get the same treatment. Their values are read, kept nowhere, and named
//! in one warning with the controllers that would have used them.

use clap::Args;

use super::flags::parse_go_bool;

const HEADING: &str = "Flags of controllers kcm-rs does not run (accepted and ignored)";

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

impl UnimplementedControllerFlags {
    /// `(flag, controllers that read it)` for every flag that was given.
    fn given(&self) -> Vec<(&'static str, &'static str)> {
        const TOKENS: &str = "serviceaccount-token-controller";
        const CSR_SIGNING: &str = "certificatesigningrequest-signing-controller";
        const NODE_IPAM: &str = "node-ipam-controller";
        [
            (
                self.root_ca_file.is_some(),
                "--root-ca-file",
                "serviceaccount-token-controller, root-ca-certificate-publisher-controller",
            ),
            (
                self.service_account_private_key_file.is_some(),
                "--service-account-private-key-file",
                TOKENS,
            ),
            (
                self.cluster_signing_cert_file.is_some(),
                "--cluster-signing-cert-file",
                CSR_SIGNING,
            ),
            (
                self.cluster_signing_key_file.is_some(),
                "--cluster-signing-key-file",
                CSR_SIGNING,
            ),
            (
                self.cluster_signing_duration.is_some(),
                "--cluster-signing-duration",
                CSR_SIGNING,
            ),
            (
                self.cluster_name.is_some(),
                "--cluster-name",
                "the cloud-provider controllers",
            ),
            (
                self.allocate_node_cidrs.is_some(),
                "--allocate-node-cidrs",
                NODE_IPAM,
            ),
            (self.cluster_cidr.is_some(), "--cluster-cidr", NODE_IPAM),
            (
                self.service_cluster_ip_range.is_some(),
                "--service-cluster-ip-range",
                NODE_IPAM,
            ),
            (
                self.node_cidr_mask_size.is_some(),
                "--node-cidr-mask-size",
                NODE_IPAM,
            ),
            (
                self.node_cidr_mask_size_ipv4.is_some(),
                "--node-cidr-mask-size-ipv4",
                NODE_IPAM,
            ),
            (
                self.node_cidr_mask_size_ipv6.is_some(),
                "--node-cidr-mask-size-ipv6",
                NODE_IPAM,
            ),
        ]
        .into_iter()
        .filter(|(given, _, _)| *given)
        .map(|(_, flag, readers)| (flag, readers))
        .collect()
    }

    /// One warning naming every given flag and who would have read it, or `None`.
    pub fn warning(&self) -> Option<String> {
        let given = self.given();
        if given.is_empty() {
            return None;
        }
        let listed: Vec<String> = given
            .iter()
            .map(|(flag, readers)| format!("{flag} ({readers})"))
            .collect();
        Some(format!(
            "these flags configure controllers kcm-rs does not implement and are ignored: {}",
            listed.join(", ")
        ))
    }
}
