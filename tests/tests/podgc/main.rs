//! The pod garbage collector against a real apiserver (reference §5.2). Every scenario runs
//! with kcm-rs and with the upstream kube-controller-manager, each running only
//! `pod-garbage-collector-controller` with upstream's fixed 20 s period and 40 s quarantine,
//! and both must leave the same pods in the same state.
//!
//! The collector acts on the whole cluster (its threshold counts every terminated pod), so the
//! two managers run at the same time on two environments, and the scenarios of one manager
//! run together in two phases ([`scenarios`]). The first test to ask for the results runs
//! them (about two and a half minutes); each test then checks its own scenario.

mod scenarios;
mod support;

use std::time::Duration;

use scenarios::{Phase1, Phase2};
use support::{Manager, PodState, Side};
use testenv::TestEnv;
use tokio::sync::OnceCell;

/// Both phases as one manager saw them.
#[derive(Clone, Debug)]
struct Run {
    phase1: Phase1,
    phase2: Phase2,
}

/// kcm-rs's run and upstream's.
struct Runs {
    ours: Run,
    upstream: Run,
}

async fn run(env: &'static TestEnv, manager: Manager) -> anyhow::Result<Run> {
    let mut side = Side::new(env, manager);
    let outcome = async {
        let phase1 = scenarios::phase1(&mut side).await?;
        let phase2 = scenarios::phase2(&mut side).await?;
        anyhow::Ok(Run { phase1, phase2 })
    }
    .await;
    let log = side.log_tail(60);
    side.stop().await?;
    outcome.map_err(|e| {
        anyhow::anyhow!(
            "{}: {e:#}\n{} log:\n{log}",
            manager.label(),
            manager.label()
        )
    })
}

/// Runs everything once per test binary; `None` without a test environment.
async fn runs() -> Option<&'static Runs> {
    static RUNS: OnceCell<Option<Result<Runs, String>>> = OnceCell::const_new();
    let runs = RUNS
        .get_or_init(|| async {
            let (ours_env, upstream_env) = tokio::join!(TestEnv::get(), TestEnv::second());
            let (ours_env, upstream_env) = (ours_env?, upstream_env?);
            let (ours, upstream) = tokio::join!(
                run(ours_env, Manager::KcmRs),
                run(upstream_env, Manager::Upstream)
            );
            Some(match (ours, upstream) {
                (Ok(ours), Ok(upstream)) => Ok(Runs { ours, upstream }),
                (ours, upstream) => Err([ours.err(), upstream.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| format!("{e:#}"))
                    .collect::<Vec<_>>()
                    .join("\n\n")),
            })
        })
        .await
        .as_ref()?;
    match runs {
        Ok(runs) => Some(runs),
        Err(e) => panic!("the pod GC scenarios failed:\n{e}"),
    }
}

fn states(entries: &[(&str, PodState)]) -> Vec<(String, PodState)> {
    entries
        .iter()
        .map(|(n, s)| ((*n).to_owned(), s.clone()))
        .collect()
}

/// P1, P2, P3: pods of a deleted node, or of a node that never existed, are marked Failed
/// with the DisruptionTarget condition (unless already Succeeded) and force-deleted, after
/// the 40 s quarantine.
#[tokio::test]
async fn orphaned_pods_are_failed_and_force_deleted_after_the_quarantine() {
    let Some(runs) = runs().await else { return };
    let ours = &runs.ours.phase1;
    assert_eq!(
        ours.orphans.deleted_node,
        states(&[
            ("running-held", PodState::orphan_marked()),
            ("pending-held", PodState::orphan_marked()),
            ("succeeded-held", PodState::force_deleted("Succeeded")),
            ("running", PodState::Gone),
            ("pending", PodState::Gone),
            ("succeeded", PodState::Gone),
        ])
    );
    assert_eq!(
        ours.orphans.ghost_node,
        states(&[
            ("held", PodState::orphan_marked()),
            ("free", PodState::Gone)
        ])
    );
    assert_eq!(ours.orphans, runs.upstream.phase1.orphans);
    for (who, took) in [
        ("kcm-rs", ours.orphan_took),
        ("upstream", runs.upstream.phase1.orphan_took),
    ] {
        assert!(
            (Duration::from_secs(35)..Duration::from_secs(100)).contains(&took),
            "{who}: the orphans went {took:?} after their node (quarantine 40 s, period 20 s)"
        );
    }
}

/// A node that registers while its name is in quarantine saves its pods.
#[tokio::test]
async fn the_quarantine_protects_a_node_that_registers_late() {
    let Some(runs) = runs().await else { return };
    let expected = states(&[("held", PodState::untouched("Running"))]);
    assert_eq!(runs.ours.phase1.late_node, expected);
    assert_eq!(runs.ours.phase1.late_node, runs.upstream.phase1.late_node);
}

/// P4: an unscheduled terminating pod is marked Failed (no condition) and force-deleted; it
/// goes with its finalizer. An unscheduled Pending pod is left alone.
#[tokio::test]
async fn unscheduled_terminating_pods_are_failed_and_pending_ones_left() {
    let Some(runs) = runs().await else { return };
    let ours = &runs.ours.phase1;
    assert_eq!(
        ours.unscheduled,
        states(&[
            ("terminating", PodState::force_deleted("Failed")),
            ("pending", PodState::untouched("Pending")),
        ])
    );
    assert_eq!(ours.unscheduled_released, PodState::Gone);
    assert_eq!(ours.unscheduled, runs.upstream.phase1.unscheduled);
    assert_eq!(
        ours.unscheduled_released,
        runs.upstream.phase1.unscheduled_released
    );
}

/// P5–P7: terminating pods of a NotReady node (or one without a Ready condition) that carries
/// the out-of-service taint are force-deleted within a pass; a Ready tainted node, an untainted
/// NotReady node and a pod that is not terminating are left alone.
#[tokio::test]
async fn out_of_service_nodes_release_their_terminating_pods() {
    let Some(runs) = runs().await else { return };
    let ours = &runs.ours.phase1;
    let still_terminating = PodState::Present {
        phase: "Running".into(),
        terminating: true,
        deletion_grace: Some(300),
        disruption: None,
    };
    assert_eq!(
        ours.out_of_service,
        states(&[
            ("down-free", PodState::Gone),
            ("down-held", PodState::force_deleted("Failed")),
            ("down-live", PodState::untouched("Running")),
            ("ready-tainted", still_terminating.clone()),
            ("no-condition", PodState::Gone),
            ("untainted", still_terminating),
        ])
    );
    assert_eq!(ours.out_of_service, runs.upstream.phase1.out_of_service);
    for (who, took) in [
        ("kcm-rs", ours.out_of_service_took),
        ("upstream", runs.upstream.phase1.out_of_service_took),
    ] {
        assert!(
            took < Duration::from_secs(30),
            "{who}: {took:?} after the taint (one 20 s pass)"
        );
    }
}

/// P10: threshold 0 turns off only the terminated pass (the orphan test ran with it too).
#[tokio::test]
async fn threshold_zero_keeps_terminated_pods() {
    let Some(runs) = runs().await else { return };
    assert_eq!(runs.ours.phase1.threshold_zero_left, 20);
    assert_eq!(runs.upstream.phase1.threshold_zero_left, 20);
}

/// P8, P9: beyond the threshold, evicted pods go first, then the oldest, equal creation
/// seconds by name; a Running pod is not counted however old.
#[tokio::test]
async fn terminated_pods_beyond_the_threshold_go_evicted_first_then_oldest() {
    let Some(runs) = runs().await else { return };
    let ours = &runs.ours.phase2;
    assert!(ours.same_second, "a and b were created in the same second");
    assert_eq!(
        ours.states,
        states(&[
            ("running-oldest", PodState::untouched("Running")),
            ("p1", PodState::force_deleted("Succeeded")),
            ("p2", PodState::force_deleted("Failed")),
            ("p3", PodState::force_deleted("Succeeded")),
            ("b", PodState::untouched("Succeeded")),
            ("a", PodState::force_deleted("Succeeded")),
            ("p4", PodState::untouched("Succeeded")),
            ("evicted-newest", PodState::force_deleted("Failed")),
        ])
    );
    assert_eq!(ours.states, runs.upstream.phase2.states);
}

/// `pod_gc_collector_force_delete_pods_total` per namespace and reason, as upstream counts.
#[tokio::test]
async fn force_deletions_are_counted_per_namespace_and_reason() {
    let Some(runs) = runs().await else { return };
    let key = |family: &str, reason: &str| (family.to_owned(), reason.to_owned());
    assert_eq!(
        runs.ours.phase1.metrics,
        [
            (key("pods", "orphaned"), 2),
            (key("pods", "out-of-service"), 1)
        ]
        .into()
    );
    assert_eq!(runs.ours.phase1.metrics, runs.upstream.phase1.metrics);
    assert_eq!(
        runs.ours.phase2.metrics,
        [(key("pods", "terminated"), 5)].into()
    );
    assert_eq!(runs.ours.phase2.metrics, runs.upstream.phase2.metrics);
}
