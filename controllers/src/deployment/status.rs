//! The Deployment status computed from its ReplicaSets (upstream sync.go `calculateStatus`),
//! and the comparison that decides whether it must be written (`reflect.DeepEqual` of Go
//! structs whose zero counts the API omits).

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};

use super::{conditions, fenceposts, replicas, spec};

/// `calculateStatus`: counts summed over `all` (old and new ReplicaSets), the new ReplicaSet's
/// replicas as updated ones, and the `Available` condition set on a copy of the existing
/// conditions. `report_terminating` is the `DeploymentReplicaSetTerminatingReplicas` gate.
pub fn calculate_status(
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    d: &Deployment,
    report_terminating: bool,
    now: Timestamp,
) -> DeploymentStatus {
    let current = d.status.clone().unwrap_or_default();
    let available = replicas::sum_available(all.iter().copied());
    let total_spec = replicas::sum_spec(all.iter().copied());
    let mut status = DeploymentStatus {
        observed_generation: Some(spec::generation(d)),
        replicas: Some(replicas::sum_status(all.iter().copied())),
        updated_replicas: Some(new.map_or(0, replicas::status_replicas)),
        ready_replicas: Some(replicas::sum_ready(all.iter().copied())),
        available_replicas: Some(available),
        unavailable_replicas: Some((total_spec - available).max(0)),
        terminating_replicas: report_terminating
            .then(|| replicas::sum_terminating(all.iter().copied()))
            .flatten(),
        collision_count: current.collision_count,
        conditions: current.conditions.clone().filter(|c| !c.is_empty()),
    };
    let condition = if available >= fenceposts::min_available(d) {
        conditions::new_condition(
            conditions::AVAILABLE,
            conditions::TRUE,
            conditions::MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.",
            now,
        )
    } else {
        conditions::new_condition(
            conditions::AVAILABLE,
            conditions::FALSE,
            conditions::MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    };
    conditions::set(&mut status, condition);
    status
}

/// A status with the API's omissions made explicit: absent counts are 0, absent conditions
/// an empty list (Go's `int32` with `omitempty` and nil slices).
fn normalized(status: &DeploymentStatus) -> DeploymentStatus {
    let zero = |v: Option<i32>| Some(v.unwrap_or(0));
    DeploymentStatus {
        available_replicas: zero(status.available_replicas),
        collision_count: status.collision_count,
        conditions: Some(status.conditions.clone().unwrap_or_default()),
        observed_generation: Some(status.observed_generation.unwrap_or(0)),
        ready_replicas: zero(status.ready_replicas),
        replicas: zero(status.replicas),
        terminating_replicas: status.terminating_replicas,
        unavailable_replicas: zero(status.unavailable_replicas),
        updated_replicas: zero(status.updated_replicas),
    }
}

/// Whether two statuses are the same once the API's omissions are accounted for.
pub fn same(a: Option<&DeploymentStatus>, b: &DeploymentStatus) -> bool {
    normalized(&a.cloned().unwrap_or_default()) == normalized(b)
}

/// `DeploymentComplete`: every replica updated and available, nothing extra, and the latest
/// spec observed.
pub fn deployment_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let want = spec::replicas(d);
    status.updated_replicas.unwrap_or(0) == want
        && status.replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) == want
        && status.observed_generation.unwrap_or(0) >= spec::generation(d)
}

#[cfg(test)]
mod tests;
