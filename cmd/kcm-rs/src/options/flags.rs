//! The command line: upstream kube-controller-manager's flag names and defaults, parsed by clap.
//!
//! Defaults live in [`defaults`] so the flags, the effective configuration and the sample config
//! file cannot drift apart. `--help` prints them in Go syntax (`12h0m0s`), as upstream's does.
//!
//! Upstream normalizes every flag name with `cliflag.WordSepNormalizeFunc`, so `--concurrent_rc_syncs`
//! and `--concurrent-rc-syncs` are one flag. [`normalize_args`] does the same to argv before clap
//! sees it.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

use super::duration::GoDuration;

/// Upstream defaults (v1.35), shared by the flags, [`super::KcmConfig::default`] and the sample
/// file `config/kcm-rs.yaml`.
pub mod defaults {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    pub const CONTROLLERS: &[&str] = &["*"];
    pub const MIN_RESYNC_PERIOD: Duration = Duration::from_secs(12 * 60 * 60);
    pub const CONTROLLER_START_INTERVAL: Duration = Duration::ZERO;
    pub const CONTROLLER_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
    /// KCM lowers component-base's 50/100 to 20/30 (per client).
    pub const KUBE_API_QPS: f32 = 20.0;
    pub const KUBE_API_BURST: i32 = 30;

    pub const LEADER_ELECT: bool = true;
    pub const LEASE_DURATION: Duration = Duration::from_secs(15);
    pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
    pub const RETRY_PERIOD: Duration = Duration::from_secs(2);
    pub const RESOURCE_LOCK: &str = "leases";
    pub const RESOURCE_NAME: &str = "kube-controller-manager";
    pub const RESOURCE_NAMESPACE: &str = "kube-system";

    pub const CONCURRENT_DEPLOYMENT_SYNCS: i32 = 5;
    pub const CONCURRENT_ENDPOINT_SYNCS: i32 = 5;
    pub const ENDPOINT_UPDATES_BATCH_PERIOD: Duration = Duration::ZERO;
    pub const CONCURRENT_RC_SYNCS: i32 = 5;
    pub const CONCURRENT_REPLICASET_SYNCS: i32 = 5;
    pub const TERMINATED_POD_GC_THRESHOLD: i32 = 12500;
    pub const NAMESPACE_SYNC_PERIOD: Duration = Duration::from_secs(5 * 60);
    /// Upstream's fixed `gcCheckPeriod` and `quarantineTime` (pkg/controller/podgc).
    pub const POD_GC_CHECK_PERIOD: Duration = Duration::from_secs(20);
    pub const POD_GC_QUARANTINE: Duration = Duration::from_secs(40);
    pub const CONCURRENT_NAMESPACE_SYNCS: i32 = 10;

    /// Upstream's 0.0.0.0: the port is guarded by delegated authentication and authorization.
    pub const BIND_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    pub const SECURE_PORT: u16 = 10257;
}

/// How log lines are written (`--logging-format`, component-base's `text` and `json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LoggingFormat {
    #[default]
    Text,
    Json,
}

const GENERIC: &str = "Generic flags";
const LEADER_ELECTION: &str = "Leader election flags";
const CONTROLLERS: &str = "Controller flags";
const LOGS: &str = "Logs flags";
const MISC: &str = "Misc flags";

/// Every flag kcm-rs accepts. Field names are the clap ids used to ask where a value came from.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "kcm-rs",
    version = crate::version::TEXT,
    disable_version_flag = true,
    // pflag semantics: a flag given twice takes the later value (kubeadm extraArgs rely on it).
    args_override_self = true,
    about = "A kube-controller-manager-style process running the endpoints, replicationcontroller, \
             replicaset, pod garbage collector, namespace and deployment controllers."
)]
pub struct Flags {
    /// Path to a KubeControllerManagerConfiguration file (kcm-rs extension; upstream has no
    /// --config). Flags given on the command line override its values.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, help_heading = MISC)]
    pub config: Option<PathBuf>,

    /// Path to a kubeconfig file with authorization and master location information. Without it
    /// and --master, the in-cluster configuration is used.
    #[arg(long, value_name = "PATH", allow_hyphen_values = true, default_value = "", hide_default_value = true, help_heading = MISC)]
    pub kubeconfig: String,

    /// The address of the Kubernetes API server (overrides any value in kubeconfig).
    #[arg(long, value_name = "URL", allow_hyphen_values = true, default_value = "", hide_default_value = true, help_heading = MISC)]
    pub master: String,

    #[arg(
        long,
        value_name = "NAMES",
        default_value = "*",
        action = ArgAction::Append,
        allow_hyphen_values = true,
        help = controllers_help(),
        help_heading = GENERIC,
    )]
    pub controllers: Vec<String>,

    /// The resync period in reflectors will be random between MinResyncPeriod and
    /// 2*MinResyncPeriod.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(defaults::MIN_RESYNC_PERIOD), help_heading = GENERIC)]
    pub min_resync_period: GoDuration,

    /// Interval between starting controllers (each start waits a random time in [interval, 2*interval)).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(defaults::CONTROLLER_START_INTERVAL), help_heading = GENERIC)]
    pub controller_start_interval: GoDuration,

    /// How long to wait for controllers to stop once shutdown begins; 0 waits forever.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(defaults::CONTROLLER_SHUTDOWN_TIMEOUT), help_heading = GENERIC)]
    pub controller_shutdown_timeout: GoDuration,

    /// QPS to use while talking with the Kubernetes API server (per controller client).
    #[arg(long, value_name = "QPS", allow_hyphen_values = true, value_parser = parse_f32, default_value_t = defaults::KUBE_API_QPS, help_heading = GENERIC)]
    pub kube_api_qps: f32,

    /// Burst to use while talking with the Kubernetes API server (per controller client).
    #[arg(long, value_name = "N", value_parser = parse_i32, default_value_t = defaults::KUBE_API_BURST, allow_hyphen_values = true, help_heading = GENERIC)]
    pub kube_api_burst: i32,

    #[arg(
        long,
        value_name = "NAME=BOOL,...",
        action = ArgAction::Append,
        allow_hyphen_values = true,
        help = feature_gates_help(),
        help_heading = GENERIC,
    )]
    pub feature_gates: Vec<String>,

    /// Give each controller its own ServiceAccount credentials (kube-system/<client-name>,
    /// tokens from the TokenRequest API) instead of the kubeconfig's.
    #[arg(long, value_name = "BOOL", default_value_t = false, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = GENERIC)]
    pub use_service_account_credentials: bool,

    /// Start a leader election client and gain leadership before running the controllers.
    #[arg(long, value_name = "BOOL", default_value_t = defaults::LEADER_ELECT, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = LEADER_ELECTION)]
    pub leader_elect: bool,

    /// How long non-leader candidates wait after observing a leadership renewal before trying to
    /// acquire leadership themselves.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(defaults::LEASE_DURATION), help_heading = LEADER_ELECTION)]
    pub leader_elect_lease_duration: GoDuration,

    /// How long the leader keeps retrying to renew before it gives up leadership. Must be less
    /// than the lease duration.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(defaults::RENEW_DEADLINE), help_heading = LEADER_ELECTION)]
    pub leader_elect_renew_deadline: GoDuration,

    /// How long candidates wait between attempts to acquire or renew leadership.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(defaults::RETRY_PERIOD), help_heading = LEADER_ELECTION)]
    pub leader_elect_retry_period: GoDuration,

    /// The type of resource object used for locking during leader election. Only "leases" is
    /// supported.
    #[arg(long, value_name = "KIND", allow_hyphen_values = true, default_value = defaults::RESOURCE_LOCK, help_heading = LEADER_ELECTION)]
    pub leader_elect_resource_lock: String,

    /// The name of the Lease object used for locking during leader election.
    #[arg(long, value_name = "NAME", allow_hyphen_values = true, default_value = defaults::RESOURCE_NAME, help_heading = LEADER_ELECTION)]
    pub leader_elect_resource_name: String,

    /// The namespace of the Lease object used for locking during leader election.
    #[arg(long, value_name = "NAMESPACE", allow_hyphen_values = true, default_value = defaults::RESOURCE_NAMESPACE, help_heading = LEADER_ELECTION)]
    pub leader_elect_resource_namespace: String,

    /// Elect a leader per controller (one Lease each) instead of one for the whole process
    /// (kcm-rs extension).
    #[arg(long, value_name = "BOOL", default_value_t = false, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = LEADER_ELECTION)]
    pub leader_elect_per_controller: bool,

    #[command(flatten)]
    pub serving: super::serving::ServingFlags,

    /// The number of concurrent Deployment syncs. More is more responsive, at more CPU and network load.
    #[arg(long, value_name = "N", value_parser = parse_i32, default_value_t = defaults::CONCURRENT_DEPLOYMENT_SYNCS, allow_hyphen_values = true, help_heading = CONTROLLERS)]
    pub concurrent_deployment_syncs: i32,

    /// The number of endpoint syncing operations done concurrently.
    #[arg(long, value_name = "N", value_parser = parse_i32, default_value_t = defaults::CONCURRENT_ENDPOINT_SYNCS, allow_hyphen_values = true, help_heading = CONTROLLERS)]
    pub concurrent_endpoint_syncs: i32,

    /// How long to batch pod-triggered endpoint updates; 0 syncs on every pod change.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(defaults::ENDPOINT_UPDATES_BATCH_PERIOD), help_heading = CONTROLLERS)]
    pub endpoint_updates_batch_period: GoDuration,

    /// The number of ReplicationControllers synced concurrently.
    #[arg(long, value_name = "N", value_parser = parse_i32, default_value_t = defaults::CONCURRENT_RC_SYNCS, allow_hyphen_values = true, help_heading = CONTROLLERS)]
    pub concurrent_rc_syncs: i32,

    /// The number of ReplicaSets synced concurrently.
    #[arg(long, value_name = "N", value_parser = parse_i32, default_value_t = defaults::CONCURRENT_REPLICASET_SYNCS, allow_hyphen_values = true, help_heading = CONTROLLERS)]
    pub concurrent_replicaset_syncs: i32,

    /// Number of terminated pods that can exist before the terminated pod garbage collector
    /// starts deleting them. If <= 0, terminated pods are not garbage collected.
    #[arg(long, value_name = "N", value_parser = parse_i32, default_value_t = defaults::TERMINATED_POD_GC_THRESHOLD, allow_hyphen_values = true, help_heading = CONTROLLERS)]
    pub terminated_pod_gc_threshold: i32,

    /// Tests only, not in --help: the pod GC's pass period (upstream fixes it at 20s and its
    /// integration tests change it through NewPodGCInternal).
    #[arg(long, value_name = "DURATION", hide = true, allow_hyphen_values = true, default_value_t = GoDuration(defaults::POD_GC_CHECK_PERIOD))]
    pub pod_gc_check_period: GoDuration,

    /// Tests only, not in --help: how long the pod GC waits before it reads a missing node
    /// (upstream fixes it at 40s).
    #[arg(long, value_name = "DURATION", hide = true, allow_hyphen_values = true, default_value_t = GoDuration(defaults::POD_GC_QUARANTINE))]
    pub pod_gc_quarantine: GoDuration,

    /// The period for syncing namespace life-cycle updates.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(defaults::NAMESPACE_SYNC_PERIOD), help_heading = CONTROLLERS)]
    pub namespace_sync_period: GoDuration,

    /// The number of namespace objects synced concurrently.
    #[arg(long, value_name = "N", value_parser = parse_i32, default_value_t = defaults::CONCURRENT_NAMESPACE_SYNCS, allow_hyphen_values = true, help_heading = CONTROLLERS)]
    pub concurrent_namespace_syncs: i32,

    /// Log level verbosity (klog -v).
    #[arg(short = 'v', long = "v", value_name = "LEVEL", allow_hyphen_values = true, value_parser = parse_verbosity, default_value_t = 0, help_heading = LOGS)]
    pub v: u32,

    /// Log format.
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true, value_enum, default_value_t = LoggingFormat::Text, help_heading = LOGS)]
    pub logging_format: LoggingFormat,

    #[command(flatten)]
    pub unimplemented: super::unimplemented::UnimplementedControllerFlags,

    /// Print version information and quit.
    #[arg(long, action = ArgAction::Version, help_heading = MISC)]
    version: (),
}

/// The `--controllers` help text, listing every name like upstream's does.
fn controllers_help() -> String {
    use kcm_controllers::names::KNOWN_CONTROLLERS;

    let join = |only_off: bool| {
        KNOWN_CONTROLLERS
            .iter()
            .filter(|c| !only_off || !c.enabled_by_default)
            .map(|c| c.canonical)
            .collect::<Vec<_>>()
            .join(", ")
    };
    // What this build really runs: the registry, not the card's list of names.
    let implemented = kcm_controllers::registry::descriptors()
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "A list of controllers to enable. '*' enables all on-by-default controllers, 'foo' enables \
         the controller named 'foo', '-foo' disables the controller named 'foo'; the first entry \
         naming a controller wins.\nImplemented by kcm-rs: {implemented}\nAll controllers \
         (others are accepted and ignored with a warning): {}\nDisabled-by-default controllers: {}",
        join(false),
        join(true)
    )
}

/// The `--feature-gates` help text: the syntax and the gates that change what kcm-rs does.
fn feature_gates_help() -> String {
    use kcm_shared::features::{EMULATION_VERSION, Feature, known_gate};

    let honoured: Vec<String> = Feature::ALL
        .iter()
        .filter_map(|feature| known_gate(feature.name()))
        .map(|gate| {
            format!(
                "{}=true|false ({} - default={})",
                gate.name, gate.stage, gate.default
            )
        })
        .collect();
    format!(
        "Comma-separated list of [kube:]Name=true|false pairs that describe feature gates; the \
         flag can be repeated. Every gate kube-controller-manager {EMULATION_VERSION} knows is \
         accepted with its checks (unknown gates and locked gates set away from their value are \
         errors); AllAlpha/AllBeta set every alpha/beta gate not named. Gates kcm-rs honours:\n{}\n\
         Other gates are accepted with a warning and have no effect.",
        honoured.join("\n")
    )
}

/// An int32 flag (pflag's `Int32`), with the range in the message.
pub(super) fn parse_i32(value: &str) -> Result<i32, String> {
    value.trim().parse().map_err(|_| {
        format!(
            "{value:?} is not a whole number from {} to {}",
            i32::MIN,
            i32::MAX
        )
    })
}

/// A float32 flag (pflag's `Float32`, Go's `ParseFloat(s, 32)`): a value beyond float32's range
/// is an error, not infinity. NaN and infinity spelled out parse, for validation to name.
pub(super) fn parse_f32(value: &str) -> Result<f32, String> {
    let parsed: f32 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if parsed.is_infinite() && !value.to_ascii_lowercase().contains("inf") {
        return Err(format!(
            "{value:?} is out of range for a float32 (magnitude at most {:e})",
            f32::MAX
        ));
    }
    Ok(parsed)
}

/// klog's `-v` (a `Level`, an int32), from 0 up.
fn parse_verbosity(value: &str) -> Result<u32, String> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|v| i32::try_from(*v).is_ok())
        .ok_or_else(|| format!("{value:?} is not a log level from 0 to {}", i32::MAX))
}

/// Go's `strconv.ParseBool`, which pflag uses for boolean flags.
pub(super) fn parse_go_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("{value:?} is not a boolean (use true or false)")),
    }
}

/// Rewrites `--flag_name[=value]` to `--flag-name[=value]`, like `cliflag.WordSepNormalizeFunc`.
///
/// Only the name part of long flags is touched; values, short flags and everything after a
/// `--` terminator stay as they are.
pub fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut after_terminator = false;
    args.into_iter()
        .map(Into::into)
        .map(|arg| {
            if after_terminator {
                return arg;
            }
            let Some(text) = arg.to_str() else {
                return arg;
            };
            if text == "--" {
                after_terminator = true;
                return arg;
            }
            let Some(flag) = text.strip_prefix("--") else {
                return arg;
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (flag, None),
            };
            if !name.contains('_') {
                return arg;
            }
            let name = name.replace('_', "-");
            match value {
                Some(value) => format!("--{name}={value}").into(),
                None => format!("--{name}").into(),
            }
        })
        .collect()
}

/// Splits `--controllers` occurrences into entries: pflag's string slice reads each occurrence as
/// one CSV record and appends; an empty occurrence contributes nothing.
pub fn controller_entries(occurrences: &[String]) -> Vec<String> {
    occurrences
        .iter()
        .filter(|occurrence| !occurrence.is_empty())
        .flat_map(|occurrence| occurrence.split(','))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests;
