//! The settings that both a flag and the config file can set, and where each value came from.
//!
//! A validation error must point at what the user wrote: the flag if it came from the command
//! line (or was left at its default), the file and field path if it came from `--config`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A setting reachable both as a flag and as a config-file field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setting {
    Controllers,
    MinResyncPeriod,
    ControllerStartInterval,
    ControllerShutdownTimeout,
    KubeApiQps,
    KubeApiBurst,
    LeaderElect,
    LeaderElectLeaseDuration,
    LeaderElectRenewDeadline,
    LeaderElectRetryPeriod,
    LeaderElectResourceLock,
    LeaderElectResourceName,
    LeaderElectResourceNamespace,
    UseServiceAccountCredentials,
    ConcurrentDeploymentSyncs,
    ConcurrentEndpointSyncs,
    EndpointUpdatesBatchPeriod,
    ConcurrentRcSyncs,
    ConcurrentReplicasetSyncs,
    TerminatedPodGcThreshold,
    NamespaceSyncPeriod,
    ConcurrentNamespaceSyncs,
}

impl Setting {
    /// (clap argument id, flag, config-file field path)
    const fn names(self) -> (&'static str, &'static str, &'static str) {
        use Setting::*;
        match self {
            Controllers => ("controllers", "--controllers", "generic.controllers"),
            MinResyncPeriod => (
                "min_resync_period",
                "--min-resync-period",
                "generic.minResyncPeriod",
            ),
            ControllerStartInterval => (
                "controller_start_interval",
                "--controller-start-interval",
                "generic.controllerStartInterval",
            ),
            ControllerShutdownTimeout => (
                "controller_shutdown_timeout",
                "--controller-shutdown-timeout",
                "generic.controllerShutdownTimeout",
            ),
            KubeApiQps => (
                "kube_api_qps",
                "--kube-api-qps",
                "generic.clientConnection.qps",
            ),
            KubeApiBurst => (
                "kube_api_burst",
                "--kube-api-burst",
                "generic.clientConnection.burst",
            ),
            LeaderElect => (
                "leader_elect",
                "--leader-elect",
                "generic.leaderElection.leaderElect",
            ),
            LeaderElectLeaseDuration => (
                "leader_elect_lease_duration",
                "--leader-elect-lease-duration",
                "generic.leaderElection.leaseDuration",
            ),
            LeaderElectRenewDeadline => (
                "leader_elect_renew_deadline",
                "--leader-elect-renew-deadline",
                "generic.leaderElection.renewDeadline",
            ),
            LeaderElectRetryPeriod => (
                "leader_elect_retry_period",
                "--leader-elect-retry-period",
                "generic.leaderElection.retryPeriod",
            ),
            LeaderElectResourceLock => (
                "leader_elect_resource_lock",
                "--leader-elect-resource-lock",
                "generic.leaderElection.resourceLock",
            ),
            LeaderElectResourceName => (
                "leader_elect_resource_name",
                "--leader-elect-resource-name",
                "generic.leaderElection.resourceName",
            ),
            LeaderElectResourceNamespace => (
                "leader_elect_resource_namespace",
                "--leader-elect-resource-namespace",
                "generic.leaderElection.resourceNamespace",
            ),
            UseServiceAccountCredentials => (
                "use_service_account_credentials",
                "--use-service-account-credentials",
                "kubeCloudShared.useServiceAccountCredentials",
            ),
            ConcurrentDeploymentSyncs => (
                "concurrent_deployment_syncs",
                "--concurrent-deployment-syncs",
                "deploymentController.concurrentDeploymentSyncs",
            ),
            ConcurrentEndpointSyncs => (
                "concurrent_endpoint_syncs",
                "--concurrent-endpoint-syncs",
                "endpointController.concurrentEndpointSyncs",
            ),
            EndpointUpdatesBatchPeriod => (
                "endpoint_updates_batch_period",
                "--endpoint-updates-batch-period",
                "endpointController.endpointUpdatesBatchPeriod",
            ),
            ConcurrentRcSyncs => (
                "concurrent_rc_syncs",
                "--concurrent-rc-syncs",
                "replicationController.concurrentRCSyncs",
            ),
            ConcurrentReplicasetSyncs => (
                "concurrent_replicaset_syncs",
                "--concurrent-replicaset-syncs",
                "replicaSetController.concurrentRSSyncs",
            ),
            TerminatedPodGcThreshold => (
                "terminated_pod_gc_threshold",
                "--terminated-pod-gc-threshold",
                "podGCController.terminatedPodGCThreshold",
            ),
            NamespaceSyncPeriod => (
                "namespace_sync_period",
                "--namespace-sync-period",
                "namespaceController.namespaceSyncPeriod",
            ),
            ConcurrentNamespaceSyncs => (
                "concurrent_namespace_syncs",
                "--concurrent-namespace-syncs",
                "namespaceController.concurrentNamespaceSyncs",
            ),
        }
    }

    /// The clap argument id (the `Flags` field name).
    pub const fn arg_id(self) -> &'static str {
        self.names().0
    }

    pub const fn flag(self) -> &'static str {
        self.names().1
    }

    pub const fn file_path(self) -> &'static str {
        self.names().2
    }
}

/// Where an effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    CommandLine,
}

/// The origin of every [`Setting`] after merging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    file: Option<PathBuf>,
    origins: BTreeMap<Setting, Origin>,
}

impl Origins {
    pub fn new(file: Option<PathBuf>) -> Self {
        Origins {
            file,
            origins: BTreeMap::new(),
        }
    }

    pub fn record(&mut self, setting: Setting, origin: Origin) {
        self.origins.insert(setting, origin);
    }

    pub fn of(&self, setting: Setting) -> Origin {
        self.origins
            .get(&setting)
            .copied()
            .unwrap_or(Origin::Default)
    }

    /// Where to point the user for `setting`: `--flag`, or `config file F: field a.b`.
    pub fn locate(&self, setting: Setting) -> Location<'_> {
        match (self.of(setting), &self.file) {
            (Origin::File, Some(file)) => Location::File {
                file,
                field: setting.file_path(),
            },
            _ => Location::Flag(setting.flag()),
        }
    }
}

/// Displays as the prefix of an error message about one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location<'a> {
    Flag(&'static str),
    File {
        file: &'a std::path::Path,
        field: &'static str,
    },
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Flag(flag) => f.write_str(flag),
            Location::File { file, field } => {
                write!(f, "config file {}: field {field}", file.display())
            }
        }
    }
}

#[cfg(test)]
mod tests;
