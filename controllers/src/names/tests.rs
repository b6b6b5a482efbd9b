use super::*;
use std::collections::HashSet;

#[test]
fn every_implemented_controller_is_known_exactly_once() {
    for id in ControllerId::ALL {
        let hits: Vec<_> = KNOWN_CONTROLLERS
            .iter()
            .filter(|c| c.implemented == Some(id))
            .collect();
        assert_eq!(hits.len(), 1, "{id}");
        assert_eq!(hits[0].canonical, id.canonical());
        assert!(hits[0].enabled_by_default, "{id} is on by default upstream");
    }
}

#[test]
fn names_and_aliases_are_unique_and_follow_upstream_conventions() {
    let mut seen = HashSet::new();
    for c in KNOWN_CONTROLLERS {
        // TestControllerNamesConsistency upstream.
        assert!(c.canonical.ends_with("-controller"), "{}", c.canonical);
        assert!(
            c.canonical
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '-'),
            "{}",
            c.canonical
        );
        for name in std::iter::once(&c.canonical).chain(c.aliases) {
            assert!(seen.insert(*name), "{name} appears twice");
        }
    }
    let mut sorted: Vec<_> = KNOWN_CONTROLLERS.iter().map(|c| c.canonical).collect();
    sorted.sort_unstable();
    let listed: Vec<_> = KNOWN_CONTROLLERS.iter().map(|c| c.canonical).collect();
    assert_eq!(
        listed, sorted,
        "keep the list sorted like upstream's help text"
    );
}

#[test]
fn only_the_bootstrap_token_controllers_are_off_by_default() {
    let off: Vec<_> = KNOWN_CONTROLLERS
        .iter()
        .filter(|c| !c.enabled_by_default)
        .map(|c| c.canonical)
        .collect();
    assert_eq!(
        off,
        ["bootstrap-signer-controller", "token-cleaner-controller"]
    );
}

#[test]
fn lookup_resolves_canonical_names_and_aliases() {
    let by_alias = lookup(KNOWN_CONTROLLERS, "podgc").map(|c| c.implemented);
    assert_eq!(by_alias, Some(Some(ControllerId::PodGarbageCollector)));
    let by_name = lookup(KNOWN_CONTROLLERS, "endpoints-controller").map(|c| c.implemented);
    assert_eq!(by_name, Some(Some(ControllerId::Endpoints)));
    let kubeadm = lookup(KNOWN_CONTROLLERS, "tokencleaner").map(|c| c.canonical);
    assert_eq!(kubeadm, Some("token-cleaner-controller"));
    assert!(lookup(KNOWN_CONTROLLERS, "-podgc").is_none());
    assert!(lookup(KNOWN_CONTROLLERS, "endpoints").is_none());
}

#[test]
fn client_names_match_the_bootstrap_rbac_service_accounts() {
    let clients: Vec<_> = ControllerId::ALL
        .iter()
        .map(|id| id.names().client)
        .collect();
    assert_eq!(
        clients,
        [
            "endpoint-controller",
            "replication-controller",
            "replicaset-controller",
            "pod-garbage-collector",
            "namespace-controller",
            "deployment-controller",
        ]
    );
}
