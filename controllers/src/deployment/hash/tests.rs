use super::*;
use crate::deployment::testing::template_with_labels;
use k8s_openapi::api::core::v1::PodSecurityContext;
use std::collections::BTreeMap;

#[test]
fn safe_encode_maps_digits_into_the_alphabet() {
    assert_eq!(safe_encode("0123456789"), "456789bcdf");
}

#[test]
fn hash_is_deterministic_and_in_the_alphabet() {
    let t = template_with_labels("a", &[("name", "test")]);
    let h = compute_hash(&t, None);
    assert_eq!(h, compute_hash(&t.clone(), None));
    assert!(!h.is_empty() && h.len() <= 10, "{h}");
    assert!(h.chars().all(|c| "456789bcdf".contains(c)), "{h}");
}

#[test]
fn hash_depends_on_template_and_collision_count() {
    let a = template_with_labels("a", &[("name", "test")]);
    let b = template_with_labels("b", &[("name", "test")]);
    assert_ne!(compute_hash(&a, None), compute_hash(&b, None));
    assert_ne!(compute_hash(&a, None), compute_hash(&a, Some(1)));
    assert_ne!(compute_hash(&a, Some(1)), compute_hash(&a, Some(2)));
    // A zero count is still written, as upstream writes it whenever the pointer is set.
    assert_ne!(compute_hash(&a, None), compute_hash(&a, Some(0)));
}

#[test]
fn hash_ignores_the_hash_label_and_empty_fields() {
    let plain = template_with_labels("a", &[("name", "test")]);
    let labelled = template_with_labels("a", &[("name", "test"), (POD_TEMPLATE_HASH_LABEL, "x")]);
    assert_eq!(compute_hash(&plain, None), compute_hash(&labelled, None));
}

#[test]
fn equality_ignores_only_the_hash_label() {
    let plain = template_with_labels("a", &[("name", "test")]);
    let labelled = template_with_labels("a", &[("name", "test"), (POD_TEMPLATE_HASH_LABEL, "x")]);
    assert!(equal_ignore_hash(&plain, &labelled));
    assert!(!equal_ignore_hash(
        &plain,
        &template_with_labels("a", &[("name", "other")])
    ));
    assert!(!equal_ignore_hash(
        &plain,
        &template_with_labels("b", &[("name", "test")])
    ));
    let mut grace = plain.clone();
    if let Some(spec) = grace.spec.as_mut() {
        spec.termination_grace_period_seconds = Some(5);
    }
    assert!(!equal_ignore_hash(&plain, &grace));
}

#[test]
fn equality_treats_missing_and_empty_collections_alike() {
    let mut a = template_with_labels("a", &[("name", "test")]);
    let mut b = a.clone();
    if let Some(meta) = a.metadata.as_mut() {
        meta.annotations = None;
    }
    if let Some(meta) = b.metadata.as_mut() {
        meta.annotations = Some(BTreeMap::new());
    }
    if let Some(spec) = b.spec.as_mut() {
        spec.volumes = Some(Vec::new());
        spec.security_context = Some(PodSecurityContext::default());
    }
    assert!(equal_ignore_hash(&a, &b));
    // A template with only the hash label equals one with no labels at all.
    let only_hash = template_with_labels("a", &[(POD_TEMPLATE_HASH_LABEL, "x")]);
    let mut no_labels = template_with_labels("a", &[]);
    if let Some(meta) = no_labels.metadata.as_mut() {
        meta.labels = None;
    }
    assert!(equal_ignore_hash(&only_hash, &no_labels));
}

#[test]
fn replica_set_names() {
    assert_eq!(replica_set_name("web", "5d4f"), "web-5d4f");
    let long = "a".repeat(260);
    let name = replica_set_name(&long, "4567891234");
    assert_eq!(name.len(), 253);
    assert!(name.ends_with("-4567891234"));
}
