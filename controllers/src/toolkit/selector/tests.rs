use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
use kcm_shared::meta::Labels;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn label_selector_matches_labels_and_expressions() {
    let selector = selector_from_label_selector(&LabelSelector {
        match_labels: Some(labels(&[("app", "web")])),
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "tier".into(),
            operator: "In".into(),
            values: Some(vec!["a".into(), "b".into()]),
        }]),
    })
    .unwrap();
    assert!(selector.matches_map(Some(&labels(&[("app", "web"), ("tier", "a")]))));
    assert!(!selector.matches_map(Some(&labels(&[("app", "web"), ("tier", "c")]))));
    assert!(!selector.matches_map(Some(&labels(&[("app", "web")]))));
    assert!(!selector.matches_map(None));
}

#[test]
fn invalid_operators_and_values_are_rejected() {
    for (operator, values) in [
        ("Bogus", None),
        ("In", Some(vec![])),
        ("NotIn", None),
        ("Exists", Some(vec!["x".to_string()])),
    ] {
        let selector = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: operator.into(),
                values,
            }]),
        };
        assert!(
            selector_from_label_selector(&selector).is_err(),
            "{operator}"
        );
    }
}

#[test]
fn empty_selectors_match_everything_when_claiming_but_no_orphan() {
    let selector = selector_from_label_selector(&LabelSelector::default()).unwrap();
    assert!(selector.selects_everything());
    assert!(selector.matches_map(Some(&labels(&[("any", "thing")]))));
    assert!(!selector.matches_orphan(Labels::Map(Some(&labels(&[("any", "thing")])))));
    let nothing = ObjectSelector::from_label_selector(None).unwrap();
    assert!(!nothing.matches_map(Some(&labels(&[("any", "thing")]))));
    assert!(!nothing.selects_everything());
}

#[test]
fn map_selectors_follow_selector_from_set() {
    let map = labels(&[("name", "test")]);
    let selector = ObjectSelector::from_map(Some(&map));
    assert!(selector.matches_map(Some(&labels(&[("name", "test"), ("x", "y")]))));
    assert!(selector.matches_orphan(Labels::Map(Some(&labels(&[("name", "test")])))));
    assert!(!selector.matches_map(Some(&labels(&[("name", "other")]))));
    assert_eq!(ObjectSelector::from_map(None), ObjectSelector::Nothing);
    assert!(ObjectSelector::from_map(Some(&BTreeMap::new())).selects_everything());
}

#[test]
fn set_matches_agrees_with_a_selector_built_from_the_set() {
    let set = labels(&[("app", "web"), ("tier", "a")]);
    let built = ObjectSelector::from_map(Some(&set));
    for candidate in [
        labels(&[("app", "web"), ("tier", "a"), ("x", "y")]),
        labels(&[("app", "web")]),
        labels(&[("app", "web"), ("tier", "b")]),
        labels(&[]),
    ] {
        assert_eq!(
            ObjectSelector::set_matches(&set, Labels::Map(Some(&candidate))),
            built.matches_map(Some(&candidate)),
            "{candidate:?}"
        );
    }
    assert!(ObjectSelector::set_matches(&labels(&[]), Labels::NONE));
}
