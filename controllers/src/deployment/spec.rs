//! What the controller reads of a Deployment's spec, with the apiserver's defaults applied where
//! a field can be missing in a cached object (upstream reads the defaulted Go struct directly).

use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::PodTemplateSpec},
    apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
};

/// `spec.strategy.type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    RollingUpdate,
    Recreate,
    /// A type this controller does not know; syncing such a Deployment is an error.
    Other(String),
}

/// `spec.replicas`, 1 when unset (the apiserver default).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn min_ready_seconds(d: &Deployment) -> i32 {
    d.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

pub fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

/// `spec.strategy.type`; unset reads as RollingUpdate, the apiserver default.
pub fn strategy(d: &Deployment) -> Strategy {
    match d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
    {
        None | Some("RollingUpdate") => Strategy::RollingUpdate,
        Some("Recreate") => Strategy::Recreate,
        Some(other) => Strategy::Other(other.to_owned()),
    }
}

/// `IsRollingUpdate`.
pub fn is_rolling_update(d: &Deployment) -> bool {
    strategy(d) == Strategy::RollingUpdate
}

/// `spec.strategy.rollingUpdate.{maxSurge, maxUnavailable}`.
pub fn rolling_params(d: &Deployment) -> (Option<&IntOrString>, Option<&IntOrString>) {
    let rolling = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    (
        rolling.and_then(|r| r.max_surge.as_ref()),
        rolling.and_then(|r| r.max_unavailable.as_ref()),
    )
}

/// `HasProgressDeadline`: set and not MaxInt32.
pub fn progress_deadline_seconds(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .filter(|s| *s != i32::MAX)
}

/// `HasRevisionHistoryLimit`: set and not MaxInt32.
pub fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .filter(|s| *s != i32::MAX)
}

pub fn template(d: &Deployment) -> Option<&PodTemplateSpec> {
    d.spec.as_ref().map(|s| &s.template)
}

pub fn selector(d: &Deployment) -> Option<&LabelSelector> {
    d.spec.as_ref().map(|s| &s.selector)
}

/// The selector is the empty `LabelSelector{}` (selects everything; upstream's `SelectingAll`).
pub fn selects_all(d: &Deployment) -> bool {
    selector(d).is_some_and(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    })
}

pub fn generation(d: &Deployment) -> i64 {
    d.metadata.generation.unwrap_or(0)
}
