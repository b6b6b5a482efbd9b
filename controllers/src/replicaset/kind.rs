//! The two kinds one controller implementation serves: apps/v1 ReplicaSet and v1
//! ReplicationController.
//!
//! Upstream runs the ReplicaSet code for both and converts RCs to ReplicaSets on the way in and
//! back on the way out (`pkg/controller/replication/conversion.go`). Here the algorithm is
//! generic over [`ReplicaKind`] instead, which exposes exactly what it reads and writes: the pod
//! selector, desired replicas, template and minReadySeconds, and the status in a kind-neutral
//! shape ([`ReplicaStatus`]). The per-kind constants carry the identities that differ
//! (controller names, whether `terminatingReplicas` is reported, whether sibling ReplicaSets
//! are indexed).

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::{
    api::{
        apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus},
        core::v1::{
            PodTemplateSpec, ReplicationController, ReplicationControllerCondition,
            ReplicationControllerStatus,
        },
    },
    apimachinery::pkg::apis::meta::v1::Time,
};
use kcm_shared::features::Feature;
use kcm_shared::informer::InformerType;
use kube::Resource;
use serde::Serialize;

use crate::{
    names::{ControllerId, ControllerNames},
    toolkit::selector::{InvalidSelector, ObjectSelector},
};

/// One status condition, kind-neutral (`ReplicaSetCondition` / `ReplicationControllerCondition`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReplicaCondition {
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<Time>,
}

/// The status fields the controller writes, kind-neutral. Counts the API omits read as 0.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReplicaStatus {
    pub replicas: i32,
    pub fully_labeled_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    /// `None` when not reported (RCs, or a ReplicaSet status written without the field).
    pub terminating_replicas: Option<i32>,
    pub observed_generation: i64,
    pub conditions: Vec<ReplicaCondition>,
}

/// What the replica controller needs from the object it manages.
pub trait ReplicaKind: InformerType + Resource<Scope = NamespaceResourceScope> + Serialize {
    /// The controller serving this kind; its names give the queue, client and event component.
    const ID: ControllerId;
    /// Whether `status.terminatingReplicas` is reported: ReplicaSets only, as upstream with the
    /// `DeploymentReplicaSetTerminatingReplicas` gate on (beta, on by default from 1.35).
    const REPORTS_TERMINATING: bool;
    /// The gate under which syncs wait to read their own writes, if the kind has one (only
    /// ReplicaSets: upstream's RC manager uses a no-op consistency store).
    const CONSISTENCY_GATE: Option<Feature>;
    /// Whether objects of this kind are indexed by their controller's UID, so the pods of
    /// sibling objects (e.g. every ReplicaSet of one Deployment) can inform deletion ranking.
    /// Upstream's RC adapter indexes nothing there, so RC ranking sees no related pods.
    const INDEXED_BY_CONTROLLER: bool;

    fn names() -> &'static ControllerNames {
        Self::ID.names()
    }

    /// The pod selector. A ReplicaSet's is a `LabelSelector`, an RC's a plain label map.
    fn pod_selector(&self) -> Result<ObjectSelector, InvalidSelector>;
    /// `spec.replicas`, defaulting to 1 as the apiserver does.
    fn desired_replicas(&self) -> i32;
    fn min_ready_seconds(&self) -> i32;
    fn pod_template(&self) -> Option<&PodTemplateSpec>;
    fn replica_status(&self) -> ReplicaStatus;
    /// A copy of `self` carrying `status`, ready for a `/status` PUT.
    fn with_replica_status(&self, status: &ReplicaStatus) -> Self;
}

/// The accessors that read alike for both kinds: their spec and status types have the same
/// field names and types (upstream converts one into the other field by field,
/// `conversion.go`). `terminating` reads and writes `status.terminatingReplicas`, which only
/// ReplicaSets have.
macro_rules! same_shape_accessors {
    ($status:ident, $condition:ident, read_terminating: $read:expr, write_terminating: $write:expr) => {
        fn desired_replicas(&self) -> i32 {
            self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
        }

        fn min_ready_seconds(&self) -> i32 {
            self.spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0)
        }

        fn pod_template(&self) -> Option<&PodTemplateSpec> {
            self.spec.as_ref()?.template.as_ref()
        }

        fn replica_status(&self) -> ReplicaStatus {
            let Some(status) = &self.status else {
                return ReplicaStatus::default();
            };
            let read: fn(&$status) -> Option<i32> = $read;
            ReplicaStatus {
                replicas: status.replicas,
                fully_labeled_replicas: status.fully_labeled_replicas.unwrap_or(0),
                ready_replicas: status.ready_replicas.unwrap_or(0),
                available_replicas: status.available_replicas.unwrap_or(0),
                terminating_replicas: read(status),
                observed_generation: status.observed_generation.unwrap_or(0),
                conditions: status
                    .conditions
                    .iter()
                    .flatten()
                    .map(|c| ReplicaCondition {
                        type_: c.type_.clone(),
                        status: c.status.clone(),
                        reason: c.reason.clone(),
                        message: c.message.clone(),
                        last_transition_time: c.last_transition_time.clone(),
                    })
                    .collect(),
            }
        }

        // RC statuses have no field the update leaves to `Default`; ReplicaSet ones do.
        #[allow(clippy::needless_update)]
        fn with_replica_status(&self, status: &ReplicaStatus) -> Self {
            let mut copy = self.clone();
            let mut written = $status {
                replicas: status.replicas,
                fully_labeled_replicas: Some(status.fully_labeled_replicas),
                ready_replicas: Some(status.ready_replicas),
                available_replicas: Some(status.available_replicas),
                observed_generation: Some(status.observed_generation),
                conditions: (!status.conditions.is_empty()).then(|| {
                    status
                        .conditions
                        .iter()
                        .map(|c| $condition {
                            type_: c.type_.clone(),
                            status: c.status.clone(),
                            reason: c.reason.clone(),
                            message: c.message.clone(),
                            last_transition_time: c.last_transition_time.clone(),
                        })
                        .collect()
                }),
                ..Default::default()
            };
            let write: fn(&mut $status, Option<i32>) = $write;
            write(&mut written, status.terminating_replicas);
            copy.status = Some(written);
            copy
        }
    };
}

impl ReplicaKind for ReplicaSet {
    const ID: ControllerId = ControllerId::ReplicaSet;
    const REPORTS_TERMINATING: bool = true;
    const CONSISTENCY_GATE: Option<Feature> = Some(Feature::StaleControllerConsistencyReplicaSet);
    const INDEXED_BY_CONTROLLER: bool = true;

    fn pod_selector(&self) -> Result<ObjectSelector, InvalidSelector> {
        ObjectSelector::from_label_selector(self.spec.as_ref().map(|spec| &spec.selector))
    }

    same_shape_accessors!(
        ReplicaSetStatus,
        ReplicaSetCondition,
        read_terminating: |status| status.terminating_replicas,
        write_terminating: |status, count| status.terminating_replicas = count
    );
}

impl ReplicaKind for ReplicationController {
    const ID: ControllerId = ControllerId::ReplicationController;
    const REPORTS_TERMINATING: bool = false;
    const CONSISTENCY_GATE: Option<Feature> = None;
    const INDEXED_BY_CONTROLLER: bool = false;

    fn pod_selector(&self) -> Result<ObjectSelector, InvalidSelector> {
        // conversion.go: a nil map becomes a nil LabelSelector (matches nothing); a map becomes
        // matchLabels (an empty one matches everything, as for ReplicaSets).
        Ok(ObjectSelector::from_map(
            self.spec.as_ref().and_then(|s| s.selector.as_ref()),
        ))
    }

    same_shape_accessors!(
        ReplicationControllerStatus,
        ReplicationControllerCondition,
        read_terminating: |_| None,
        write_terminating: |_, _| {}
    );
}

#[cfg(test)]
mod tests;
