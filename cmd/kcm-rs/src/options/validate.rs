//! Checks on the merged configuration, run before anything starts.
//!
//! Every problem is collected (upstream aggregates its validation errors too) and each message
//! names where the bad value came from: the flag, or the config file and field.

use std::time::Duration;

use kcm_shared::client::{RateLimits, Throttling};

use super::config::KcmConfig;
use super::setting::{Origins, Setting};

/// client-go's `JitterFactor`: the renew deadline must outlast one jittered retry.
const LEADER_ELECTION_JITTER_FACTOR: f64 = 1.2;

/// Returns one message per problem; empty means valid.
pub fn validate(config: &KcmConfig, origins: &Origins) -> Vec<String> {
    let mut errors = Vec::new();
    let mut error = |setting: Setting, message: String| {
        errors.push(format!("{}: {message}", origins.locate(setting)));
    };
    let component = &config.component;

    let le = &component.generic.leader_election;
    if le.leader_elect {
        // generic.go Validate: the only lock left upstream.
        if le.resource_lock != "leases" {
            error(
                Setting::LeaderElectResourceLock,
                format!("must be \"leases\", got {:?}", le.resource_lock),
            );
        }
        for (setting, value) in [
            (Setting::LeaderElectResourceName, &le.resource_name),
            (
                Setting::LeaderElectResourceNamespace,
                &le.resource_namespace,
            ),
        ] {
            if value.is_empty() {
                error(
                    setting,
                    "must not be empty when leader election is on".to_owned(),
                );
            }
        }
        // The checks of client-go's NewLeaderElector, which would otherwise fail at runtime.
        if le.lease_duration <= le.renew_deadline {
            error(
                Setting::LeaderElectLeaseDuration,
                format!(
                    "must be greater than the renew deadline ({} <= {})",
                    go(le.lease_duration),
                    go(le.renew_deadline)
                ),
            );
        }
        let jittered_retry = le.retry_period.as_nanos() as f64 * LEADER_ELECTION_JITTER_FACTOR;
        if le.renew_deadline.as_nanos() as f64 <= jittered_retry.trunc() {
            error(
                Setting::LeaderElectRenewDeadline,
                format!(
                    "must be greater than {LEADER_ELECTION_JITTER_FACTOR} x the retry period ({} <= {LEADER_ELECTION_JITTER_FACTOR} x {})",
                    go(le.renew_deadline),
                    go(le.retry_period)
                ),
            );
        }
        for (setting, value) in [
            (Setting::LeaderElectLeaseDuration, le.lease_duration),
            (Setting::LeaderElectRenewDeadline, le.renew_deadline),
            (Setting::LeaderElectRetryPeriod, le.retry_period),
        ] {
            if value.is_zero() {
                error(setting, "must be greater than zero".to_owned());
            }
        }
    }

    let limits = client_limits(config);
    if limits.qps.is_nan() {
        error(Setting::KubeApiQps, "must be a number, got NaN".to_owned());
    } else if limits.qps.is_infinite() {
        // Rust parses an out-of-range float32 such as 1e39 as inf; pflag refuses it.
        error(
            Setting::KubeApiQps,
            format!(
                "must be a finite float32 (magnitude at most {:e}), got {}; a negative value means no limit",
                f32::MAX,
                limits.qps
            ),
        );
    } else if let Err(negative) = limits.throttling() {
        error(
            Setting::KubeApiBurst,
            format!(
                "must not be negative while the QPS limits the clients (got {}; client-go would fail every request); 0 means client-go's default {}",
                negative.burst,
                RateLimits::DEFAULT_BURST
            ),
        );
    }

    for (setting, workers) in [
        (
            Setting::ConcurrentDeploymentSyncs,
            component.deployment_controller.concurrent_deployment_syncs,
        ),
        (
            Setting::ConcurrentEndpointSyncs,
            component.endpoint_controller.concurrent_endpoint_syncs,
        ),
        (
            Setting::ConcurrentRcSyncs,
            component.replication_controller.concurrent_rc_syncs,
        ),
        (
            Setting::ConcurrentReplicasetSyncs,
            component.replica_set_controller.concurrent_rs_syncs,
        ),
        (
            Setting::ConcurrentNamespaceSyncs,
            component.namespace_controller.concurrent_namespace_syncs,
        ),
    ] {
        if workers < 0 {
            error(setting, format!("must not be negative, got {workers}"));
        }
    }

    let process = &config.process;
    if process.tls_cert_file.is_some() != process.tls_private_key_file.is_some() {
        errors.push("--tls-cert-file and --tls-private-key-file must be given together".to_owned());
    }
    errors
}

/// What the process should say at info level about how it reads the configuration: values
/// that upstream gives a meaning other than their face value.
pub fn notices(config: &KcmConfig, origins: &Origins) -> Vec<String> {
    let mut notices = Vec::new();
    let limits = client_limits(config);
    let qps_at = origins.locate(Setting::KubeApiQps);
    let burst_at = origins.locate(Setting::KubeApiBurst);
    match limits.throttling() {
        Ok(Throttling::Unlimited) if limits.qps < 0.0 => notices.push(format!(
            "{qps_at}: {} is negative: the API clients have no client-side rate limit (as in client-go); the burst is unused",
            limits.qps
        )),
        Ok(Throttling::Bucket { qps, burst }) => {
            if limits.qps == 0.0 {
                notices.push(format!(
                    "{qps_at}: 0 means client-go's default: using {qps} queries per second per client"
                ));
            }
            if limits.burst == 0 {
                notices.push(format!(
                    "{burst_at}: 0 means client-go's default: using a burst of {burst} per client"
                ));
            }
        }
        _ => {}
    }
    notices
}

fn client_limits(config: &KcmConfig) -> RateLimits {
    let conn = &config.component.generic.client_connection;
    RateLimits {
        qps: conn.qps,
        burst: conn.burst,
    }
}

fn go(d: Duration) -> super::duration::GoDuration {
    super::duration::GoDuration(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::setting::Origin;
    use std::path::PathBuf;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn with_leader_election(lease: Duration, renew: Duration, retry: Duration) -> KcmConfig {
        let mut config = KcmConfig::default();
        let le = &mut config.component.generic.leader_election;
        (le.lease_duration, le.renew_deadline, le.retry_period) = (lease, renew, retry);
        config
    }

    #[test]
    fn defaults_are_valid() {
        assert!(validate(&KcmConfig::default(), &Origins::default()).is_empty());
    }

    #[test]
    fn leader_election_timing_follows_client_go() {
        let origins = Origins::default();
        let ok = [
            (secs(15), secs(10), secs(2)),
            (secs(3), secs(2), Duration::from_millis(1666)),
        ];
        for (lease, renew, retry) in ok {
            let errors = validate(&with_leader_election(lease, renew, retry), &origins);
            assert!(
                errors.is_empty(),
                "{lease:?}/{renew:?}/{retry:?}: {errors:?}"
            );
        }
        let bad: [(Duration, Duration, Duration, &[&str]); 4] = [
            (
                secs(10),
                secs(10),
                secs(2),
                &[
                    "--leader-elect-lease-duration: must be greater than the renew deadline (10s <= 10s)",
                ],
            ),
            (
                secs(15),
                Duration::from_millis(2400),
                secs(2),
                &[
                    "--leader-elect-renew-deadline: must be greater than 1.2 x the retry period (2.4s <= 1.2 x 2s)",
                ],
            ),
            (
                secs(15),
                secs(10),
                Duration::ZERO,
                &["--leader-elect-retry-period: must be greater than zero"],
            ),
            (
                secs(5),
                secs(10),
                secs(9),
                &[
                    "--leader-elect-lease-duration: must be greater than the renew deadline (5s <= 10s)",
                    "--leader-elect-renew-deadline: must be greater than 1.2 x the retry period (10s <= 1.2 x 9s)",
                ],
            ),
        ];
        for (lease, renew, retry, want) in bad {
            assert_eq!(
                validate(&with_leader_election(lease, renew, retry), &origins),
                want
            );
        }
    }

    #[test]
    fn leader_election_settings_are_ignored_when_it_is_off() {
        let mut config = with_leader_election(secs(1), secs(10), secs(20));
        let le = &mut config.component.generic.leader_election;
        le.leader_elect = false;
        le.resource_lock = "endpoints".into();
        assert!(validate(&config, &Origins::default()).is_empty());
    }

    #[test]
    fn only_leases_lock() {
        let mut config = KcmConfig::default();
        config.component.generic.leader_election.resource_lock = "endpoints".into();
        assert_eq!(
            validate(&config, &Origins::default()),
            ["--leader-elect-resource-lock: must be \"leases\", got \"endpoints\""]
        );
    }

    #[test]
    fn negative_workers_name_the_file_field_when_they_came_from_the_file() {
        let mut config = KcmConfig::default();
        config.component.replication_controller.concurrent_rc_syncs = -1;
        config
            .component
            .namespace_controller
            .concurrent_namespace_syncs = -2;
        // A negative threshold is meaningful: it turns terminated-pod GC off.
        config
            .component
            .pod_gc_controller
            .terminated_pod_gc_threshold = -1;
        let mut origins = Origins::new(Some(PathBuf::from("/etc/kcm.yaml")));
        origins.record(Setting::ConcurrentRcSyncs, Origin::File);
        origins.record(Setting::ConcurrentNamespaceSyncs, Origin::CommandLine);
        assert_eq!(
            validate(&config, &origins),
            [
                "config file /etc/kcm.yaml: field replicationController.concurrentRCSyncs: must not be negative, got -1",
                "--concurrent-namespace-syncs: must not be negative, got -2",
            ]
        );
    }

    #[test]
    fn tls_files_come_in_pairs_and_qps_is_a_number() {
        let mut config = KcmConfig::default();
        config.process.tls_cert_file = Some("/tls.crt".into());
        config.component.generic.client_connection.qps = f32::NAN;
        assert_eq!(
            validate(&config, &Origins::default()),
            [
                "--kube-api-qps: must be a number, got NaN",
                "--tls-cert-file and --tls-private-key-file must be given together",
            ]
        );
    }

    fn with_limits(qps: f32, burst: i32) -> KcmConfig {
        let mut config = KcmConfig::default();
        let conn = &mut config.component.generic.client_connection;
        (conn.qps, conn.burst) = (qps, burst);
        config
    }

    #[test]
    fn client_limits_follow_client_go() {
        let origins = Origins::default();
        let valid: &[(f32, i32, &[&str])] = &[
            (20.0, 30, &[]),
            (
                0.0,
                0,
                &[
                    "--kube-api-qps: 0 means client-go's default: using 5 queries per second per client",
                    "--kube-api-burst: 0 means client-go's default: using a burst of 10 per client",
                ],
            ),
            (
                -1.0,
                -7,
                &[
                    "--kube-api-qps: -1 is negative: the API clients have no client-side rate limit (as in client-go); the burst is unused",
                ],
            ),
            (1e-30, 1, &[]),
            (f32::MAX, i32::MAX, &[]),
        ];
        for (qps, burst, want) in valid {
            let config = with_limits(*qps, *burst);
            assert_eq!(
                validate(&config, &origins),
                [] as [String; 0],
                "{qps}/{burst}"
            );
            assert_eq!(notices(&config, &origins), *want, "{qps}/{burst}");
        }
        let invalid: &[(f32, i32, &str)] = &[
            (f32::NAN, 30, "--kube-api-qps: must be a number, got NaN"),
            (
                f32::INFINITY,
                30,
                "--kube-api-qps: must be a finite float32 (magnitude at most 3.4028235e38), got inf; a negative value means no limit",
            ),
            (
                f32::NEG_INFINITY,
                30,
                "--kube-api-qps: must be a finite float32 (magnitude at most 3.4028235e38), got -inf; a negative value means no limit",
            ),
            (
                20.0,
                -1,
                "--kube-api-burst: must not be negative while the QPS limits the clients (got -1; client-go would fail every request); 0 means client-go's default 10",
            ),
            (
                0.0,
                i32::MIN,
                "--kube-api-burst: must not be negative while the QPS limits the clients (got -2147483648; client-go would fail every request); 0 means client-go's default 10",
            ),
        ];
        for (qps, burst, want) in invalid {
            assert_eq!(
                validate(&with_limits(*qps, *burst), &origins),
                [*want],
                "{qps}/{burst}"
            );
        }
    }
}
