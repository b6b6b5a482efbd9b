use super::*;

fn all() -> Vec<ControllerId> {
    ControllerId::ALL.to_vec()
}

#[test]
fn defaults_find_nothing() {
    assert_eq!(
        check(&KcmConfig::default(), &Origins::default(), Some(&all())),
        Findings::default()
    );
}

#[test]
fn zero_workers_are_refused_only_for_a_controller_that_runs() {
    let mut config = KcmConfig::default();
    config.component.replica_set_controller.concurrent_rs_syncs = 0;
    let findings = check(&config, &Origins::default(), Some(&all()));
    assert_eq!(
        findings.errors,
        [
            "--concurrent-replicaset-syncs: must be from 1 to 10000 workers, got 0: replicaset-controller would start and never sync anything (upstream does that silently); to turn it off use --controllers=*,-replicaset-controller"
        ]
    );
    let others: Vec<ControllerId> = all()
        .into_iter()
        .filter(|c| *c != ControllerId::ReplicaSet)
        .collect();
    assert!(
        check(&config, &Origins::default(), Some(&others))
            .errors
            .is_empty()
    );
}

#[test]
fn an_empty_controller_set_is_refused_while_it_would_hold_the_lease() {
    let config = KcmConfig::default();
    let findings = check(&config, &Origins::default(), Some(&[]));
    assert_eq!(findings.errors.len(), 1, "{findings:?}");
    assert!(findings.errors[0].starts_with("--controllers: enables none of the controllers kcm-rs runs: it would take the Lease kube-system/kube-controller-manager"));
    let mut idle = config.clone();
    idle.component.generic.leader_election.leader_elect = false;
    let findings = check(&idle, &Origins::default(), Some(&[]));
    assert!(findings.errors.is_empty());
    assert_eq!(
        findings.warnings,
        [
            "--controllers: enables none of the controllers kcm-rs runs: it will serve its port and run nothing"
        ]
    );
    let mut per_controller = config;
    per_controller.process.leader_elect_per_controller = true;
    assert!(
        check(&per_controller, &Origins::default(), Some(&[]))
            .errors
            .is_empty()
    );
}

#[test]
fn off_values_are_logged_for_controllers_that_run() {
    let mut config = KcmConfig::default();
    config
        .component
        .pod_gc_controller
        .terminated_pod_gc_threshold = 0;
    config.component.generic.min_resync_period = Duration::ZERO;
    config.process.secure_port = 0;
    let findings = check(&config, &Origins::default(), Some(&all()));
    assert_eq!(findings.notices.len(), 3, "{findings:?}");
    let findings = check(
        &config,
        &Origins::default(),
        Some(&[ControllerId::ReplicaSet]),
    );
    assert_eq!(
        findings.notices.len(),
        2,
        "podgc does not run: {findings:?}"
    );
}
