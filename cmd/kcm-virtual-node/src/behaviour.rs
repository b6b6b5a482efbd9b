//! Per-pod behaviour, read from annotations.
//!
//! A simulated container has no program to run, so a pod says through annotations what its
//! containers would do: how long they take to start, when they pass or fail their readiness
//! probe, and when and how they exit. Tests and demos script readiness flips and failures this
//! way, with nothing else in the loop. Every delay is counted from the moment named in its
//! docs; after a restart the container timeline starts again.
//!
//! | annotation | value | effect |
//! |---|---|---|
//! | `kcm-virtual-node.io/start-delay` | duration | Pending (`ContainerCreating`) this long after admission, then Running |
//! | `kcm-virtual-node.io/ready-after` | duration | Ready this long after the containers start |
//! | `kcm-virtual-node.io/never-ready` | `true` | never Ready |
//! | `kcm-virtual-node.io/unready-after` | duration | Ready turns False this long after the containers start |
//! | `kcm-virtual-node.io/exit-after` | duration | the containers exit this long after they start |
//! | `kcm-virtual-node.io/exit-code` | integer | their exit code (default 0: success) |

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::api::core::v1::Pod;

use crate::duration::{ParseDurationError, parse_duration};

/// Prefix of every annotation the virtual node reads.
pub const ANNOTATION_PREFIX: &str = "kcm-virtual-node.io/";
pub const START_DELAY: &str = "kcm-virtual-node.io/start-delay";
pub const READY_AFTER: &str = "kcm-virtual-node.io/ready-after";
pub const NEVER_READY: &str = "kcm-virtual-node.io/never-ready";
pub const UNREADY_AFTER: &str = "kcm-virtual-node.io/unready-after";
pub const EXIT_AFTER: &str = "kcm-virtual-node.io/exit-after";
pub const EXIT_CODE: &str = "kcm-virtual-node.io/exit-code";

const KNOWN: [&str; 6] = [
    START_DELAY,
    READY_AFTER,
    NEVER_READY,
    UNREADY_AFTER,
    EXIT_AFTER,
    EXIT_CODE,
];

/// What a pod's simulated containers do. The default is a well-behaved server: running and
/// Ready at once, never exiting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// From admission to Running.
    pub start_delay: Duration,
    /// From container start to Ready.
    pub ready_after: Duration,
    /// The readiness probe never passes.
    pub never_ready: bool,
    /// From container start to Ready turning False (the probe starts failing).
    pub unready_after: Option<Duration>,
    /// From container start to the containers exiting.
    pub exit_after: Option<Duration>,
    /// The exit code when they do.
    pub exit_code: i32,
}

/// An annotation the virtual node cannot follow. The pod is rejected with this message, so
/// a typo shows in `kubectl get pods` instead of being silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BehaviourError {
    #[error("annotation {annotation}: {source}")]
    Duration {
        annotation: &'static str,
        #[source]
        source: ParseDurationError,
    },
    #[error("annotation {annotation}: {value:?} is not {expected}")]
    Value {
        annotation: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "unknown annotation {annotation}; the virtual node reads {}",
        KNOWN.join(", ")
    )]
    Unknown { annotation: String },
}

impl Behaviour {
    /// Reads the pod's annotations; any annotation under [`ANNOTATION_PREFIX`] that is unknown
    /// or malformed is an error.
    pub fn of(pod: &Pod) -> Result<Self, BehaviourError> {
        match &pod.metadata.annotations {
            Some(annotations) => Self::from_annotations(annotations),
            None => Ok(Self::default()),
        }
    }

    pub fn from_annotations(
        annotations: &BTreeMap<String, String>,
    ) -> Result<Self, BehaviourError> {
        let duration = |annotation: &'static str| -> Result<Option<Duration>, BehaviourError> {
            annotations
                .get(annotation)
                .map(|v| parse_duration(v))
                .transpose()
                .map_err(|source| BehaviourError::Duration { annotation, source })
        };
        if let Some(unknown) = annotations
            .keys()
            .find(|k| k.starts_with(ANNOTATION_PREFIX) && !KNOWN.contains(&k.as_str()))
        {
            return Err(BehaviourError::Unknown {
                annotation: unknown.clone(),
            });
        }
        let never_ready = match annotations.get(NEVER_READY).map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(BehaviourError::Value {
                    annotation: NEVER_READY,
                    value: other.to_owned(),
                    expected: "true or false",
                });
            }
        };
        let exit_code = match annotations.get(EXIT_CODE) {
            None => 0,
            Some(v) => v
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|c| (0..=255).contains(c))
                .ok_or_else(|| BehaviourError::Value {
                    annotation: EXIT_CODE,
                    value: v.clone(),
                    expected: "an exit code from 0 to 255",
                })?,
        };
        Ok(Self {
            start_delay: duration(START_DELAY)?.unwrap_or_default(),
            ready_after: duration(READY_AFTER)?.unwrap_or_default(),
            never_ready,
            unready_after: duration(UNREADY_AFTER)?,
            exit_after: duration(EXIT_AFTER)?,
            exit_code,
        })
    }

    /// Whether the readiness probe passes `running_for` after the containers started.
    pub fn ready_at(&self, running_for: Duration) -> bool {
        !self.never_ready
            && running_for >= self.ready_after
            && self.unready_after.is_none_or(|u| running_for < u)
    }

    /// The next moment after `running_for` (counted from container start) at which readiness
    /// changes, if any.
    pub fn next_readiness_change(&self, running_for: Duration) -> Option<Duration> {
        if self.never_ready {
            return None;
        }
        [Some(self.ready_after), self.unready_after]
            .into_iter()
            .flatten()
            .filter(|t| *t > running_for)
            .min()
    }
}

#[cfg(test)]
mod tests;
