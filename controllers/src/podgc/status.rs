//! The status patch that marks a pod `Failed` before the collector force-deletes it
//! (upstream `markFailedAndDeletePodWithCondition` up to its `PatchPodStatus` call).
//!
//! Upstream computes a two-way strategic merge patch between the cached status and a copy with
//! `phase: Failed`, `observedGeneration` and, for orphans, the `DisruptionTarget` condition
//! (`UpdatePodCondition`), and sends it to `pods/<name>/status` with the pod's UID as a
//! precondition. The patch built here names the same fields with the same values, so the
//! stored pod ends up the same: the phase, the generation, and the condition merged by its
//! `type` key (replacing one already there, otherwise appended as the list's last element,
//! which is where upstream's `$setElementOrder` puts it too).

use jiff::Timestamp;
use kcm_shared::cached_pod::CachedPod;
use serde_json::{Map, Value, json};

/// The condition the orphan pass adds (`v1.DisruptionTarget`, status `True`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disruption {
    pub reason: &'static str,
    pub message: &'static str,
}

/// What upstream writes on pods of a node that no longer exists.
pub const NODE_GONE: Disruption = Disruption {
    reason: "DeletionByPodGC",
    message: "PodGC: node no longer exists",
};

/// A time as the API stores it: RFC 3339 in UTC, whole seconds (`metav1.Time`).
fn api_time(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second())
        .unwrap_or(at)
        .to_string()
}

/// The status patch for `pod`, or `None` when it is already Succeeded or Failed (upstream
/// patches nothing then, and an orphaned terminal pod gets no condition). `now` is the
/// condition's `lastTransitionTime` unless the pod already has a `DisruptionTarget` with
/// status `True`, whose time is kept as `UpdatePodCondition` keeps it.
pub fn mark_failed_patch(
    pod: &CachedPod,
    disruption: Option<Disruption>,
    now: Timestamp,
) -> Option<Value> {
    if pod.is_terminal() {
        return None;
    }
    let mut status = Map::new();
    status.insert("phase".into(), json!("Failed"));
    // PodObservedGenerationTracking is GA (locked on): the pod's generation, left out
    // when the pod has none, as Go's omitempty would.
    if pod.generation != 0 {
        status.insert("observedGeneration".into(), json!(pod.generation));
    }
    if let Some(disruption) = disruption {
        let kept = pod
            .disruption_target
            .as_deref()
            .filter(|c| &*c.status == "True");
        let transition = match kept {
            Some(old) => old.last_transition_time.map(api_time),
            None => Some(api_time(now)),
        };
        let mut condition = Map::new();
        condition.insert("type".into(), json!("DisruptionTarget"));
        condition.insert("status".into(), json!("True"));
        condition.insert("reason".into(), json!(disruption.reason));
        condition.insert("message".into(), json!(disruption.message));
        condition.insert("lastProbeTime".into(), Value::Null);
        condition.insert("lastTransitionTime".into(), json!(transition));
        if pod.generation != 0 {
            condition.insert("observedGeneration".into(), json!(pod.generation));
        }
        status.insert("conditions".into(), json!([condition]));
    }
    Some(json!({
        "metadata": { "uid": &*pod.uid },
        "status": status,
    }))
}

#[cfg(test)]
mod tests;
