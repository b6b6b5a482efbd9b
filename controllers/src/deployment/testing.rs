//! Builders for the unit tests of the deployment modules.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::{
    api::{
        apps::v1::{
            Deployment, DeploymentSpec, DeploymentStatus, DeploymentStrategy, ReplicaSet,
            ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
        },
        core::v1::{Container, PodSpec, PodTemplateSpec},
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta, Time},
        util::intstr::IntOrString,
    },
};

use super::annotations;

pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A pod template labelled `name=test` running `image`.
pub fn template(image: &str) -> PodTemplateSpec {
    template_with_labels(image, &[("name", "test")])
}

pub fn template_with_labels(image: &str, labels: &[(&str, &str)]) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(map(labels)),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "fake-name".into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

/// A RollingUpdate Deployment `d` with `replicas`, `surge`/`unavailable` and image `image`.
pub fn deployment(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("d".into()),
            uid: Some("d-uid".into()),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(map(&[("name", "test")])),
                match_expressions: None,
            },
            template: template("a"),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(surge),
                    max_unavailable: Some(unavailable),
                }),
            }),
            progress_deadline_seconds: Some(600),
            revision_history_limit: Some(10),
            ..Default::default()
        }),
        status: Some(DeploymentStatus::default()),
    }
}

pub fn int(v: i32) -> IntOrString {
    IntOrString::Int(v)
}

pub fn pct(v: &str) -> IntOrString {
    IntOrString::String(v.into())
}

pub fn recreate(replicas: i32) -> Deployment {
    let mut d = deployment(replicas, int(0), int(0));
    if let Some(spec) = d.spec.as_mut() {
        spec.strategy = Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        });
    }
    d
}

/// A ReplicaSet created `created` seconds after the epoch of [`at`], with `spec` replicas of
/// which `available` are available (and as many ready), `status.replicas = spec`.
pub fn rs(name: &str, created: i64, spec: i32, available: i32) -> ReplicaSet {
    ReplicaSet {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(name.into()),
            uid: Some(format!("{name}-uid")),
            creation_timestamp: Some(Time(at(created))),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(spec),
            template: Some(template(name)),
            ..Default::default()
        }),
        status: Some(ReplicaSetStatus {
            replicas: spec,
            ready_replicas: Some(available),
            available_replicas: Some(available),
            observed_generation: Some(1),
            terminating_replicas: Some(0),
            ..Default::default()
        }),
    }
}

pub fn with_annotations(mut rs: ReplicaSet, pairs: &[(&str, &str)]) -> ReplicaSet {
    rs.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .extend(map(pairs));
    rs
}

pub fn with_revision(rs: ReplicaSet, revision: i64) -> ReplicaSet {
    with_annotations(rs, &[(annotations::REVISION, &revision.to_string())])
}

pub fn with_scale_annotations(rs: ReplicaSet, desired: i32, max: i32) -> ReplicaSet {
    with_annotations(
        rs,
        &[
            (annotations::DESIRED_REPLICAS, &desired.to_string()),
            (annotations::MAX_REPLICAS, &max.to_string()),
        ],
    )
}
