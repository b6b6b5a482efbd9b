//! Builders for the objects tests create: label maps, a pod template that is never pulled, and
//! ReplicaSets / ReplicationControllers / Deployments whose template labels are their selector
//! plus extras; and a pod-count ResourceQuota for tests of failing creations.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec, ReplicaSet, ReplicaSetSpec},
        core::v1::{
            Container, PodSpec, PodTemplateSpec, ReplicationController, ReplicationControllerSpec,
        },
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta},
};

/// A label (or annotation) map from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One container with an image nobody pulls (there is no kubelet), and an annotation so tests
/// can check that pods inherit the template's annotations.
pub fn pod_template(template_labels: BTreeMap<String, String>) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(template_labels),
            annotations: Some(labels(&[("example.com/from-template", "yes")])),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".into(),
                image: Some("registry.invalid/never-pulled:1".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

fn template_labels(selector: &[(&str, &str)], extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut all = labels(selector);
    all.extend(labels(extra));
    all
}

/// A ReplicaSet selecting `selector`; its pods carry `selector` and `extra` labels.
pub fn replica_set(
    name: &str,
    replicas: i32,
    selector: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> ReplicaSet {
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels(selector)),
                match_expressions: None,
            },
            template: Some(pod_template(template_labels(selector, extra))),
            min_ready_seconds: None,
        }),
        status: None,
    }
}

/// A ReplicationController selecting `selector`; its pods carry `selector` and `extra` labels.
pub fn replication_controller(
    name: &str,
    replicas: i32,
    selector: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> ReplicationController {
    ReplicationController {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(ReplicationControllerSpec {
            replicas: Some(replicas),
            selector: Some(labels(selector)),
            template: Some(pod_template(template_labels(selector, extra))),
            min_ready_seconds: None,
        }),
        status: None,
    }
}

/// A Deployment selecting `selector`, with the default (RollingUpdate) strategy; its pods carry
/// `selector` and `extra` labels and run `image`. Tests adjust the spec from there.
pub fn deployment(
    name: &str,
    replicas: i32,
    selector: &[(&str, &str)],
    extra: &[(&str, &str)],
    image: &str,
) -> Deployment {
    let mut template = pod_template(template_labels(selector, extra));
    if let Some(container) = template
        .spec
        .as_mut()
        .and_then(|s| s.containers.first_mut())
    {
        container.image = Some(image.to_owned());
    }
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels(selector)),
                match_expressions: None,
            },
            template,
            ..Default::default()
        }),
        status: None,
    }
}
