//! ReplicaSet lists as the Deployment controller reads them (upstream util
//! `FindNewReplicaSet`, `FindOldReplicaSets`, `FindActiveOrLatest`, `IsSaturated`,
//! `Get*ReplicaCountForReplicaSets`, and controller_utils' `FilterActiveReplicaSets` and the
//! `ReplicaSetsBy*` orderings).

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::{annotations, hash::normalized_template, spec};

/// `*rs.Spec.Replicas`, 1 when unset (the apiserver default).
pub fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

pub fn ready_replicas(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

pub fn available_replicas(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

pub fn observed_generation(rs: &ReplicaSet) -> i64 {
    rs.status
        .as_ref()
        .and_then(|s| s.observed_generation)
        .unwrap_or(0)
}

pub fn name(rs: &ReplicaSet) -> &str {
    rs.metadata.name.as_deref().unwrap_or_default()
}

pub fn uid(rs: &ReplicaSet) -> &str {
    rs.metadata.uid.as_deref().unwrap_or_default()
}

/// `GetReplicaCountForReplicaSets`: Σ `spec.replicas`.
pub fn sum_spec<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(spec_replicas).sum()
}

/// `GetActualReplicaCountForReplicaSets`: Σ `status.replicas`.
pub fn sum_status<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(status_replicas).sum()
}

/// `GetAvailableReplicaCountForReplicaSets`.
pub fn sum_available<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(available_replicas).sum()
}

/// `GetReadyReplicaCountForReplicaSets`.
pub fn sum_ready<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(ready_replicas).sum()
}

/// `GetTerminatingReplicaCountForReplicaSets`: the sum of `status.terminatingReplicas`, where
/// ReplicaSets never synced count 0 and a synced one without the field makes it unknown.
pub fn sum_terminating<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> Option<i32> {
    let mut total = 0;
    for rs in rss {
        let terminating = rs.status.as_ref().and_then(|s| s.terminating_replicas);
        match terminating {
            Some(n) => total += n,
            None if observed_generation(rs) == 0 => {}
            None => return None,
        }
    }
    Some(total)
}

/// `ReplicaSetsByCreationTimestamp`: older first, then by name.
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let (ta, tb) = (
        a.metadata.creation_timestamp.as_ref().map(|t| t.0),
        b.metadata.creation_timestamp.as_ref().map(|t| t.0),
    );
    ta.cmp(&tb).then_with(|| name(a).cmp(name(b)))
}

/// `ReplicaSetsBySizeOlder`: larger first, then older first.
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    spec_replicas(b)
        .cmp(&spec_replicas(a))
        .then_with(|| by_creation(a, b))
}

/// `ReplicaSetsBySizeNewer`: larger first, then newer first.
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    spec_replicas(b)
        .cmp(&spec_replicas(a))
        .then_with(|| by_creation(b, a))
}

/// `ReplicaSetsByRevision`: revision ascending; unparsable or equal revisions by creation.
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    match (annotations::revision(a), annotations::revision(b)) {
        (Some(ra), Some(rb)) if ra != rb => ra.cmp(&rb),
        _ => by_creation(a, b),
    }
}

/// `FindNewReplicaSet`: the oldest ReplicaSet whose template equals the Deployment's,
/// ignoring the hash label. Returns its index in `rss`.
pub fn find_new(d: &Deployment, rss: &[ReplicaSet]) -> Option<usize> {
    // Normalised once: `equal_ignore_hash` against every ReplicaSet, without re-encoding the
    // Deployment's template each time.
    let want = normalized_template(spec::template(d)?);
    let mut order: Vec<usize> = (0..rss.len()).collect();
    order.sort_by(|&a, &b| by_creation(&rss[a], &rss[b]));
    order.into_iter().find(|&i| {
        rss[i]
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| normalized_template(t) == want)
    })
}

/// `FindNewReplicaSet` + `FindOldReplicaSets`: the new ReplicaSet and every other one, oldest
/// first. `FindNewReplicaSet` sorts the list by creation in place, so upstream's old
/// ReplicaSets come in that order: the order Recreate scales them down in and rollback and
/// `getReplicaFailures` search them in.
pub fn split_new_and_old(
    d: &Deployment,
    mut rss: Vec<ReplicaSet>,
) -> (Option<ReplicaSet>, Vec<ReplicaSet>) {
    rss.sort_by(by_creation);
    let new = find_new(d, &rss).map(|i| rss.remove(i));
    (new, rss)
}

/// `FilterActiveReplicaSets`: `spec.replicas > 0`.
pub fn is_active(rs: &ReplicaSet) -> bool {
    spec_replicas(rs) > 0
}

/// `FindActiveOrLatest`: with at most one active ReplicaSet, the one to scale to the
/// Deployment's size (the active one; if none, the new one, else the newest old one). `None`
/// means several are active. Returned as an index: `None` = new, `Some(i)` = `old[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActiveOrLatest {
    New,
    Old(usize),
}

pub fn find_active_or_latest(
    new: Option<&ReplicaSet>,
    old: &[ReplicaSet],
) -> Option<ActiveOrLatest> {
    if new.is_none() && old.is_empty() {
        return None;
    }
    let mut active = old
        .iter()
        .enumerate()
        .filter(|(_, rs)| is_active(rs))
        .map(|(i, _)| ActiveOrLatest::Old(i))
        .chain(new.filter(|rs| is_active(rs)).map(|_| ActiveOrLatest::New));
    match (active.next(), active.next()) {
        (Some(only), None) => Some(only),
        (Some(_), Some(_)) => None,
        (None, _) => {
            if new.is_some() {
                return Some(ActiveOrLatest::New);
            }
            // The newest old ReplicaSet.
            (0..old.len())
                .max_by(|&a, &b| by_creation(&old[a], &old[b]))
                .map(ActiveOrLatest::Old)
        }
    }
}

/// `IsSaturated`: the new ReplicaSet is at full size, was sized for the current replicas, and
/// all its replicas are available.
pub fn is_saturated(d: &Deployment, new: Option<&ReplicaSet>) -> bool {
    let Some(rs) = new else { return false };
    let Some(desired) = annotations::desired_replicas_atoi(rs) else {
        return false;
    };
    let replicas = spec::replicas(d);
    spec_replicas(rs) == replicas
        && desired == i64::from(replicas)
        && available_replicas(rs) == replicas
}

#[cfg(test)]
mod tests;
