//! The `--config` file: a kcm-rs extension, since upstream kube-controller-manager reads none.
//!
//! Schema (documented in `config/kcm-rs.yaml`): `apiVersion:
//! kubecontrollermanager.config.k8s.io/v1alpha1`, `kind: KubeControllerManagerConfiguration`, and
//! the subset of upstream's v1alpha1 fields that concern kcm-rs. Field names are lowerCamel (the
//! names upstream's doc comments use); the Go field names `/configz` prints (`Generic`,
//! `ConcurrentRCSyncs`, ...) are accepted as aliases, so a `/configz` excerpt can be pasted in.
//!
//! Loading is strict, as a configuration mistake should stop the process rather than be
//! silently ignored: an unknown field, a wrong type or a bad duration is an error that names the
//! file and the field path. Every field is optional; an absent field keeps its default.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{config_guard, duration};

pub const API_VERSION: &str = "kubecontrollermanager.config.k8s.io/v1alpha1";
pub const KIND: &str = "KubeControllerManagerConfiguration";

/// A configuration file that could not be used; the message names the file and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config file {file}: {detail}")]
pub struct ConfigFileError {
    file: String,
    detail: String,
}

impl ConfigFileError {
    pub fn new(file: &Path, field: Option<&str>, reason: impl std::fmt::Display) -> Self {
        let detail = match field {
            Some(field) => format!("field {field}: {reason}"),
            None => reason.to_string(),
        };
        ConfigFileError {
            file: file.display().to_string(),
            detail,
        }
    }
}

/// The file's content: `None` everywhere the file is silent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigFile {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    #[serde(default, alias = "Generic")]
    pub generic: GenericSection,
    #[serde(default, alias = "KubeCloudShared")]
    pub kube_cloud_shared: KubeCloudSharedSection,
    #[serde(default, alias = "DeploymentController")]
    pub deployment_controller: DeploymentSection,
    #[serde(default, alias = "EndpointController")]
    pub endpoint_controller: EndpointSection,
    #[serde(default, alias = "ReplicationController")]
    pub replication_controller: ReplicationSection,
    #[serde(default, alias = "ReplicaSetController")]
    pub replica_set_controller: ReplicaSetSection,
    #[serde(default, rename = "podGCController", alias = "PodGCController")]
    pub pod_gc_controller: PodGcSection,
    #[serde(default, alias = "NamespaceController")]
    pub namespace_controller: NamespaceSection,
    /// Gate name to value, like `--feature-gates` (kcm-rs extension: upstream's configuration
    /// has no such field; the kubelet's has this one).
    #[serde(default, alias = "FeatureGates")]
    pub feature_gates: BTreeMap<String, bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GenericSection {
    #[serde(default, alias = "Controllers")]
    pub controllers: Option<Vec<String>>,
    #[serde(
        default,
        alias = "MinResyncPeriod",
        deserialize_with = "duration::deserialize_optional"
    )]
    pub min_resync_period: Option<Duration>,
    #[serde(
        default,
        alias = "ControllerStartInterval",
        deserialize_with = "duration::deserialize_optional"
    )]
    pub controller_start_interval: Option<Duration>,
    #[serde(
        default,
        alias = "ControllerShutdownTimeout",
        deserialize_with = "duration::deserialize_optional"
    )]
    pub controller_shutdown_timeout: Option<Duration>,
    #[serde(default, alias = "ClientConnection")]
    pub client_connection: ClientConnectionSection,
    #[serde(default, alias = "LeaderElection")]
    pub leader_election: LeaderElectionSection,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientConnectionSection {
    #[serde(default, alias = "QPS")]
    pub qps: Option<f32>,
    #[serde(default, alias = "Burst")]
    pub burst: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LeaderElectionSection {
    #[serde(default, alias = "LeaderElect")]
    pub leader_elect: Option<bool>,
    #[serde(
        default,
        alias = "LeaseDuration",
        deserialize_with = "duration::deserialize_optional"
    )]
    pub lease_duration: Option<Duration>,
    #[serde(
        default,
        alias = "RenewDeadline",
        deserialize_with = "duration::deserialize_optional"
    )]
    pub renew_deadline: Option<Duration>,
    #[serde(
        default,
        alias = "RetryPeriod",
        deserialize_with = "duration::deserialize_optional"
    )]
    pub retry_period: Option<Duration>,
    #[serde(default, alias = "ResourceLock")]
    pub resource_lock: Option<String>,
    #[serde(default, alias = "ResourceName")]
    pub resource_name: Option<String>,
    #[serde(default, alias = "ResourceNamespace")]
    pub resource_namespace: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeCloudSharedSection {
    #[serde(default, alias = "UseServiceAccountCredentials")]
    pub use_service_account_credentials: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeploymentSection {
    #[serde(default, alias = "ConcurrentDeploymentSyncs")]
    pub concurrent_deployment_syncs: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointSection {
    #[serde(default, alias = "ConcurrentEndpointSyncs")]
    pub concurrent_endpoint_syncs: Option<i32>,
    #[serde(
        default,
        alias = "EndpointUpdatesBatchPeriod",
        deserialize_with = "duration::deserialize_optional"
    )]
    pub endpoint_updates_batch_period: Option<Duration>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationSection {
    #[serde(default, rename = "concurrentRCSyncs", alias = "ConcurrentRCSyncs")]
    pub concurrent_rc_syncs: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSetSection {
    #[serde(default, rename = "concurrentRSSyncs", alias = "ConcurrentRSSyncs")]
    pub concurrent_rs_syncs: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodGcSection {
    #[serde(
        default,
        rename = "terminatedPodGCThreshold",
        alias = "TerminatedPodGCThreshold"
    )]
    pub terminated_pod_gc_threshold: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamespaceSection {
    #[serde(
        default,
        alias = "NamespaceSyncPeriod",
        deserialize_with = "duration::deserialize_optional"
    )]
    pub namespace_sync_period: Option<Duration>,
    #[serde(default, alias = "ConcurrentNamespaceSyncs")]
    pub concurrent_namespace_syncs: Option<i32>,
}

/// Reads and parses `path` (at most [`config_guard::MAX_BYTES`] of it).
pub fn load(path: &Path) -> Result<ConfigFile, ConfigFileError> {
    let text = config_guard::read(path).map_err(|err| ConfigFileError::new(path, None, err))?;
    parse(path, &text)
}

/// Parses file content; `path` is used only in error messages.
///
/// In order: the size and nesting bounds, one YAML mapping, its `apiVersion` and `kind`, and
/// only then the fields, so a file of another kind is reported as such rather than as a list
/// of unknown fields.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigFileError> {
    let guard = |err: config_guard::GuardError| ConfigFileError::new(path, None, err);
    config_guard::check_shape(text).map_err(guard)?;
    let meta = config_guard::type_meta(text).map_err(guard)?;
    check_type_meta(path, "apiVersion", meta.api_version.as_deref(), API_VERSION)?;
    check_type_meta(path, "kind", meta.kind.as_deref(), KIND)?;

    let deserializer = serde_yaml::Deserializer::from_str(text);
    let file: ConfigFile = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let field = err.path().to_string();
        // The root path prints as "."; an error there is about the document, not a field.
        let field = (field != ".").then_some(field);
        let reason = err.inner().to_string();
        let reason = only_primary_names(without_yaml_path(&reason, field.as_deref()));
        // The path holds the offending key itself when the key is unknown: bound it too.
        let field = field.map(|field| config_guard::elide_path(&field));
        ConfigFileError::new(
            path,
            field.as_deref(),
            config_guard::elide(&with_ranges(&reason)),
        )
    })?;
    check_type_meta(path, "apiVersion", file.api_version.as_deref(), API_VERSION)?;
    check_type_meta(path, "kind", file.kind.as_deref(), KIND)?;
    Ok(file)
}

/// serde names the Rust type a number did not fit; say what range that is.
fn with_ranges(message: &str) -> String {
    message
        .replace(
            "expected i32",
            "expected a whole number from -2147483648 to 2147483647",
        )
        .replace("expected f32", "expected a number")
}

/// serde_yaml starts its messages with its own, sometimes shorter, idea of the path
/// (`generic.leaderElection: invalid duration ...`); the full path is printed already.
fn without_yaml_path<'a>(message: &'a str, field: Option<&str>) -> &'a str {
    match (message.split_once(": "), field) {
        (Some((yaml_path, rest)), Some(field)) if field.starts_with(yaml_path) => rest,
        _ => message,
    }
}

/// serde lists every accepted spelling after an unknown field; the Go-name aliases would double
/// the list, so only the lowerCamel names are kept.
fn only_primary_names(message: &str) -> String {
    let Some((head, tail)) = message.split_once(", expected one of ") else {
        return message.to_owned();
    };
    let (list, location) = tail.split_at(tail.find(" at line ").unwrap_or(tail.len()));
    let primary: Vec<&str> = list
        .split(", ")
        .filter(|name| {
            name.trim_start_matches('`')
                .starts_with(|c: char| c.is_ascii_lowercase())
        })
        .collect();
    format!("{head}, expected one of {}{location}", primary.join(", "))
}

fn check_type_meta(
    path: &Path,
    field: &str,
    got: Option<&str>,
    want: &str,
) -> Result<(), ConfigFileError> {
    match got {
        Some(got) if got == want => Ok(()),
        Some(got) => Err(ConfigFileError::new(
            path,
            Some(field),
            format_args!("must be {want:?}, got {got:?}"),
        )),
        None => Err(ConfigFileError::new(
            path,
            Some(field),
            format_args!("missing, must be {want:?}"),
        )),
    }
}

#[cfg(test)]
mod tests;
