use super::*;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use std::collections::BTreeMap;

fn owner_ref() -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "web".into(),
        uid: "rs-uid".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn template(labels: &[(&str, &str)]) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            annotations: Some(BTreeMap::from([("note".into(), "kept".into())])),
            finalizers: Some(vec!["example.com/hold".into()]),
            name: Some("ignored".into()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("img".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

#[test]
fn pod_copies_template_and_points_at_its_owner() {
    let t = template(&[("app", "web")]);
    let pod = pod_from_template(Some(&t), "web", owner_ref()).unwrap();
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
    assert_eq!(pod.metadata.name, None, "the apiserver generates the name");
    assert_eq!(pod.metadata.labels, t.metadata.as_ref().unwrap().labels);
    assert_eq!(
        pod.metadata.annotations,
        t.metadata.as_ref().unwrap().annotations
    );
    assert_eq!(
        pod.metadata.finalizers,
        Some(vec!["example.com/hold".to_string()])
    );
    assert_eq!(pod.metadata.owner_references, Some(vec![owner_ref()]));
    assert_eq!(pod.spec, t.spec);
}

#[test]
fn a_template_without_labels_is_refused() {
    let t = template(&[]);
    assert_eq!(
        pod_from_template(Some(&t), "web", owner_ref()),
        Err(TemplateError::NoLabels)
    );
    assert_eq!(
        pod_from_template(None, "web", owner_ref()),
        Err(TemplateError::NoLabels)
    );
    assert_eq!(
        TemplateError::NoLabels.to_string(),
        "unable to create pods, no labels"
    );
}

#[test]
fn prefix_drops_the_dash_only_when_the_name_is_at_the_limit() {
    assert_eq!(generate_name_prefix("web"), "web-");
    assert_eq!(generate_name_prefix("a.b"), "a.b-");
    let at_limit = "a".repeat(MAX_NAME_LENGTH);
    assert_eq!(generate_name_prefix(&at_limit), at_limit);
    let below = "a".repeat(MAX_NAME_LENGTH - 1);
    assert_eq!(generate_name_prefix(&below), format!("{below}-"));
}
