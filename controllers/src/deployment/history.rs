//! `revisionHistoryLimit`: which old ReplicaSets to delete (upstream sync.go
//! `cleanupDeployment`). Only old ReplicaSets not being deleted count against the limit; the
//! lowest revisions beyond it go, except any that still has replicas, desired or running, or
//! whose latest spec its controller has not yet seen. Those are skipped, not replaced by the
//! next one.

use k8s_openapi::api::apps::v1::ReplicaSet;

use super::replicas;

/// The old ReplicaSets to delete to keep `limit` revisions.
pub fn to_delete(old: &[ReplicaSet], limit: i32) -> Vec<&ReplicaSet> {
    let mut alive: Vec<&ReplicaSet> = old
        .iter()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    let excess = i64::try_from(alive.len()).unwrap_or(i64::MAX) - i64::from(limit);
    if excess <= 0 {
        return Vec::new();
    }
    alive.sort_by(|a, b| replicas::by_revision(a, b));
    alive
        .into_iter()
        .take(usize::try_from(excess).unwrap_or(usize::MAX))
        .filter(|rs| {
            replicas::status_replicas(rs) == 0
                && replicas::spec_replicas(rs) == 0
                && rs.metadata.generation.unwrap_or(0) <= replicas::observed_generation(rs)
        })
        .collect()
}

#[cfg(test)]
mod tests;
