//! The effective configuration: every setting after defaults, config file and flags are merged.
//!
//! [`ComponentConfig`] mirrors the part of upstream's internal `KubeControllerManagerConfiguration`
//! that concerns the six controllers kcm-rs runs, and serializes exactly like upstream's
//! `/configz`: Go field names (the types carry no `json` tags upstream), durations as Go
//! strings. Settings upstream keeps outside that type (kubeconfig, serving, logging) and kcm-rs
//! extensions live in [`ProcessConfig`], which `/configz` does not show.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use kcm_shared::features::FeatureGates;
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use super::duration::go_string;
use super::flags::{LoggingFormat, defaults};

/// Everything the process needs to know to start.
#[derive(Debug, Clone, PartialEq)]
pub struct KcmConfig {
    /// Upstream's component configuration, as served on `/configz`.
    pub component: ComponentConfig,
    /// Process settings that are not part of upstream's component configuration.
    pub process: ProcessConfig,
    /// `--feature-gates` and the file's `featureGates`, checked as upstream checks them.
    pub feature_gates: FeatureGates,
}

impl KcmConfig {
    /// The `/configz` document: `{"kubecontrollermanager.config.k8s.io": <component config>,
    /// "featureGates": {...}}`.
    ///
    /// Upstream's configuration has no feature gates (its `/flagz` shows the flag instead), so
    /// they are a second `/configz` entry, as `/configz` holds one per registered name: the
    /// effective value of each gate kcm-rs honours, and every gate that was set.
    pub fn configz(&self) -> Configz<'_> {
        Configz {
            config: &self.component,
            feature_gates: self.feature_gates.summary(),
        }
    }
}

/// Serializes as upstream's `/configz` body (see [`KcmConfig::configz`]).
#[derive(Debug, Serialize)]
pub struct Configz<'a> {
    #[serde(rename = "kubecontrollermanager.config.k8s.io")]
    config: &'a ComponentConfig,
    #[serde(rename = "featureGates")]
    feature_gates: BTreeMap<&'static str, bool>,
}

/// `KubeControllerManagerConfiguration`, limited to the sections kcm-rs uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComponentConfig {
    pub generic: GenericConfig,
    pub kube_cloud_shared: KubeCloudSharedConfig,
    pub deployment_controller: DeploymentControllerConfig,
    pub endpoint_controller: EndpointControllerConfig,
    pub namespace_controller: NamespaceControllerConfig,
    #[serde(rename = "PodGCController")]
    pub pod_gc_controller: PodGcControllerConfig,
    pub replica_set_controller: ReplicaSetControllerConfig,
    pub replication_controller: ReplicationControllerConfig,
}

/// `GenericControllerManagerConfiguration`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericConfig {
    /// Base informer resync period; each informer factory picks a random value in [min, 2*min).
    pub min_resync_period: Duration,
    pub client_connection: ClientConnectionConfig,
    /// Each controller waits a random time in [interval, 2*interval) before it starts.
    pub controller_start_interval: Duration,
    pub leader_election: LeaderElectionConfig,
    /// `--controllers` with aliases replaced by canonical names (a leading `-` kept), as
    /// upstream's `ApplyTo` stores it.
    pub controllers: Vec<String>,
    /// The serving port's bound address once it is listening; `/configz` prints it as
    /// `Address`/`Port` (0.0.0.0 and 0 before, or with `--secure-port=0`).
    pub serving: Option<std::net::SocketAddr>,
}

/// The parts of `ClientConnectionConfiguration` kcm-rs lets you set.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConnectionConfig {
    pub qps: f32,
    pub burst: i32,
}

/// `LeaderElectionConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LeaderElectionConfig {
    pub leader_elect: bool,
    #[serde(with = "go_string")]
    pub lease_duration: Duration,
    #[serde(with = "go_string")]
    pub renew_deadline: Duration,
    #[serde(with = "go_string")]
    pub retry_period: Duration,
    pub resource_lock: String,
    pub resource_name: String,
    pub resource_namespace: String,
}

/// `KubeCloudSharedConfiguration`: of its fields only this one concerns kcm-rs's controllers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KubeCloudSharedConfig {
    /// Each controller acts as ServiceAccount `kube-system/<client-name>`.
    pub use_service_account_credentials: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentControllerConfig {
    pub concurrent_deployment_syncs: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointControllerConfig {
    pub concurrent_endpoint_syncs: i32,
    /// Delay applied to pod-triggered syncs so bursts of pod changes collapse into one.
    #[serde(with = "go_string")]
    pub endpoint_updates_batch_period: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamespaceControllerConfig {
    /// Resync period of the namespace controller's informer handler.
    #[serde(with = "go_string")]
    pub namespace_sync_period: Duration,
    pub concurrent_namespace_syncs: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodGcControllerConfig {
    /// Terminated pods beyond this count are deleted, oldest first; `<= 0` turns that pass off.
    #[serde(rename = "TerminatedPodGCThreshold")]
    pub terminated_pod_gc_threshold: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaSetControllerConfig {
    #[serde(rename = "ConcurrentRSSyncs")]
    pub concurrent_rs_syncs: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicationControllerConfig {
    #[serde(rename = "ConcurrentRCSyncs")]
    pub concurrent_rc_syncs: i32,
}

/// Settings with no field in upstream's component configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessConfig {
    /// `--config`, if one was given.
    pub config_file: Option<PathBuf>,
    /// `--kubeconfig`; `None` means in-cluster configuration (unless `master` is set).
    pub kubeconfig: Option<PathBuf>,
    /// `--master`: overrides the server from the kubeconfig.
    pub master: Option<String>,
    pub bind_address: IpAddr,
    /// 0 means no HTTPS serving at all.
    pub secure_port: u16,
    /// Both or neither (validated); neither means a self-signed in-memory certificate.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_private_key_file: Option<PathBuf>,
    /// The rest of the serving port's settings: TLS, delegated authentication and authorization.
    pub serving: super::serving::ServingConfig,
    /// klog-style verbosity from `-v`.
    pub verbosity: u32,
    pub logging_format: LoggingFormat,
    /// How long shutdown waits for controllers to return; zero waits forever.
    pub controller_shutdown_timeout: Duration,
    /// kcm-rs extension: one Lease per controller instead of one for the process.
    pub leader_elect_per_controller: bool,
    /// Hidden test flags: the pod GC's pass period and orphan quarantine (20 s and 40 s).
    pub pod_gc_check_period: Duration,
    pub pod_gc_quarantine: Duration,
}

impl Default for KcmConfig {
    fn default() -> Self {
        KcmConfig {
            component: ComponentConfig {
                generic: GenericConfig {
                    min_resync_period: defaults::MIN_RESYNC_PERIOD,
                    client_connection: ClientConnectionConfig {
                        qps: defaults::KUBE_API_QPS,
                        burst: defaults::KUBE_API_BURST,
                    },
                    controller_start_interval: defaults::CONTROLLER_START_INTERVAL,
                    leader_election: LeaderElectionConfig {
                        leader_elect: defaults::LEADER_ELECT,
                        lease_duration: defaults::LEASE_DURATION,
                        renew_deadline: defaults::RENEW_DEADLINE,
                        retry_period: defaults::RETRY_PERIOD,
                        resource_lock: defaults::RESOURCE_LOCK.to_owned(),
                        resource_name: defaults::RESOURCE_NAME.to_owned(),
                        resource_namespace: defaults::RESOURCE_NAMESPACE.to_owned(),
                    },
                    controllers: defaults::CONTROLLERS
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    serving: None,
                },
                kube_cloud_shared: KubeCloudSharedConfig {
                    use_service_account_credentials: false,
                },
                deployment_controller: DeploymentControllerConfig {
                    concurrent_deployment_syncs: defaults::CONCURRENT_DEPLOYMENT_SYNCS,
                },
                endpoint_controller: EndpointControllerConfig {
                    concurrent_endpoint_syncs: defaults::CONCURRENT_ENDPOINT_SYNCS,
                    endpoint_updates_batch_period: defaults::ENDPOINT_UPDATES_BATCH_PERIOD,
                },
                namespace_controller: NamespaceControllerConfig {
                    namespace_sync_period: defaults::NAMESPACE_SYNC_PERIOD,
                    concurrent_namespace_syncs: defaults::CONCURRENT_NAMESPACE_SYNCS,
                },
                pod_gc_controller: PodGcControllerConfig {
                    terminated_pod_gc_threshold: defaults::TERMINATED_POD_GC_THRESHOLD,
                },
                replica_set_controller: ReplicaSetControllerConfig {
                    concurrent_rs_syncs: defaults::CONCURRENT_REPLICASET_SYNCS,
                },
                replication_controller: ReplicationControllerConfig {
                    concurrent_rc_syncs: defaults::CONCURRENT_RC_SYNCS,
                },
            },
            process: ProcessConfig {
                config_file: None,
                kubeconfig: None,
                master: None,
                bind_address: defaults::BIND_ADDRESS,
                secure_port: defaults::SECURE_PORT,
                tls_cert_file: None,
                tls_private_key_file: None,
                serving: Default::default(),
                verbosity: 0,
                logging_format: LoggingFormat::Text,
                controller_shutdown_timeout: defaults::CONTROLLER_SHUTDOWN_TIMEOUT,
                leader_elect_per_controller: false,
                pod_gc_check_period: defaults::POD_GC_CHECK_PERIOD,
                pod_gc_quarantine: defaults::POD_GC_QUARANTINE,
            },
            feature_gates: FeatureGates::default(),
        }
    }
}

/// Upstream's Generic section also carries fields kcm-rs has no use for; they are printed with
/// the values upstream prints, so `/configz` consumers see the shape they expect.
impl Serialize for GenericConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Debugging {
            // kcm-rs serves no /debug/pprof.
            enable_profiling: bool,
            enable_contention_profiling: bool,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct LeaderMigration {
            leader_name: &'static str,
            resource_lock: &'static str,
            controller_leaders: Option<()>,
        }
        struct GoDurationField(Duration);
        impl Serialize for GoDurationField {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                go_string::serialize(&self.0, s)
            }
        }

        let mut generic =
            serializer.serialize_struct("GenericControllerManagerConfiguration", 10)?;
        // Upstream always prints 0 and 0.0.0.0 here (the fields of the removed insecure port);
        // kcm-rs prints the address and port it serves on (issue 19 item 8; README Differences).
        let port = self.serving.map_or(0, |a| a.port());
        let address = self
            .serving
            .map_or_else(|| "0.0.0.0".to_owned(), |a| a.ip().to_string());
        generic.serialize_field("Port", &port)?;
        generic.serialize_field("Address", &address)?;
        generic.serialize_field("MinResyncPeriod", &GoDurationField(self.min_resync_period))?;
        generic.serialize_field("ClientConnection", &self.client_connection)?;
        generic.serialize_field(
            "ControllerStartInterval",
            &GoDurationField(self.controller_start_interval),
        )?;
        generic.serialize_field("LeaderElection", &self.leader_election)?;
        generic.serialize_field("Controllers", &self.controllers)?;
        generic.serialize_field(
            "Debugging",
            &Debugging {
                enable_profiling: false,
                enable_contention_profiling: false,
            },
        )?;
        generic.serialize_field("LeaderMigrationEnabled", &false)?;
        generic.serialize_field(
            "LeaderMigration",
            &LeaderMigration {
                leader_name: "",
                resource_lock: "",
                controller_leaders: None,
            },
        )?;
        generic.end()
    }
}

impl Serialize for ClientConnectionConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut conn = serializer.serialize_struct("ClientConnectionConfiguration", 5)?;
        // The kubeconfig flag is not stored here upstream either, so this stays empty.
        conn.serialize_field("Kubeconfig", "")?;
        conn.serialize_field("AcceptContentTypes", "")?;
        // kube-rs speaks JSON; upstream would print application/vnd.kubernetes.protobuf.
        conn.serialize_field("ContentType", "application/json")?;
        conn.serialize_field("QPS", &GoFloat32(self.qps))?;
        conn.serialize_field("Burst", &self.burst)?;
        conn.end()
    }
}

/// A float32 printed the way Go's encoding/json does: `20`, not `20.0`.
struct GoFloat32(f32);

impl Serialize for GoFloat32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        if value.fract() == 0.0 && value.abs() < 1e15 {
            serializer.serialize_i64(value as i64)
        } else {
            serializer.serialize_f32(value)
        }
    }
}

#[cfg(test)]
mod tests;
