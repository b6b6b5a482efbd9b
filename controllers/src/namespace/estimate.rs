//! How long the deleter expects remaining content to take, and when it looks again (upstream
//! `estimateGracefulTermination*`, the tail of `deleteAllContentForGroupVersionResource`, and
//! the worker's `estimate/2 + 1`).
//!
//! Only pods have a real estimate: the longest termination grace period among pods that are
//! not finished yet, or zero once the namespace has been terminating for that long. Content
//! still present when the estimate is zero is either held by finalizers (assumed to take 15 s)
//! or unexplained, which is an error. All of it is arithmetic on what the API returned.

use std::{collections::BTreeMap, time::Duration};

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::metadata::ItemMeta;

/// `finalizerEstimateSeconds`: how long finalizers are assumed to need.
pub const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

/// The two fields of a pod the estimate reads.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct PodGrace {
    #[serde(default)]
    pub spec: PodGraceSpec,
    #[serde(default)]
    pub status: PodGraceStatus,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PodGraceSpec {
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct PodGraceStatus {
    pub phase: Option<String>,
}

impl PodGrace {
    fn is_terminal(&self) -> bool {
        matches!(self.status.phase.as_deref(), Some("Succeeded" | "Failed"))
    }
}

/// `estimateGracefulTerminationForPods`: the longest grace period of the pods that have not
/// finished (a finished pod is removed at once).
pub fn pod_grace_estimate<'a>(pods: impl IntoIterator<Item = &'a PodGrace>) -> i64 {
    pods.into_iter()
        .filter(|pod| !pod.is_terminal())
        .filter_map(|pod| pod.spec.termination_grace_period_seconds)
        .fold(0, i64::max)
}

/// `estimateGracefulTermination`'s last step: an estimate no longer than the time the
/// namespace has already been terminating becomes zero.
pub fn discount_elapsed(estimate: i64, deleted_at: Timestamp, now: Timestamp) -> i64 {
    let elapsed = now.duration_since(deleted_at);
    if elapsed >= SignedDuration::from_secs(estimate) {
        0
    } else {
        estimate
    }
}

/// What the verifying list of one resource says (step 5.d–e of the reference).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leftover {
    /// Nothing left: this resource is done and its estimate no longer counts.
    Gone,
    /// Items remain, expected to go within `estimate` seconds.
    Waiting {
        estimate: i64,
        remaining: usize,
        finalizers: BTreeMap<String, usize>,
    },
    /// Items remain with no estimate and no finalizers: they should have been deleted.
    Unexpected { remaining: usize },
}

/// Judges the items still listed after deletion, given the resource's estimate.
pub fn assess(estimate: i64, items: &[ItemMeta]) -> Leftover {
    if items.is_empty() {
        return Leftover::Gone;
    }
    let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
    for finalizer in items.iter().flat_map(|item| &item.finalizers) {
        *finalizers.entry(finalizer.clone()).or_default() += 1;
    }
    let remaining = items.len();
    if estimate != 0 {
        Leftover::Waiting {
            estimate,
            remaining,
            finalizers,
        }
    } else if !finalizers.is_empty() {
        Leftover::Waiting {
            estimate: FINALIZER_ESTIMATE_SECONDS,
            remaining,
            finalizers,
        }
    } else {
        Leftover::Unexpected { remaining }
    }
}

/// When to look at a namespace again while content remains: `estimate/2 + 1` seconds (8 s for
/// the finalizer estimate, 16 s for the default 30 s grace period).
pub fn requeue_after(estimate: i64) -> Duration {
    let seconds = estimate.max(0) / 2 + 1;
    Duration::from_secs(seconds.unsigned_abs())
}

#[cfg(test)]
mod tests;
