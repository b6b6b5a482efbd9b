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

fn count(n: i32) -> Option<i32> {
    Some(n)
}

impl ReplicaKind for ReplicaSet {
    const ID: ControllerId = ControllerId::ReplicaSet;
    const REPORTS_TERMINATING: bool = true;
    const INDEXED_BY_CONTROLLER: bool = true;

    fn pod_selector(&self) -> Result<ObjectSelector, InvalidSelector> {
        ObjectSelector::from_label_selector(self.spec.as_ref().map(|spec| &spec.selector))
    }

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
        ReplicaStatus {
            replicas: status.replicas,
            fully_labeled_replicas: status.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: status.ready_replicas.unwrap_or(0),
            available_replicas: status.available_replicas.unwrap_or(0),
            terminating_replicas: status.terminating_replicas,
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

    fn with_replica_status(&self, status: &ReplicaStatus) -> Self {
        let mut rs = self.clone();
        rs.status = Some(ReplicaSetStatus {
            replicas: status.replicas,
            fully_labeled_replicas: count(status.fully_labeled_replicas),
            ready_replicas: count(status.ready_replicas),
            available_replicas: count(status.available_replicas),
            terminating_replicas: status.terminating_replicas,
            observed_generation: Some(status.observed_generation),
            conditions: (!status.conditions.is_empty()).then(|| {
                status
                    .conditions
                    .iter()
                    .map(|c| ReplicaSetCondition {
                        type_: c.type_.clone(),
                        status: c.status.clone(),
                        reason: c.reason.clone(),
                        message: c.message.clone(),
                        last_transition_time: c.last_transition_time.clone(),
                    })
                    .collect()
            }),
        });
        rs
    }
}

impl ReplicaKind for ReplicationController {
    const ID: ControllerId = ControllerId::ReplicationController;
    const REPORTS_TERMINATING: bool = false;
    const INDEXED_BY_CONTROLLER: bool = false;

    fn pod_selector(&self) -> Result<ObjectSelector, InvalidSelector> {
        // conversion.go: a nil map becomes a nil LabelSelector (matches nothing); a map becomes
        // matchLabels (an empty one matches everything, as for ReplicaSets).
        Ok(ObjectSelector::from_map(
            self.spec.as_ref().and_then(|s| s.selector.as_ref()),
        ))
    }

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
        ReplicaStatus {
            replicas: status.replicas,
            fully_labeled_replicas: status.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: status.ready_replicas.unwrap_or(0),
            available_replicas: status.available_replicas.unwrap_or(0),
            terminating_replicas: None,
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

    fn with_replica_status(&self, status: &ReplicaStatus) -> Self {
        let mut rc = self.clone();
        rc.status = Some(ReplicationControllerStatus {
            replicas: status.replicas,
            fully_labeled_replicas: count(status.fully_labeled_replicas),
            ready_replicas: count(status.ready_replicas),
            available_replicas: count(status.available_replicas),
            observed_generation: Some(status.observed_generation),
            conditions: (!status.conditions.is_empty()).then(|| {
                status
                    .conditions
                    .iter()
                    .map(|c| ReplicationControllerCondition {
                        type_: c.type_.clone(),
                        status: c.status.clone(),
                        reason: c.reason.clone(),
                        message: c.message.clone(),
                        last_transition_time: c.last_transition_time.clone(),
                    })
                    .collect()
            }),
        });
        rc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{
        api::{apps::v1::ReplicaSetSpec, core::v1::ReplicationControllerSpec},
        apimachinery::pkg::apis::meta::v1::LabelSelector,
    };
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rs_with_selector(selector: LabelSelector) -> ReplicaSet {
        ReplicaSet {
            spec: Some(ReplicaSetSpec {
                selector,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn replicaset_selector_comes_from_the_spec_and_a_missing_spec_selects_nothing() {
        let rs = rs_with_selector(LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: None,
        });
        let selector = rs.pod_selector().unwrap();
        assert!(selector.matches(Some(&labels(&[("app", "web"), ("tier", "a")]))));
        assert!(!selector.matches(Some(&labels(&[("app", "db")]))));
        let nothing = ReplicaSet::default().pod_selector().unwrap();
        assert_eq!(nothing, ObjectSelector::Nothing);
    }

    #[test]
    fn rc_selector_is_a_label_map_and_a_missing_one_matches_nothing() {
        let mut rc = ReplicationController {
            spec: Some(ReplicationControllerSpec {
                selector: Some(labels(&[("name", "test")])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let selector = rc.pod_selector().unwrap();
        assert!(selector.matches(Some(&labels(&[("name", "test"), ("x", "y")]))));
        assert!(selector.matches_orphan(Some(&labels(&[("name", "test")]))));
        assert!(!selector.matches(Some(&labels(&[("name", "other")]))));
        rc.spec.as_mut().unwrap().selector = None;
        assert_eq!(rc.pod_selector().unwrap(), ObjectSelector::Nothing);
    }

    #[test]
    fn defaults_follow_the_apiserver() {
        assert_eq!(ReplicaSet::default().desired_replicas(), 1);
        assert_eq!(ReplicationController::default().desired_replicas(), 1);
        assert_eq!(ReplicaSet::default().min_ready_seconds(), 0);
        assert_eq!(
            ReplicaSet::default().replica_status(),
            ReplicaStatus::default()
        );
    }

    #[test]
    fn status_round_trips_and_rc_never_reports_terminating() {
        let status = ReplicaStatus {
            replicas: 3,
            fully_labeled_replicas: 2,
            ready_replicas: 1,
            available_replicas: 1,
            terminating_replicas: Some(4),
            observed_generation: 7,
            conditions: vec![ReplicaCondition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason: Some("FailedCreate".into()),
                message: Some("quota".into()),
                last_transition_time: None,
            }],
        };
        let rs = ReplicaSet::default().with_replica_status(&status);
        assert_eq!(rs.replica_status(), status);
        let rc = ReplicationController::default().with_replica_status(&status);
        let back = rc.replica_status();
        assert_eq!(back.terminating_replicas, None);
        assert_eq!(
            ReplicaStatus {
                terminating_replicas: Some(4),
                ..back
            },
            status
        );
        // Without conditions the field is left out, as Go's omitempty does.
        let bare = ReplicaSet::default().with_replica_status(&ReplicaStatus::default());
        assert!(bare.status.unwrap().conditions.is_none());
    }

    #[test]
    fn kinds_carry_upstream_identities() {
        assert_eq!(ReplicaSet::names().queue, "replicaset");
        assert_eq!(ReplicationController::names().queue, "replicationmanager");
        assert_eq!(
            ReplicationController::names().event_component,
            Some("replication-controller")
        );
    }
}
