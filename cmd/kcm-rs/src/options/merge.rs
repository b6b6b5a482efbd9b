//! Precedence: a flag given on the command line beats the config file, which beats the default.
//!
//! This is the rule kube-scheduler and the kubelet follow for their config files. clap fills
//! every flag with its default, so "given on the command line" is read from
//! `ArgMatches::value_source`, not from the value.

use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;

use super::config::{
    ClientConnectionConfig, ComponentConfig, DeploymentControllerConfig, EndpointControllerConfig,
    GenericConfig, KcmConfig, KubeCloudSharedConfig, LeaderElectionConfig,
    NamespaceControllerConfig, PodGcControllerConfig, ProcessConfig, ReplicaSetControllerConfig,
    ReplicationControllerConfig,
};
use super::config_file::ConfigFile;
use super::flags::{Flags, controller_entries};
use super::setting::{Origin, Origins, Setting};

/// Chooses each value and remembers where it came from.
struct Picker<'a> {
    matches: &'a ArgMatches,
    origins: Origins,
}

impl Picker<'_> {
    fn pick<T>(&mut self, setting: Setting, flag: T, file: Option<T>) -> T {
        let on_command_line =
            self.matches.value_source(setting.arg_id()) == Some(ValueSource::CommandLine);
        let (origin, value) = match file {
            _ if on_command_line => (Origin::CommandLine, flag),
            Some(value) => (Origin::File, value),
            None => (Origin::Default, flag),
        };
        self.origins.record(setting, origin);
        value
    }
}

/// Builds the effective configuration. Controller entries are stored as given; resolving them
/// (and canonicalizing aliases) is the caller's next step.
pub fn merge(
    flags: &Flags,
    matches: &ArgMatches,
    file: Option<(&Path, &ConfigFile)>,
) -> (KcmConfig, Origins) {
    let mut p = Picker {
        matches,
        origins: Origins::new(file.map(|(path, _)| path.to_path_buf())),
    };
    let empty = ConfigFile::default();
    let f = file.map_or(&empty, |(_, content)| content);
    let g = &f.generic;
    let le = &g.leader_election;
    use Setting::*;

    let component = ComponentConfig {
        generic: GenericConfig {
            min_resync_period: p.pick(
                MinResyncPeriod,
                flags.min_resync_period.0,
                g.min_resync_period,
            ),
            client_connection: ClientConnectionConfig {
                qps: p.pick(KubeApiQps, flags.kube_api_qps, g.client_connection.qps),
                burst: p.pick(
                    KubeApiBurst,
                    flags.kube_api_burst,
                    g.client_connection.burst,
                ),
            },
            controller_start_interval: p.pick(
                ControllerStartInterval,
                flags.controller_start_interval.0,
                g.controller_start_interval,
            ),
            leader_election: LeaderElectionConfig {
                leader_elect: p.pick(LeaderElect, flags.leader_elect, le.leader_elect),
                lease_duration: p.pick(
                    LeaderElectLeaseDuration,
                    flags.leader_elect_lease_duration.0,
                    le.lease_duration,
                ),
                renew_deadline: p.pick(
                    LeaderElectRenewDeadline,
                    flags.leader_elect_renew_deadline.0,
                    le.renew_deadline,
                ),
                retry_period: p.pick(
                    LeaderElectRetryPeriod,
                    flags.leader_elect_retry_period.0,
                    le.retry_period,
                ),
                resource_lock: p.pick(
                    LeaderElectResourceLock,
                    flags.leader_elect_resource_lock.clone(),
                    le.resource_lock.clone(),
                ),
                resource_name: p.pick(
                    LeaderElectResourceName,
                    flags.leader_elect_resource_name.clone(),
                    le.resource_name.clone(),
                ),
                resource_namespace: p.pick(
                    LeaderElectResourceNamespace,
                    flags.leader_elect_resource_namespace.clone(),
                    le.resource_namespace.clone(),
                ),
            },
            controllers: p.pick(
                Controllers,
                controller_entries(&flags.controllers),
                g.controllers.clone(),
            ),
            serving: None,
        },
        kube_cloud_shared: KubeCloudSharedConfig {
            use_service_account_credentials: p.pick(
                UseServiceAccountCredentials,
                flags.use_service_account_credentials,
                f.kube_cloud_shared.use_service_account_credentials,
            ),
        },
        deployment_controller: DeploymentControllerConfig {
            concurrent_deployment_syncs: p.pick(
                ConcurrentDeploymentSyncs,
                flags.concurrent_deployment_syncs,
                f.deployment_controller.concurrent_deployment_syncs,
            ),
        },
        endpoint_controller: EndpointControllerConfig {
            concurrent_endpoint_syncs: p.pick(
                ConcurrentEndpointSyncs,
                flags.concurrent_endpoint_syncs,
                f.endpoint_controller.concurrent_endpoint_syncs,
            ),
            endpoint_updates_batch_period: p.pick(
                EndpointUpdatesBatchPeriod,
                flags.endpoint_updates_batch_period.0,
                f.endpoint_controller.endpoint_updates_batch_period,
            ),
        },
        namespace_controller: NamespaceControllerConfig {
            namespace_sync_period: p.pick(
                NamespaceSyncPeriod,
                flags.namespace_sync_period.0,
                f.namespace_controller.namespace_sync_period,
            ),
            concurrent_namespace_syncs: p.pick(
                ConcurrentNamespaceSyncs,
                flags.concurrent_namespace_syncs,
                f.namespace_controller.concurrent_namespace_syncs,
            ),
        },
        pod_gc_controller: PodGcControllerConfig {
            terminated_pod_gc_threshold: p.pick(
                TerminatedPodGcThreshold,
                flags.terminated_pod_gc_threshold,
                f.pod_gc_controller.terminated_pod_gc_threshold,
            ),
        },
        replica_set_controller: ReplicaSetControllerConfig {
            concurrent_rs_syncs: p.pick(
                ConcurrentReplicasetSyncs,
                flags.concurrent_replicaset_syncs,
                f.replica_set_controller.concurrent_rs_syncs,
            ),
        },
        replication_controller: ReplicationControllerConfig {
            concurrent_rc_syncs: p.pick(
                ConcurrentRcSyncs,
                flags.concurrent_rc_syncs,
                f.replication_controller.concurrent_rc_syncs,
            ),
        },
    };

    let process = ProcessConfig {
        config_file: flags.config.clone(),
        kubeconfig: non_empty(&flags.kubeconfig).map(PathBuf::from),
        master: non_empty(&flags.master).map(str::to_owned),
        bind_address: flags.serving.bind_address,
        secure_port: flags.serving.secure_port,
        tls_cert_file: flags.serving.tls_cert_file.clone(),
        tls_private_key_file: flags.serving.tls_private_key_file.clone(),
        // Checked and filled in by `load` (serving::resolve), as the feature gates are.
        serving: Default::default(),
        verbosity: flags.v,
        logging_format: flags.logging_format,
        controller_shutdown_timeout: p.pick(
            ControllerShutdownTimeout,
            flags.controller_shutdown_timeout.0,
            g.controller_shutdown_timeout,
        ),
        leader_elect_per_controller: flags.leader_elect_per_controller,
        pod_gc_check_period: flags.pod_gc_check_period.0,
        pod_gc_quarantine: flags.pod_gc_quarantine.0,
    };

    // Feature gates are checked as a whole (dependencies span gates); `load` fills them in.
    let feature_gates = Default::default();
    (
        KcmConfig {
            component,
            process,
            feature_gates,
        },
        p.origins,
    )
}

fn non_empty(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}
