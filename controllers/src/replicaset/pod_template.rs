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
mod tests;
