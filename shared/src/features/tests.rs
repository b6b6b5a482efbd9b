use super::*;

fn set(requests: &[(&str, bool)]) -> Result<FeatureGates, Vec<String>> {
    FeatureGates::set(requests.iter().copied())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

#[test]
fn the_table_is_sorted_unique_and_holds_every_honoured_gate() {
    assert!(
        KNOWN_GATES.windows(2).all(|w| w[0].name < w[1].name),
        "binary search needs the table sorted by name, without duplicates"
    );
    for feature in Feature::ALL {
        let gate = known_gate(feature.name())
            .unwrap_or_else(|| panic!("{feature} is no longer an upstream gate"));
        assert!(!gate.locked, "{feature} is locked: nothing left to honour");
        assert_eq!(Feature::from_name(feature.name()), Some(*feature));
    }
    for (feature, needs) in DEPENDENCIES {
        assert!(known_gate(feature).is_some(), "{feature}");
        assert!(
            needs.iter().all(|dep| known_gate(dep).is_some()),
            "{feature}"
        );
    }
}

#[test]
fn defaults_are_upstreams() {
    let gates = FeatureGates::default();
    assert!(gates.enabled(Feature::PodDeletionCost));
    assert!(gates.enabled(Feature::DeploymentReplicaSetTerminatingReplicas));
    assert!(gates.value("InOrderInformers"), "GA and locked on");
    assert!(!gates.value("CoordinatedLeaderElection"), "beta, off");
    assert!(!gates.value("NoSuchGate"));
    assert_eq!(gates.explicit().count(), 0);
    assert_eq!(
        gates.summary(),
        BTreeMap::from([
            ("DeploymentReplicaSetTerminatingReplicas", true),
            ("PodDeletionCost", true),
            ("StaleControllerConsistencyReplicaSet", true),
            ("WatchListClient", true),
        ])
    );
    // Setting nothing is upstream's defaults too.
    assert_eq!(set(&[]), Ok(FeatureGates::default()));
}

#[test]
fn honoured_gates_follow_what_was_set_and_the_last_value_wins() {
    let gates = set(&[
        ("PodDeletionCost", true),
        ("DeploymentReplicaSetTerminatingReplicas", false),
        ("PodDeletionCost", false),
    ])
    .unwrap();
    assert!(!gates.enabled(Feature::PodDeletionCost));
    assert!(!gates.enabled(Feature::DeploymentReplicaSetTerminatingReplicas));
    assert_eq!(
        gates.explicit().collect::<Vec<_>>(),
        [
            ("DeploymentReplicaSetTerminatingReplicas", false),
            ("PodDeletionCost", false)
        ]
    );
    assert!(gates.ignored().is_empty());
}

#[test]
fn unknown_gates_are_refused_with_upstreams_message() {
    assert_eq!(
        set(&[("Foo", true), ("PodDeletionCost", false), ("Foo", false)]),
        Err(vec!["unrecognized feature gate: Foo".to_owned()])
    );
    // Names are case-sensitive upstream, and gates removed before 1.37 are unknown.
    assert_eq!(
        set(&[
            ("poddeletioncost", true),
            ("OrderedNamespaceDeletion", true)
        ]),
        Err(vec![
            "unrecognized feature gate: poddeletioncost".to_owned(),
            "unrecognized feature gate: OrderedNamespaceDeletion".to_owned(),
        ])
    );
    assert_eq!(
        set(&[("", true)]),
        Err(vec!["unrecognized feature gate: ".to_owned()])
    );
}

#[test]
fn locked_gates_only_take_their_value() {
    // Upstream: "cannot set feature gate InOrderInformers to false, feature is locked to true".
    assert_eq!(
        set(&[("InOrderInformers", false)]),
        Err(vec![
            "cannot set feature gate InOrderInformers to false, feature is locked to true"
                .to_owned()
        ])
    );
    // Deprecated gates can be locked off.
    assert_eq!(
        set(&[("GitRepoVolumeDriver", true)]),
        Err(vec![
            "cannot set feature gate GitRepoVolumeDriver to true, feature is locked to false"
                .to_owned()
        ])
    );
    // Setting a locked gate to its value is allowed (and ignored by kcm-rs).
    let gates = set(&[("InOrderInformers", true)]).unwrap();
    let ignored = gates.ignored();
    assert_eq!(ignored.len(), 1);
    assert_eq!(
        (ignored[0].0.name, ignored[0].0.stage, ignored[0].1),
        ("InOrderInformers", Stage::Ga, true)
    );
}

#[test]
fn every_problem_is_reported() {
    assert_eq!(
        set(&[("InOrderInformers", false), ("Foo", true)]),
        Err(vec![
            "unrecognized feature gate: Foo".to_owned(),
            "cannot set feature gate InOrderInformers to false, feature is locked to true"
                .to_owned(),
        ])
    );
}

#[test]
fn disabling_a_dependency_of_an_enabled_gate_is_refused() {
    // Upstream names the six gates that need AtomicFIFO (in random order, as one error).
    let errors = set(&[("AtomicFIFO", false)]).unwrap_err();
    assert_eq!(errors.len(), 6, "{errors:?}");
    assert!(errors.contains(
        &"StaleControllerConsistencyReplicaSet is enabled, but depends on features that are disabled: [AtomicFIFO]"
            .to_owned()
    ));
    let typed = FeatureGates::set([("AtomicFIFO", false)]).unwrap_err();
    assert!(typed.iter().all(|e| e.gate() == "AtomicFIFO"), "{typed:?}");
    // Disabling the dependents as well is fine.
    let mut requests: Vec<(&str, bool)> = DEPENDENCIES
        .iter()
        .filter(|(_, needs)| needs.contains(&"AtomicFIFO"))
        .map(|(feature, _)| (*feature, false))
        .collect();
    requests.push(("AtomicFIFO", false));
    assert!(FeatureGates::set(requests).is_ok());
}

#[test]
fn all_beta_sets_every_beta_gate_not_named() {
    let gates = set(&[("AllBeta", false)]).unwrap();
    assert!(!gates.enabled(Feature::PodDeletionCost));
    assert!(!gates.enabled(Feature::DeploymentReplicaSetTerminatingReplicas));
    assert!(!gates.value("WatchListClient"));
    assert!(gates.value("InOrderInformers"), "GA gates are not touched");
    assert!(
        gates.ignored().is_empty(),
        "AllBeta is honoured through its effect"
    );
    // An explicit value beats AllBeta, wherever it stands.
    for requests in [
        [("AllBeta", false), ("PodDeletionCost", true)],
        [("PodDeletionCost", true), ("AllBeta", false)],
    ] {
        let gates = set(&requests).unwrap();
        assert!(gates.enabled(Feature::PodDeletionCost), "{requests:?}");
        assert!(!gates.enabled(Feature::DeploymentReplicaSetTerminatingReplicas));
    }
    // As upstream: AllAlpha=true turns on alpha gates that need the beta GenericWorkload, which
    // is off by default.
    let errors = set(&[("AllAlpha", true)]).unwrap_err();
    assert!(errors.contains(
        &"WorkloadWithJob is enabled, but depends on features that are disabled: [GenericWorkload]"
            .to_owned()
    ));
    let gates = set(&[("AllAlpha", true), ("GenericWorkload", true)]).unwrap();
    assert!(gates.value("ControllerManagerReleaseLeaderElectionLockOnExit"));
    assert!(
        gates.enabled(Feature::PodDeletionCost),
        "beta, untouched by AllAlpha"
    );
}

#[test]
fn ignored_gates_are_listed_with_their_stage() {
    let gates = set(&[
        ("WatchListClient", false),
        ("PodDeletionCost", false),
        ("KubeProxyIPVS", true),
        ("InOrderInformers", true),
    ])
    .unwrap();
    let ignored: Vec<(&str, Stage, bool)> = gates
        .ignored()
        .into_iter()
        .map(|(gate, value)| (gate.name, gate.stage, value))
        .collect();
    assert_eq!(
        ignored,
        [
            ("InOrderInformers", Stage::Ga, true),
            ("KubeProxyIPVS", Stage::Deprecated, true),
        ]
    );
    assert!(gates.maturing().is_empty(), "no honoured gate is GA yet");
    assert_eq!(
        gates.summary(),
        BTreeMap::from([
            ("DeploymentReplicaSetTerminatingReplicas", true),
            ("InOrderInformers", true),
            ("KubeProxyIPVS", true),
            ("PodDeletionCost", false),
            ("StaleControllerConsistencyReplicaSet", true),
            ("WatchListClient", false),
        ])
    );
}

#[test]
fn stages_print_as_upstream_spells_them() {
    assert_eq!(Stage::Alpha.to_string(), "ALPHA");
    assert_eq!(Stage::Ga.to_string(), "GA");
    assert_eq!(Stage::Deprecated.to_string(), "DEPRECATED");
}
