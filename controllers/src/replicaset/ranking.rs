//! Which pods a scale-down deletes first (upstream `ActivePodsWithRanks.Less`,
//! `getPodsToDelete` and `getPodsRankedByRelatedPodsOnSameNode`).
//!
//! Pods earlier in the order go first:
//! 1. unassigned before assigned;
//! 2. Pending before Unknown before Running;
//! 3. not Ready before Ready;
//! 4. lower `controller.kubernetes.io/pod-deletion-cost` first (gate `PodDeletionCost`);
//! 5. more related pods on the same node first (the "rank": doubled-up pods go first);
//! 6. both Ready: ready more recently first, compared in log2 buckets of age with the UID as
//!    tie-break (gate `LogarithmicScaleDown`), so that scale-down does not always hit the very
//!    newest pods;
//! 7. more container restarts first, then more sidecar restarts;
//! 8. created more recently first (same bucketing as 6).
//!
//! The comparison is not a total order (bucket + UID ties at step 6 skip step 7 for some pairs
//! and not others), which Go's `sort.Sort` tolerates. Rust's `sort_by` may panic on such
//! comparators, so this module sorts with its own merge sort that only asks "is a before b".

use std::{collections::HashMap, sync::Arc};

use jiff::Timestamp;
use kcm_shared::cached_pod::CachedPod;

/// The annotation users set to steer scale-down (`core.PodDeletionCost`).
pub const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The feature gates ranking consults: `PodDeletionCost` (beta, on by default, from
/// `--feature-gates`) and `LogarithmicScaleDown`, GA and removed from upstream's registry, so
/// always on outside tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RankingGates {
    pub pod_deletion_cost: bool,
    pub logarithmic_scale_down: bool,
}

impl Default for RankingGates {
    fn default() -> Self {
        Self {
            pod_deletion_cost: true,
            logarithmic_scale_down: true,
        }
    }
}

/// `GetDeletionCostFromPodAnnotations`: an int32 without sign or leading zeros; anything else
/// (or no annotation) counts as 0.
pub fn deletion_cost(pod: &CachedPod) -> i32 {
    let Some(value) = pod.deletion_cost.as_deref() else {
        return 0;
    };
    let first_digit_ok = match value.as_bytes().first() {
        Some(b'-') => true,
        Some(b'0') => value == "0",
        Some(b) => b.is_ascii_digit(),
        None => false,
    };
    if !first_digit_ok {
        return 0;
    }
    value.parse::<i32>().unwrap_or(0)
}

/// `podPhaseToOrdinal`; phases outside the map (and no phase) count as 0.
fn phase_ordinal(pod: &CachedPod) -> u8 {
    match pod.phase() {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn node_name(pod: &CachedPod) -> &str {
    pod.node_name()
}

/// When the pod became Ready, if it is Ready and says so (`podReadyTime`; `None` = zero time).
fn ready_time(pod: &CachedPod) -> Option<Timestamp> {
    pod.ready_since()
}

fn creation_time(pod: &CachedPod) -> Option<Timestamp> {
    pod.creation_timestamp
}

fn uid(pod: &CachedPod) -> &str {
    &pod.uid
}

/// `maxContainerRestarts`: the highest regular container restart count, and the highest
/// restart count of restartable init containers (sidecars).
fn max_restarts(pod: &CachedPod) -> (i32, i32) {
    (pod.max_restarts, pod.max_sidecar_restarts)
}

/// `afterOrZero`: is `a` after `b`, with a zero time counting as after everything.
fn after_or_zero(a: Option<Timestamp>, b: Option<Timestamp>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a > b,
        (a, _) => a.is_none(),
    }
}

/// `floor(log2(age in ns))`, or -1 for a time not in the past (`logarithmicRankDiff`).
fn log_bucket(t: Timestamp, now: Timestamp) -> i64 {
    let age = now.duration_since(t).as_nanos();
    if age > 0 {
        // Truncation is the point: the bucket is the integer part of the logarithm.
        (age as f64).log2() as i64
    } else {
        -1
    }
}

/// Orders two distinct times newest first, bucketed when the gate is on. `None` when equal.
fn newer_first(
    a: Option<Timestamp>,
    b: Option<Timestamp>,
    uids: (&str, &str),
    now: Option<Timestamp>,
    logarithmic: bool,
) -> Option<bool> {
    if a == b {
        return None;
    }
    match (logarithmic, now, a, b) {
        (true, Some(now), Some(a), Some(b)) => {
            let diff = log_bucket(a, now) - log_bucket(b, now);
            Some(if diff == 0 { uids.0 < uids.1 } else { diff < 0 })
        }
        _ => Some(after_or_zero(a, b)),
    }
}

/// A pod with its rank: how many active related pods share its node.
#[derive(Clone, Debug)]
pub struct RankedPod {
    pub pod: Arc<CachedPod>,
    pub rank: usize,
}

/// `ActivePodsWithRanks.Less`: should `a` be deleted before `b`?
pub fn delete_before(
    a: &RankedPod,
    b: &RankedPod,
    now: Option<Timestamp>,
    gates: RankingGates,
) -> bool {
    let (pa, pb) = (a.pod.as_ref(), b.pod.as_ref());
    let (na, nb) = (node_name(pa), node_name(pb));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return na.is_empty();
    }
    let (oa, ob) = (phase_ordinal(pa), phase_ordinal(pb));
    if oa != ob {
        return oa < ob;
    }
    let (ra, rb) = (pa.is_ready(), pb.is_ready());
    if ra != rb {
        return !ra;
    }
    if gates.pod_deletion_cost {
        let (ca, cb) = (deletion_cost(pa), deletion_cost(pb));
        if ca != cb {
            return ca < cb;
        }
    }
    if a.rank != b.rank {
        return a.rank > b.rank;
    }
    let uids = (uid(pa), uid(pb));
    if ra && rb {
        let by_ready = newer_first(
            ready_time(pa),
            ready_time(pb),
            uids,
            now,
            gates.logarithmic_scale_down,
        );
        if let Some(first) = by_ready {
            return first;
        }
    }
    let ((rega, sidea), (regb, sideb)) = (max_restarts(pa), max_restarts(pb));
    if rega != regb {
        return rega > regb;
    }
    if sidea != sideb {
        return sidea > sideb;
    }
    newer_first(
        creation_time(pa),
        creation_time(pb),
        uids,
        now,
        gates.logarithmic_scale_down,
    )
    .unwrap_or(false)
}

/// `getPodsRankedByRelatedPodsOnSameNode`: each pod's rank is the number of active pods in
/// `related` (usually all pods of every ReplicaSet of the same Deployment) on its node.
pub fn rank_by_colocation(pods: &[Arc<CachedPod>], related: &[Arc<CachedPod>]) -> Vec<RankedPod> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|p| p.is_active()) {
        *per_node.entry(node_name(pod)).or_default() += 1;
    }
    pods.iter()
        .map(|pod| RankedPod {
            rank: per_node.get(node_name(pod)).copied().unwrap_or(0),
            pod: Arc::clone(pod),
        })
        .collect()
}

/// A stable merge sort driven by a "goes before" predicate; never panics, whatever the
/// predicate's consistency.
fn sort_by_before<T: Clone>(items: &mut Vec<T>, before: &impl Fn(&T, &T) -> bool) {
    if items.len() < 2 {
        return;
    }
    let right = items.split_off(items.len() / 2);
    let mut left = std::mem::take(items);
    let mut right = right;
    sort_by_before(&mut left, before);
    sort_by_before(&mut right, before);
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        // Take from the right only when it strictly goes first: keeps equal items stable.
        if before(b, a) {
            merged.extend(r.next());
        } else {
            merged.extend(l.next());
        }
    }
    merged.extend(l);
    merged.extend(r);
    *items = merged;
}

/// `getPodsToDelete`: the `count` pods of `active` to delete. Sorting is skipped when all of
/// them go.
pub fn pods_to_delete(
    active: &[Arc<CachedPod>],
    related: &[Arc<CachedPod>],
    count: usize,
    now: Timestamp,
    gates: RankingGates,
) -> Vec<Arc<CachedPod>> {
    if count >= active.len() {
        return active.to_vec();
    }
    let mut ranked = rank_by_colocation(active, related);
    sort_by_before(&mut ranked, &|a, b| delete_before(a, b, Some(now), gates));
    ranked.into_iter().take(count).map(|r| r.pod).collect()
}

/// `reportSortingDeletionAgeRatioMetric`: for each Ready pod chosen, its age divided by the
/// age of the youngest Ready pod. Near 1 means scale-down removed young pods, as intended.
pub fn deletion_age_ratios(
    active: &[Arc<CachedPod>],
    chosen: &[Arc<CachedPod>],
    now: Timestamp,
) -> Vec<f64> {
    let Some(youngest) = active
        .iter()
        .filter(|p| p.is_ready())
        .filter_map(|p| creation_time(p))
        .max()
    else {
        return Vec::new();
    };
    let youngest_age = now.duration_since(youngest).as_millis();
    if youngest_age <= 0 {
        return Vec::new();
    }
    chosen
        .iter()
        .filter(|p| p.is_ready())
        .filter_map(|p| creation_time(p))
        .map(|created| now.duration_since(created).as_millis() as f64 / youngest_age as f64)
        .collect()
}

#[cfg(test)]
mod tests;
