//! The simulated pod lifecycle: where a pod stands, and what a kubelet would report next.
//!
//! Everything here is a pure function of the pod as the API shows it, its [`Behaviour`] and
//! the current time. The pod's own status is the only memory (`startTime`, the containers'
//! `startedAt`, `restartCount`, the last termination), so a restarted virtual node picks up
//! every pod where it stood, and the same pod read twice gives the same answer: nothing is
//! written unless the reported stage would change.
//!
//! ```text
//!   Unadmitted ──start-delay──▶ Creating ──▶ Running ──exit-after──▶ exited ─┬─▶ Finished
//!        │                        (Pending)    ready-after / unready-after    │   (Succeeded/Failed,
//!        └─ bad annotation / node full ─▶ Rejected (Failed)                   │    by restartPolicy)
//!                                              ▲                              │
//!                                              └──────── BackOff ◀────────────┘
//!   activeDeadlineSeconds passed (any admitted, unfinished stage) ─▶ Finished (Failed, DeadlineExceeded)
//! ```

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use crate::behaviour::Behaviour;

/// Kubelet's container restart back-off: 10 s, doubled per restart, at most 5 min.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBackoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RestartBackoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(300),
        }
    }
}

impl RestartBackoff {
    /// The wait before restart number `restarts` (1 for the first restart).
    pub fn delay(&self, restarts: i32) -> Duration {
        let doublings = u32::try_from(restarts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        self.initial
            .checked_mul(1 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// Where a pod stands, read from its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Bound, but no kubelet has reported on it yet (no `startTime`).
    Unadmitted,
    /// Admitted at `since`; containers are being created (phase Pending).
    Creating { since: Timestamp },
    /// Containers running since `started_at`.
    Running {
        started_at: Timestamp,
        restarts: i32,
        ready: bool,
    },
    /// Containers exited at `finished_at` and wait to be restarted.
    BackOff {
        finished_at: Timestamp,
        restarts: i32,
    },
    /// Succeeded or Failed: terminal.
    Finished,
}

/// How a finished pod ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
}

impl Outcome {
    pub fn phase(self) -> &'static str {
        match self {
            Outcome::Succeeded => "Succeeded",
            Outcome::Failed => "Failed",
        }
    }
}

/// What the node should report for a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Admitted, containers being created.
    Pending,
    /// Containers running since `started_at`, Ready or not.
    Running {
        started_at: Timestamp,
        restarts: i32,
        ready: bool,
    },
    /// Containers exited with `exit_code` and wait to restart; `restarts` already counts the
    /// coming restart, as the kubelet's `restartCount` does.
    BackOff {
        restarts: i32,
        exit_code: i32,
        started_at: Timestamp,
        finished_at: Timestamp,
        restart_at: Timestamp,
    },
    /// Terminal, with the containers' exit code and, for a deadline, the pod's reason.
    Finished {
        outcome: Outcome,
        exit_code: i32,
        started_at: Option<Timestamp>,
        reason: Option<&'static str>,
        message: Option<&'static str>,
    },
    /// Refused at admission (phase Failed, never started).
    Rejected { reason: String, message: String },
}

/// The next thing to do for a pod.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    /// A status to report, when the reported stage changes.
    pub report: Option<Target>,
    /// When to look at the pod again even if nothing else happens to it.
    pub wake_at: Option<Timestamp>,
}

/// Reads the pod's stage from its status.
pub fn observe(pod: &Pod) -> Observed {
    let Some(status) = &pod.status else {
        return Observed::Unadmitted;
    };
    match status.phase.as_deref() {
        Some("Succeeded" | "Failed") => return Observed::Finished,
        Some("Running") => {}
        _ => {
            return match &status.start_time {
                Some(t) => Observed::Creating { since: t.0 },
                None => Observed::Unadmitted,
            };
        }
    }
    let start_time = status.start_time.as_ref().map(|t| t.0);
    let first = status.container_statuses.as_ref().and_then(|cs| cs.first());
    let restarts = first.map_or(0, |c| c.restart_count);
    let ready = shared_ready(pod);
    let state = first.and_then(|c| c.state.as_ref());
    if let Some(running) = state.and_then(|s| s.running.as_ref()) {
        let started_at = running
            .started_at
            .as_ref()
            .map(|t| t.0)
            .or(start_time)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        return Observed::Running {
            started_at,
            restarts,
            ready,
        };
    }
    if let Some(finished_at) = first.and_then(last_finished_at) {
        return Observed::BackOff {
            finished_at,
            restarts,
        };
    }
    // Running with no running container and no termination on record: not something this
    // node writes; treat it as freshly admitted so it is reported properly.
    match start_time {
        Some(since) => Observed::Creating { since },
        None => Observed::Unadmitted,
    }
}

/// `podutil.IsPodReady` on the stored pod.
fn shared_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// When the container last terminated: its current state if terminated, else its last state.
fn last_finished_at(c: &ContainerStatus) -> Option<Timestamp> {
    let terminated = c
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| c.last_state.as_ref().and_then(|s| s.terminated.as_ref()))?;
    terminated.finished_at.as_ref().map(|t| t.0)
}

/// `t + d`, saturating at the far future.
pub fn after(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// How long from `earlier` to `later`; zero when `later` is not later.
pub fn elapsed(earlier: Timestamp, later: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or(Duration::ZERO)
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What a kubelet running this pod would report at `now`, given what it does (`behaviour`).
pub fn step(pod: &Pod, behaviour: &Behaviour, now: Timestamp, backoff: RestartBackoff) -> Step {
    let observed = observe(pod);
    let spec = pod.spec.as_ref();
    let restart_policy = spec
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    let start_time = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0);
    let deadline = spec
        .and_then(|s| s.active_deadline_seconds)
        .and_then(|secs| u64::try_from(secs).ok())
        .map(|secs| after(start_time.unwrap_or(now), Duration::from_secs(secs)));

    if observed == Observed::Finished {
        return Step::default();
    }
    if let Some(deadline) = deadline
        && observed != Observed::Unadmitted
        && now >= deadline
    {
        let started_at = match observed {
            Observed::Running { started_at, .. } => Some(started_at),
            _ => None,
        };
        return Step {
            report: Some(Target::Finished {
                outcome: Outcome::Failed,
                exit_code: 137,
                started_at,
                reason: Some("DeadlineExceeded"),
                message: Some("Pod was active on the node longer than the specified deadline"),
            }),
            wake_at: None,
        };
    }

    let mut next = match observed {
        Observed::Finished => Step::default(),
        Observed::Unadmitted if behaviour.start_delay.is_zero() => {
            start_containers(behaviour, now, 0)
        }
        Observed::Unadmitted => Step {
            report: Some(Target::Pending),
            wake_at: Some(after(now, behaviour.start_delay)),
        },
        Observed::Creating { since } => {
            let start_at = after(since, behaviour.start_delay);
            if now >= start_at {
                start_containers(behaviour, now, 0)
            } else {
                Step {
                    report: None,
                    wake_at: Some(start_at),
                }
            }
        }
        Observed::Running {
            started_at,
            restarts,
            ready,
        } => running(
            behaviour,
            restart_policy,
            now,
            backoff,
            (started_at, restarts, ready),
        ),
        Observed::BackOff {
            finished_at,
            restarts,
        } => {
            let restart_at = after(finished_at, backoff.delay(restarts));
            if now >= restart_at {
                start_containers(behaviour, now, restarts)
            } else {
                Step {
                    report: None,
                    wake_at: Some(restart_at),
                }
            }
        }
    };
    // The deadline wakes the pod wherever it stands (a pod admitted now counts from now).
    if !matches!(next.report, Some(Target::Finished { .. })) {
        next.wake_at = earliest(next.wake_at, deadline);
    }
    next
}

/// Containers (re)start at `now`; Ready at once unless the behaviour says otherwise.
fn start_containers(behaviour: &Behaviour, now: Timestamp, restarts: i32) -> Step {
    let ready = behaviour.ready_at(Duration::ZERO);
    Step {
        report: Some(Target::Running {
            started_at: now,
            restarts,
            ready,
        }),
        wake_at: next_container_event(behaviour, now, Duration::ZERO),
    }
}

/// The next readiness flip or exit of containers that started at `started_at`.
fn next_container_event(
    behaviour: &Behaviour,
    started_at: Timestamp,
    running_for: Duration,
) -> Option<Timestamp> {
    let exit = behaviour.exit_after.filter(|e| *e > running_for);
    let change = behaviour.next_readiness_change(running_for);
    earliest(
        exit.map(|e| after(started_at, e)),
        change.map(|c| after(started_at, c)),
    )
}

fn running(
    behaviour: &Behaviour,
    restart_policy: &str,
    now: Timestamp,
    backoff: RestartBackoff,
    (started_at, restarts, ready): (Timestamp, i32, bool),
) -> Step {
    let running_for = elapsed(started_at, now);
    if let Some(exit_after) = behaviour.exit_after
        && running_for >= exit_after
    {
        let exit_code = behaviour.exit_code;
        let restart = match restart_policy {
            "Never" => false,
            "OnFailure" => exit_code != 0,
            _ => true,
        };
        if !restart {
            let outcome = if exit_code == 0 {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            };
            return Step {
                report: Some(Target::Finished {
                    outcome,
                    exit_code,
                    started_at: Some(started_at),
                    reason: None,
                    message: None,
                }),
                wake_at: None,
            };
        }
        let restarts = restarts.saturating_add(1);
        let restart_at = after(now, backoff.delay(restarts));
        return Step {
            report: Some(Target::BackOff {
                restarts,
                exit_code,
                started_at,
                finished_at: now,
                restart_at,
            }),
            wake_at: Some(restart_at),
        };
    }
    let should_be_ready = behaviour.ready_at(running_for);
    Step {
        report: (should_be_ready != ready).then_some(Target::Running {
            started_at,
            restarts,
            ready: should_be_ready,
        }),
        wake_at: next_container_event(behaviour, started_at, running_for),
    }
}

/// When a deleted pod's containers are gone and its deletion can be finished.
///
/// A pod whose containers never started or already finished goes at once. Otherwise the
/// containers get the pod's grace period (`deletionGracePeriodSeconds`), capped at
/// `max_grace`, counted from when this node first saw the deletion.
pub fn deletion_due(pod: &Pod, first_seen_deleting: Timestamp, max_grace: Duration) -> Timestamp {
    let containers_running = matches!(
        observe(pod),
        Observed::Running { .. } | Observed::BackOff { .. }
    );
    if !containers_running {
        return first_seen_deleting;
    }
    let grace = pod
        .metadata
        .deletion_grace_period_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    after(first_seen_deleting, grace.min(max_grace))
}

#[cfg(test)]
mod tests;
