//! The annotations the controller keeps on Deployments and their ReplicaSets (upstream util
//! `SetNewReplicaSetAnnotations`, `copyDeploymentAnnotationsToReplicaSet`,
//! `SetReplicasAnnotations`, `SetDeploymentRevision`, `SetDeploymentAnnotationsTo`,
//! `MaxRevision`, `LastRevision`, `Revision` and rollback.go's `getRollbackTo`).
//!
//! * `revision`: a ReplicaSet's place in the rollout history; the Deployment carries its new
//!   ReplicaSet's.
//! * `revision-history`: the earlier revisions of a ReplicaSet that became new again.
//! * `desired-replicas` / `max-replicas`: `spec.replicas` and `spec.replicas + maxSurge` when the
//!   ReplicaSet was last scaled; the base of proportional scaling.
//! * Every other Deployment annotation is copied to its new ReplicaSet, except the kubectl
//!   last-applied configuration and the rollback request.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// `apps.DeprecatedRollbackTo`.
pub const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// `v1.LastAppliedConfigAnnotation`.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// upstream `maxRevHistoryLengthInChars`.
pub const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// `annotationsToSkip`: never copied between a Deployment and its ReplicaSets.
pub fn skip_copy(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED | REVISION | REVISION_HISTORY | DESIRED_REPLICAS | MAX_REPLICAS | ROLLBACK_TO
    )
}

fn annotation<'a>(annotations: Option<&'a BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    annotations?.get(key).map(String::as_str)
}

/// Go's `strconv.ParseInt(s, 10, 64)`.
fn parse_i64(s: &str) -> Option<i64> {
    s.parse().ok()
}

/// `Revision`: the revision annotation; missing is 0, unparsable is `None`.
pub fn revision(rs: &ReplicaSet) -> Option<i64> {
    match annotation(rs.metadata.annotations.as_ref(), REVISION) {
        None => Some(0),
        Some(v) => parse_i64(v),
    }
}

/// `MaxRevision`: the highest parsable revision (0 for none).
pub fn max_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    rss.into_iter().filter_map(revision).fold(0, i64::max)
}

/// `LastRevision`: the second highest revision, the one a rollback to "0" means.
pub fn last_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    let (mut max, mut second) = (0, 0);
    for v in rss.into_iter().filter_map(revision) {
        if v >= max {
            second = max;
            max = v;
        } else if v > second {
            second = v;
        }
    }
    second
}

/// `getNonNegativeInt32FromAnnotation`: a decimal in `0..=i32::MAX`.
fn non_negative_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    let value = annotation(rs.metadata.annotations.as_ref(), key)?;
    if value.starts_with('+') {
        return None;
    }
    let parsed: u64 = value.parse().ok()?;
    i32::try_from(parsed).ok()
}

/// `GetDesiredReplicasAnnotation`.
pub fn desired_replicas(rs: &ReplicaSet) -> Option<i32> {
    non_negative_i32(rs, DESIRED_REPLICAS)
}

/// `getMaxReplicasAnnotation`.
pub fn max_replicas(rs: &ReplicaSet) -> Option<i32> {
    non_negative_i32(rs, MAX_REPLICAS)
}

/// `strconv.Atoi` of the desired-replicas annotation, as `IsSaturated` reads it.
pub fn desired_replicas_atoi(rs: &ReplicaSet) -> Option<i64> {
    annotation(rs.metadata.annotations.as_ref(), DESIRED_REPLICAS).and_then(parse_i64)
}

/// `ReplicasAnnotationsNeedUpdate`.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.as_ref();
    annotation(annotations, DESIRED_REPLICAS) != Some(desired.to_string().as_str())
        || annotation(annotations, MAX_REPLICAS) != Some(max.to_string().as_str())
}

/// `SetReplicasAnnotations`; true if anything changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut updated = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_owned(), value);
            updated = true;
        }
    }
    updated
}

/// `copyDeploymentAnnotationsToReplicaSet`: set every copyable Deployment annotation that is
/// missing or different; keys gone from the Deployment stay on the ReplicaSet.
pub fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let target = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in d.metadata.annotations.iter().flatten() {
        if skip_copy(key) || target.get(key) == Some(value) {
            continue;
        }
        target.insert(key.clone(), value.clone());
        changed = true;
    }
    changed
}

/// `SetNewReplicaSetAnnotations`: copy the Deployment's annotations, raise the revision to
/// `new_revision` (recording the previous one in the history, capped at `history_limit`
/// characters) and, for a ReplicaSet being created, set desired/max replicas. True if
/// anything changed. An unparsable revision on the ReplicaSet leaves the revision alone.
pub fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    history_limit: usize,
    max_surge: i32,
) -> bool {
    let mut changed = copy_deployment_annotations(d, rs);
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = annotations.get(REVISION).cloned();
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(v) => match parse_i64(v) {
            Some(n) => n,
            None => {
                tracing::info!(
                    revision = v,
                    "replica set revision is not an integer; not updating it"
                );
                return false;
            }
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION.to_owned(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            append_revision_history(annotations, &old, history_limit);
        }
    }
    if !exists {
        let replicas = super::spec::replicas(d);
        if set_replicas_annotations(rs, replicas, replicas + max_surge) {
            changed = true;
        }
    }
    changed
}

/// The revision-history part of `SetNewReplicaSetAnnotations`: append `old`, dropping the
/// oldest entries while the list would exceed `limit` characters; skip it if it cannot fit.
fn append_revision_history(annotations: &mut BTreeMap<String, String>, old: &str, limit: usize) {
    let history = annotations
        .get(REVISION_HISTORY)
        .cloned()
        .unwrap_or_default();
    let entries: Vec<&str> = history.split(',').collect();
    if entries.first().is_none_or(|e| e.is_empty()) {
        annotations.insert(REVISION_HISTORY.to_owned(), old.to_owned());
        return;
    }
    let mut total = history.len() + old.len() + 1;
    let mut start = 0;
    while total > limit && start < entries.len() {
        total -= entries[start].len() + 1;
        start += 1;
    }
    if total <= limit {
        let mut kept: Vec<&str> = entries[start..].to_vec();
        kept.push(old);
        annotations.insert(REVISION_HISTORY.to_owned(), kept.join(","));
    } else {
        tracing::info!(
            limit,
            "revision history length limit reached; not appending"
        );
    }
}

/// `SetDeploymentRevision`; true if it changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let annotations = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    // A missing annotation reads as "", as a Go map lookup does.
    if annotations.get(REVISION).map_or("", String::as_str) == revision {
        return false;
    }
    annotations.insert(REVISION.to_owned(), revision.to_owned());
    true
}

/// `SetDeploymentAnnotationsTo`: on rollback the Deployment takes the ReplicaSet's annotations;
/// the controller-managed keys keep the Deployment's values.
pub fn set_deployment_annotations_to(d: &mut Deployment, rs: &ReplicaSet) {
    let mut annotations: BTreeMap<String, String> = d
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| skip_copy(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in rs.metadata.annotations.iter().flatten() {
        if !skip_copy(key) {
            annotations.insert(key.clone(), value.clone());
        }
    }
    d.metadata.annotations = Some(annotations);
}

/// `getRollbackTo`: the requested revision, if the annotation is present and an integer.
pub fn rollback_to(d: &Deployment) -> Option<i64> {
    annotation(d.metadata.annotations.as_ref(), ROLLBACK_TO)
        .filter(|v| !v.is_empty())
        .and_then(parse_i64)
}

/// `setRollbackTo(d, nil)`.
pub fn clear_rollback_to(d: &mut Deployment) {
    if let Some(annotations) = d.metadata.annotations.as_mut() {
        annotations.remove(ROLLBACK_TO);
    }
}

#[cfg(test)]
mod tests;
