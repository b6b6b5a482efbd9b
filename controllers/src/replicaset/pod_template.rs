//! Building a new pod from a ReplicaSet's or RC's pod template (upstream
//! `controller.GetPodFromTemplate` plus the label check of `RealPodControl.createPods`).
//!
//! The pod gets the template's labels, annotations, finalizers and spec, a controller
//! reference to its owner and a `generateName` of `<owner>-`; the apiserver picks the name.

use k8s_openapi::{
    api::core::v1::{Pod, PodTemplateSpec},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};

/// Why no pod could be built from a template.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A pod without labels could never be matched by its owner's selector.
    #[error("unable to create pods, no labels")]
    NoLabels,
}

/// The longest DNS-1123 subdomain, which is what pod names must be.
const MAX_NAME_LENGTH: usize = 253;

/// `getPodsPrefix`: `<owner>-` reads better, unless the dash would make an invalid name
/// prefix; then the owner name alone.
pub fn generate_name_prefix(owner_name: &str) -> String {
    let prefix = format!("{owner_name}-");
    if is_valid_name_prefix(&prefix) {
        prefix
    } else {
        owner_name.to_owned()
    }
}

/// `ValidatePodName(prefix, true)`: a generated name adds a suffix, so a trailing dash is fine
/// (upstream masks it as `a`); the rest must be a DNS-1123 subdomain.
fn is_valid_name_prefix(prefix: &str) -> bool {
    let masked: String = match prefix.strip_suffix('-') {
        Some(head) if !head.is_empty() => format!("{head}a"),
        _ => prefix.to_owned(),
    };
    masked.len() <= MAX_NAME_LENGTH
        && masked.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        })
}

/// The pod to create for `owner_name` from `template`, controlled by `controller_ref`.
pub fn pod_from_template(
    template: Option<&PodTemplateSpec>,
    owner_name: &str,
    controller_ref: OwnerReference,
) -> Result<Pod, TemplateError> {
    let meta = template.and_then(|t| t.metadata.as_ref());
    let labels = meta.and_then(|m| m.labels.clone()).unwrap_or_default();
    if labels.is_empty() {
        return Err(TemplateError::NoLabels);
    }
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name_prefix(owner_name)),
            labels: Some(labels),
            annotations: meta.and_then(|m| m.annotations.clone()),
            finalizers: meta.and_then(|m| m.finalizers.clone()),
            owner_references: Some(vec![controller_ref]),
            ..Default::default()
        },
        spec: template.and_then(|t| t.spec.clone()),
        status: None,
    })
}

#[cfg(test)]
mod tests {
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
}
