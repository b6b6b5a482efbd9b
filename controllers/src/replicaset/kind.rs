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

use std::collections::BTreeMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::{
    api::{
        apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus},
        core::v1::{
            PodTemplateSpec, ReplicationController, ReplicationControllerCondition,
            ReplicationControllerStatus,
        },
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, Time},
};
use kcm_shared::informer::InformerType;
use kube::{
    Resource,
    core::{Selector, SelectorExt},
};
use serde::Serialize;

use crate::names::{ControllerId, ControllerNames};

/// The label selector of a ReplicaSet or RC, converted for matching.
#[derive(Clone, Debug, PartialEq)]
pub enum PodSelector {
    /// A missing selector matches no pod (`LabelSelectorAsSelector(nil)` is `labels.Nothing()`).
    Nothing,
    /// Matches pods whose labels satisfy every expression; no expression matches everything.
    Matching(Selector),
}

impl PodSelector {
    /// Whether a pod with `labels` is selected (used when claiming pods).
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match self {
            PodSelector::Nothing => false,
            PodSelector::Matching(selector) => selector.matches(labels.unwrap_or(&BTreeMap::new())),
        }
    }

    /// Whether an orphan pod with `labels` should wake this controller. Upstream's
    /// `GetPodReplicaSets`/`GetPodControllers` skip empty selectors here: "if a ReplicaSet with a
    /// nil or empty selector creeps in, it should match nothing, not everything".
    pub fn matches_orphan(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match self {
            PodSelector::Nothing => false,
            PodSelector::Matching(selector) => !selector.selects_all() && self.matches(labels),
        }
    }
}

/// A selector that cannot be turned into a matcher (`LabelSelectorAsSelector` failed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector: {0}")]
pub struct InvalidSelector(pub String);

/// `metav1.LabelSelectorAsSelector`, including the operator/value checks kube's conversion
/// leaves out (In/NotIn need values, Exists/DoesNotExist take none).
pub fn selector_from_label_selector(
    selector: &LabelSelector,
) -> Result<PodSelector, InvalidSelector> {
    for requirement in selector.match_expressions.iter().flatten() {
        let has_values = requirement.values.as_ref().is_some_and(|v| !v.is_empty());
        match requirement.operator.as_str() {
            "In" | "NotIn" if !has_values => {
                return Err(InvalidSelector(format!(
                    "{}: for 'in', 'notin' operators, values set can't be empty",
                    requirement.key
                )));
            }
            "Exists" | "DoesNotExist" if has_values => {
                return Err(InvalidSelector(format!(
                    "{}: values set must be empty for exists and does not exist",
                    requirement.key
                )));
            }
            _ => {}
        }
    }
    Selector::try_from(selector.clone())
        .map(PodSelector::Matching)
        .map_err(|e| InvalidSelector(e.to_string()))
}

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
    fn pod_selector(&self) -> Result<PodSelector, InvalidSelector>;
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

    fn pod_selector(&self) -> Result<PodSelector, InvalidSelector> {
        match &self.spec {
            Some(spec) => selector_from_label_selector(&spec.selector),
            None => Ok(PodSelector::Nothing),
        }
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

    fn pod_selector(&self) -> Result<PodSelector, InvalidSelector> {
        // conversion.go: a nil map becomes a nil LabelSelector (matches nothing); a map becomes
        // matchLabels (an empty one matches everything, as for ReplicaSets).
        match self.spec.as_ref().and_then(|s| s.selector.as_ref()) {
            Some(labels) => Ok(PodSelector::Matching(
                labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            )),
            None => Ok(PodSelector::Nothing),
        }
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
        apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement,
    };

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
    fn replicaset_selector_matches_labels_and_expressions() {
        let rs = rs_with_selector(LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
        });
        let selector = rs.pod_selector().unwrap();
        assert!(selector.matches(Some(&labels(&[("app", "web"), ("tier", "a")]))));
        assert!(!selector.matches(Some(&labels(&[("app", "web"), ("tier", "c")]))));
        assert!(!selector.matches(Some(&labels(&[("app", "web")]))));
        assert!(!selector.matches(None));
    }

    #[test]
    fn invalid_operators_and_values_are_rejected() {
        for (operator, values) in [
            ("Bogus", None),
            ("In", Some(vec![])),
            ("NotIn", None),
            ("Exists", Some(vec!["x".to_string()])),
        ] {
            let rs = rs_with_selector(LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "k".into(),
                    operator: operator.into(),
                    values,
                }]),
            });
            assert!(rs.pod_selector().is_err(), "{operator}");
        }
    }

    #[test]
    fn empty_selectors_match_everything_when_claiming_but_no_orphan() {
        let rs = rs_with_selector(LabelSelector::default());
        let selector = rs.pod_selector().unwrap();
        assert!(selector.matches(Some(&labels(&[("any", "thing")]))));
        assert!(!selector.matches_orphan(Some(&labels(&[("any", "thing")]))));
        let nothing = ReplicaSet::default().pod_selector().unwrap();
        assert!(!nothing.matches(Some(&labels(&[("any", "thing")]))));
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
        assert_eq!(rc.pod_selector().unwrap(), PodSelector::Nothing);
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
