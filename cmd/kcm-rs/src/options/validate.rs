//! Checks on the merged configuration that relate settings to each other (leader election
//! timing, the TLS pair), run before anything starts; single values are [`super::ranges`]'.
//!
//! Every problem is collected (upstream aggregates its validation errors too) and each message
//! names where the bad value came from: the flag, or the config file and field.

use std::time::Duration;

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

    let process = &config.process;
    if process.tls_cert_file.is_some() != process.tls_private_key_file.is_some() {
        errors.push("--tls-cert-file and --tls-private-key-file must be given together".to_owned());
    }
    errors
}

fn go(d: Duration) -> super::duration::GoDuration {
    super::duration::GoDuration(d)
}

#[cfg(test)]
mod tests;
