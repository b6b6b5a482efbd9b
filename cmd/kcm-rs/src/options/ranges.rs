//! The valid range of every numeric setting, checked before anything starts.
//!
//! Parsing already bounds each value by its type (an int32, a float32, a Go duration, a port),
//! with messages that name the flag or the file field and the range. This module adds the
//! ranges that depend on meaning, and follows upstream where upstream gives a value one:
//!
//! * `--kube-api-qps`/`--kube-api-burst`: as client-go reads them (0 is its default 5 or 10, a
//!   negative QPS means no limit), logged at info; NaN, infinity and a negative burst under a
//!   limit are refused; a QPS so low that clients stall is accepted with a loud warning.
//! * workers (`--concurrent-*-syncs`): 1 to [`MAX_WORKERS`]. Upstream starts a controller with
//!   0 workers that then never syncs anything, silently; kcm-rs refuses 0 for a controller
//!   that runs (and accepts it for one that does not).
//! * an empty controller set: upstream idles. kcm-rs refuses it when it would still hold the
//!   Lease (keeping every other controller manager from leading) and warns otherwise.
//! * durations whose large values stall a controller (start interval, endpoint batching) warn.
//! * values upstream defines as "off" (0 resync periods, `--terminated-pod-gc-threshold <= 0`,
//!   `--secure-port=0`, `--controller-shutdown-timeout=0`) are logged at info.

use std::time::Duration;

use kcm_controllers::names::ControllerId;
use kcm_shared::client::{RateLimits, Throttling};

use super::config::KcmConfig;
use super::duration::GoDuration;
use super::setting::{Origins, Setting};

/// The most workers one controller may have. Past the QPS budget extra workers only queue for
/// tokens; 10 000 of them cost about 8 MB, while `i32::MAX` would exhaust memory at start.
pub const MAX_WORKERS: i32 = 10_000;

/// A client spacing requests further apart than this (once its burst is spent) stalls its
/// controller; so does a longer start delay or batching period.
const STALL: Duration = Duration::from_secs(60);
/// A start interval above this leaves controllers waiting a long random time.
const LONG_START_INTERVAL: Duration = Duration::from_secs(600);

/// What the checks found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    /// Refuse to start.
    pub errors: Vec<String>,
    /// Start, but say so loudly.
    pub warnings: Vec<String>,
    /// Start, and say at info level what a value was taken to mean.
    pub notices: Vec<String>,
}

/// Checks every numeric setting (and the controller set) of `config`; `enabled` is what
/// `--controllers` resolved to, `None` if it did not resolve (then the checks that depend on
/// which controllers run are skipped: the list's own errors come first).
pub fn check(config: &KcmConfig, origins: &Origins, enabled: Option<&[ControllerId]>) -> Findings {
    let mut findings = Findings::default();
    client_limits(config, origins, &mut findings);
    workers(config, origins, enabled.unwrap_or(&[]), &mut findings);
    if let Some(enabled) = enabled {
        controller_set(config, origins, enabled, &mut findings);
    }
    let enabled = enabled.unwrap_or(&[]);
    durations(config, origins, enabled, &mut findings);
    off_values(config, origins, enabled, &mut findings);
    findings
}

fn client_limits(config: &KcmConfig, origins: &Origins, findings: &mut Findings) {
    let conn = &config.component.generic.client_connection;
    let limits = RateLimits {
        qps: conn.qps,
        burst: conn.burst,
    };
    let qps_at = origins.locate(Setting::KubeApiQps);
    let burst_at = origins.locate(Setting::KubeApiBurst);
    if !limits.qps.is_finite() {
        // Rust parses an out-of-range float32 such as 1e39 as inf in the file; pflag refuses
        // it, and NaN (which client-go would silently treat as "no limit") means nothing.
        findings.errors.push(format!(
            "{qps_at}: must be a finite number (a float32, magnitude at most {:e}; negative means no limit), got {}",
            f32::MAX,
            limits.qps
        ));
        return;
    }
    match limits.throttling() {
        Err(negative) => findings.errors.push(format!(
            "{burst_at}: must be from 0 to {} while the QPS limits the clients (0 means client-go's default {}), got {}: client-go would fail every request",
            i32::MAX,
            RateLimits::DEFAULT_BURST,
            negative.burst
        )),
        Ok(Throttling::Unlimited) => findings.notices.push(format!(
            "{qps_at}: {} is negative: the API clients have no client-side rate limit (as in client-go); the burst is unused",
            limits.qps
        )),
        Ok(Throttling::Bucket { qps, burst }) => {
            if limits.qps == 0.0 {
                findings.notices.push(format!(
                    "{qps_at}: 0 means client-go's default: using {qps} queries per second per client"
                ));
            }
            if limits.burst == 0 {
                findings.notices.push(format!(
                    "{burst_at}: 0 means client-go's default: using a burst of {burst} per client"
                ));
            }
            let spacing = Duration::try_from_secs_f64(1.0 / f64::from(qps)).unwrap_or(Duration::MAX);
            if spacing > STALL {
                findings.warnings.push(format!(
                    "{qps_at}: {} lets each API client send one request every {} once its burst of {burst} is spent: controllers will stall and the leader will lose its Lease",
                    short_float(qps),
                    go_duration(spacing)
                ));
            }
        }
    }
}

/// The worker-count settings and the controller each one sizes.
const WORKERS: &[(Setting, ControllerId)] = &[
    (Setting::ConcurrentDeploymentSyncs, ControllerId::Deployment),
    (Setting::ConcurrentEndpointSyncs, ControllerId::Endpoints),
    (
        Setting::ConcurrentRcSyncs,
        ControllerId::ReplicationController,
    ),
    (Setting::ConcurrentReplicasetSyncs, ControllerId::ReplicaSet),
    (Setting::ConcurrentNamespaceSyncs, ControllerId::Namespace),
];

fn worker_count(config: &KcmConfig, setting: Setting) -> i32 {
    let c = &config.component;
    match setting {
        Setting::ConcurrentDeploymentSyncs => c.deployment_controller.concurrent_deployment_syncs,
        Setting::ConcurrentEndpointSyncs => c.endpoint_controller.concurrent_endpoint_syncs,
        Setting::ConcurrentRcSyncs => c.replication_controller.concurrent_rc_syncs,
        Setting::ConcurrentReplicasetSyncs => c.replica_set_controller.concurrent_rs_syncs,
        Setting::ConcurrentNamespaceSyncs => c.namespace_controller.concurrent_namespace_syncs,
        _ => 1,
    }
}

fn workers(
    config: &KcmConfig,
    origins: &Origins,
    enabled: &[ControllerId],
    findings: &mut Findings,
) {
    for &(setting, controller) in WORKERS {
        let workers = worker_count(config, setting);
        let at = origins.locate(setting);
        let name = controller.names().canonical;
        if !(0..=MAX_WORKERS).contains(&workers) {
            findings.errors.push(format!(
                "{at}: must be from 1 to {MAX_WORKERS} workers, got {workers}"
            ));
        } else if workers == 0 && enabled.contains(&controller) {
            findings.errors.push(format!(
                "{at}: must be from 1 to {MAX_WORKERS} workers, got 0: {name} would start and never sync anything (upstream does that silently); to turn it off use --controllers=*,-{name}"
            ));
        }
    }
}

fn controller_set(
    config: &KcmConfig,
    origins: &Origins,
    enabled: &[ControllerId],
    findings: &mut Findings,
) {
    if !enabled.is_empty() {
        return;
    }
    let at = origins.locate(Setting::Controllers);
    let le = &config.component.generic.leader_election;
    if le.leader_elect && !config.process.leader_elect_per_controller {
        findings.errors.push(format!(
            "{at}: enables none of the controllers kcm-rs runs: it would take the Lease {}/{} and run nothing, keeping every other controller manager from leading; use '*' for the defaults, or --leader-elect=false to idle",
            le.resource_namespace, le.resource_name
        ));
    } else {
        findings.warnings.push(format!(
            "{at}: enables none of the controllers kcm-rs runs: it will serve its port and run nothing"
        ));
    }
}

fn durations(
    config: &KcmConfig,
    origins: &Origins,
    enabled: &[ControllerId],
    findings: &mut Findings,
) {
    let generic = &config.component.generic;
    let interval = generic.controller_start_interval;
    if interval > LONG_START_INTERVAL {
        findings.warnings.push(format!(
            "{}: {}: each controller waits a random time between {} and twice that before it starts",
            origins.locate(Setting::ControllerStartInterval),
            go_duration(interval),
            go_duration(interval)
        ));
    }
    let batch = config
        .component
        .endpoint_controller
        .endpoint_updates_batch_period;
    if batch > STALL && enabled.contains(&ControllerId::Endpoints) {
        findings.warnings.push(format!(
            "{}: {}: Endpoints follow pod changes only after that long",
            origins.locate(Setting::EndpointUpdatesBatchPeriod),
            go_duration(batch)
        ));
    }
}

fn off_values(
    config: &KcmConfig,
    origins: &Origins,
    enabled: &[ControllerId],
    findings: &mut Findings,
) {
    let c = &config.component;
    if c.generic.min_resync_period.is_zero() {
        findings.notices.push(format!(
            "{}: 0s: informers never resync their handlers (as upstream)",
            origins.locate(Setting::MinResyncPeriod)
        ));
    }
    if c.namespace_controller.namespace_sync_period.is_zero()
        && enabled.contains(&ControllerId::Namespace)
    {
        findings.notices.push(format!(
            "{}: 0s: the namespace controller never resyncs namespaces (as upstream)",
            origins.locate(Setting::NamespaceSyncPeriod)
        ));
    }
    let threshold = c.pod_gc_controller.terminated_pod_gc_threshold;
    if threshold <= 0 && enabled.contains(&ControllerId::PodGarbageCollector) {
        findings.notices.push(format!(
            "{}: {threshold} (<= 0): terminated pods are not garbage collected (as upstream); orphaned and unscheduled terminating pods still are",
            origins.locate(Setting::TerminatedPodGcThreshold)
        ));
    }
    if config.process.controller_shutdown_timeout.is_zero() {
        findings.notices.push(format!(
            "{}: 0s: shutdown waits for the controllers for as long as they take",
            origins.locate(Setting::ControllerShutdownTimeout)
        ));
    }
    if config.process.secure_port == 0 {
        findings.notices.push(
            "--secure-port: 0: HTTPS serving is off (no /healthz, /metrics or /configz)".to_owned(),
        );
    }
}

/// `1e-30` rather than thirty zeros; ordinary values as they are.
fn short_float(value: f32) -> String {
    if value != 0.0 && value.abs() < 1e-3 {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

fn go_duration(d: Duration) -> GoDuration {
    GoDuration(d.min(super::duration::MAX))
}

#[cfg(test)]
mod tests;
