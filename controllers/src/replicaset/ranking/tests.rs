//! Tests of the deletion ranking, one per rule, plus upstream's `TestPodDeletionCost` cases.

use super::*;
use jiff::SignedDuration;
use k8s_openapi::{
    api::core::v1::{Container, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus},
    apimachinery::pkg::apis::meta::v1::Time,
};
use std::collections::BTreeMap;

/// A pod as the cache holds it.
fn cached(p: Pod) -> Arc<CachedPod> {
    Arc::new(CachedPod::from_pod(&p).expect("pod decodes"))
}

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap()
}

fn ago(secs: i64) -> Timestamp {
    now() - SignedDuration::from_secs(secs)
}

/// A Running, Ready, assigned pod created an hour ago and ready for 30 minutes.
fn pod(name: &str) -> Pod {
    Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(format!("uid-{name}")),
            creation_timestamp: Some(Time(ago(3600))),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "c".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(ago(1800))),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn with(mut p: Pod, f: impl FnOnce(&mut Pod)) -> Pod {
    f(&mut p);
    p
}

fn unassigned(p: &mut Pod) {
    p.spec.as_mut().unwrap().node_name = None;
}

fn phase(name: &'static str) -> impl FnOnce(&mut Pod) {
    move |p| p.status.as_mut().unwrap().phase = Some(name.into())
}

fn not_ready(p: &mut Pod) {
    p.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "False".into();
}

fn cost(value: &'static str) -> impl FnOnce(&mut Pod) {
    move |p| {
        p.metadata.annotations = Some(BTreeMap::from([(
            POD_DELETION_COST_ANNOTATION.to_string(),
            value.to_string(),
        )]))
    }
}

fn ready_since(t: Option<Timestamp>) -> impl FnOnce(&mut Pod) {
    move |p| {
        p.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_transition_time =
            t.map(Time)
    }
}

fn created(t: Option<Timestamp>) -> impl FnOnce(&mut Pod) {
    move |p| p.metadata.creation_timestamp = t.map(Time)
}

fn restarts(count: i32) -> impl FnOnce(&mut Pod) {
    move |p| {
        p.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: "c".into(),
            restart_count: count,
            ..Default::default()
        }])
    }
}

fn sidecar_restarts(count: i32) -> impl FnOnce(&mut Pod) {
    move |p| {
        p.spec.as_mut().unwrap().init_containers = Some(vec![
            Container {
                name: "sidecar".into(),
                restart_policy: Some("Always".into()),
                ..Default::default()
            },
            Container {
                name: "init".into(),
                ..Default::default()
            },
        ]);
        p.status.as_mut().unwrap().init_container_statuses = Some(vec![
            ContainerStatus {
                name: "sidecar".into(),
                restart_count: count,
                ..Default::default()
            },
            // A plain init container's restarts never count.
            ContainerStatus {
                name: "init".into(),
                restart_count: 100,
                ..Default::default()
            },
        ]);
    }
}

fn ranked(p: Pod, rank: usize) -> RankedPod {
    RankedPod {
        pod: cached(p),
        rank,
    }
}

/// Asserts `first` is deleted before `second` and not the other way round.
fn assert_first(first: Pod, second: Pod, gates: RankingGates) {
    let (a, b) = (ranked(first, 0), ranked(second, 0));
    assert!(
        delete_before(&a, &b, Some(now()), gates),
        "{:?} should go before {:?}",
        a.pod.name,
        b.pod.name
    );
    assert!(!delete_before(&b, &a, Some(now()), gates));
}

fn gates() -> RankingGates {
    RankingGates::default()
}

#[test]
fn unassigned_before_assigned() {
    assert_first(with(pod("a"), unassigned), pod("b"), gates());
    // Both assigned to different nodes: the rule does not apply, the tie goes on.
    let other_node = with(pod("b"), |p| {
        p.spec.as_mut().unwrap().node_name = Some("node-2".into())
    });
    assert_first(with(pod("a"), restarts(1)), other_node, gates());
}

#[test]
fn pending_before_unknown_before_running() {
    assert_first(
        with(pod("a"), phase("Pending")),
        with(pod("b"), phase("Unknown")),
        gates(),
    );
    assert_first(with(pod("a"), phase("Unknown")), pod("b"), gates());
    // An unassigned Running pod still goes before an assigned Pending one.
    assert_first(
        with(pod("a"), unassigned),
        with(pod("b"), phase("Pending")),
        gates(),
    );
}

#[test]
fn not_ready_before_ready() {
    assert_first(with(pod("a"), not_ready), pod("b"), gates());
}

#[test]
fn lower_deletion_cost_first_and_only_with_the_gate() {
    let cheap = || with(pod("a"), cost("-10"));
    let dear = || with(with(pod("b"), cost("100")), restarts(5));
    assert_first(cheap(), dear(), gates());
    let off = RankingGates {
        pod_deletion_cost: false,
        ..gates()
    };
    assert_first(dear(), cheap(), off);
    // Readiness outranks cost.
    assert_first(with(dear(), not_ready), cheap(), gates());
}

#[test]
fn deletion_cost_parses_like_upstream() {
    for (value, expected) in [
        ("0", 0),
        ("-5", -5),
        ("2147483647", i32::MAX),
        ("2147483648", 0),
        ("+10", 0),
        ("008", 0),
        ("", 0),
        ("ten", 0),
    ] {
        let p = with(pod("a"), cost(value));
        assert_eq!(deletion_cost(&cached(p)), expected, "{value:?}");
    }
    assert_eq!(deletion_cost(&cached(pod("a"))), 0);
}

#[test]
fn doubled_up_pods_first() {
    let (a, b) = (ranked(pod("a"), 3), ranked(pod("b"), 1));
    assert!(delete_before(&a, &b, Some(now()), gates()));
    assert!(!delete_before(&b, &a, Some(now()), gates()));
}

#[test]
fn rank_counts_active_related_pods_per_node() {
    let on = |name: &str, node: &str| {
        cached(with(pod(name), |p| {
            p.spec.as_mut().unwrap().node_name = Some(node.into())
        }))
    };
    let gone = cached(with(
        with(pod("x"), |p| {
            p.spec.as_mut().unwrap().node_name = Some("n1".into())
        }),
        phase("Failed"),
    ));
    let related = vec![on("r1", "n1"), on("r2", "n1"), on("r3", "n2"), gone];
    let ranks: Vec<usize> =
        rank_by_colocation(&[on("a", "n1"), on("b", "n2"), on("c", "n3")], &related)
            .iter()
            .map(|r| r.rank)
            .collect();
    assert_eq!(ranks, vec![2, 1, 0]);
}

#[test]
fn recently_ready_first_in_log_buckets_with_uid_tie_break() {
    // 100 s and 120 s ago share the bucket floor(log2(age ns)) = 36; the lower UID goes first
    // even though "b" became ready more recently.
    let a = with(pod("a"), ready_since(Some(ago(120))));
    let b = with(pod("b"), ready_since(Some(ago(100))));
    assert_first(a.clone(), b.clone(), gates());
    // Without the gate the plain comparison applies: more recently ready first.
    let linear = RankingGates {
        logarithmic_scale_down: false,
        ..gates()
    };
    assert_first(b, a, linear);
    // Different buckets: newer first whatever the UIDs.
    assert_first(
        with(pod("z"), ready_since(Some(ago(10)))),
        with(pod("a"), ready_since(Some(ago(1000)))),
        gates(),
    );
    // A ready pod without a transition time counts as the newest.
    assert_first(
        with(pod("z"), ready_since(None)),
        with(pod("a"), ready_since(Some(ago(10)))),
        gates(),
    );
}

#[test]
fn more_restarts_first_then_sidecar_restarts() {
    assert_first(
        with(pod("z"), restarts(3)),
        with(pod("a"), restarts(1)),
        gates(),
    );
    assert_first(
        with(pod("z"), sidecar_restarts(2)),
        with(pod("a"), sidecar_restarts(1)),
        gates(),
    );
    // Restarts only matter once readiness times tie.
    assert_first(
        with(pod("z"), ready_since(Some(ago(10)))),
        with(with(pod("a"), ready_since(Some(ago(1000)))), restarts(9)),
        gates(),
    );
}

#[test]
fn newer_pods_first_with_zero_creation_time_first() {
    let both_not_ready = |p: Pod| with(p, not_ready);
    assert_first(
        both_not_ready(with(pod("z"), created(Some(ago(10))))),
        both_not_ready(with(pod("a"), created(Some(ago(1000))))),
        gates(),
    );
    assert_first(
        both_not_ready(with(pod("z"), created(None))),
        both_not_ready(with(pod("a"), created(Some(ago(10))))),
        gates(),
    );
    // Same bucket: UID decides.
    assert_first(
        both_not_ready(with(pod("a"), created(Some(ago(120))))),
        both_not_ready(with(pod("b"), created(Some(ago(100))))),
        gates(),
    );
}

#[test]
fn identical_pods_are_not_ordered() {
    let (a, b) = (ranked(pod("a"), 0), ranked(pod("a"), 0));
    assert!(!delete_before(&a, &b, Some(now()), gates()));
}

/// Upstream `TestPodDeletionCost`: two pods with restart counts [5, 0]; scaling to 1 keeps…
#[test]
fn pod_deletion_cost_scenarios() {
    let cases: [(&str, Option<[&'static str; 2]>, RankingGates, &str); 4] = [
        (
            "costs 1000/100 keep pod 0",
            Some(["1000", "100"]),
            gates(),
            "p0",
        ),
        (
            "equal costs keep pod 1",
            Some(["100", "100"]),
            gates(),
            "p1",
        ),
        ("no costs keep pod 1", None, gates(), "p1"),
        (
            "gate off keeps pod 1",
            Some(["1000", "100"]),
            RankingGates {
                pod_deletion_cost: false,
                ..gates()
            },
            "p1",
        ),
    ];
    for (name, costs, gates, kept) in cases {
        let mut p0 = with(pod("p0"), restarts(5));
        let mut p1 = with(pod("p1"), restarts(0));
        if let Some([c0, c1]) = costs {
            p0 = with(p0, cost(c0));
            p1 = with(p1, cost(c1));
        }
        let active = vec![cached(p0), cached(p1)];
        let deleted = pods_to_delete(&active, &active, 1, now(), gates);
        assert_eq!(deleted.len(), 1, "{name}");
        let deleted_name = &*deleted[0].name;
        assert_ne!(deleted_name, kept, "{name}");
    }
}

#[test]
fn unscheduled_and_not_ready_pods_are_chosen_before_healthy_ones() {
    let active: Vec<Arc<CachedPod>> = vec![
        cached(pod("healthy-1")),
        cached(with(pod("not-ready"), not_ready)),
        cached(pod("healthy-2")),
        cached(with(with(pod("unscheduled"), unassigned), phase("Pending"))),
        cached(pod("healthy-3")),
    ];
    let chosen: Vec<_> = pods_to_delete(&active, &active, 2, now(), gates())
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    assert_eq!(chosen, vec!["unscheduled", "not-ready"]);
}

#[test]
fn deleting_everything_skips_the_sort() {
    let active = vec![cached(pod("b")), cached(with(pod("a"), unassigned))];
    let chosen = pods_to_delete(&active, &[], 2, now(), gates());
    let names: Vec<_> = chosen.iter().map(|p| Some(p.name.to_string())).collect();
    assert_eq!(names, vec![Some("b".into()), Some("a".into())]);
}

#[test]
fn merge_sort_survives_inconsistent_comparisons() {
    // "Rock, paper, scissors": a cyclic predicate must neither panic nor lose items.
    let mut items = vec![0u8, 1, 2, 0, 1, 2, 2, 1, 0];
    sort_by_before(&mut items, &|a, b| (*a + 1) % 3 == *b);
    let mut sorted = items.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![0, 0, 0, 1, 1, 1, 2, 2, 2]);
    let mut numbers = vec![5, 3, 9, 1, 3];
    sort_by_before(&mut numbers, &|a, b| a < b);
    assert_eq!(numbers, vec![1, 3, 3, 5, 9]);
}

#[test]
fn age_ratio_compares_chosen_ready_pods_with_the_youngest() {
    let young = cached(with(pod("young"), created(Some(ago(100)))));
    let old = cached(with(pod("old"), created(Some(ago(400)))));
    let unready = cached(with(with(pod("u"), not_ready), created(Some(ago(900)))));
    let active = vec![young.clone(), old.clone(), unready.clone()];
    let ratios = deletion_age_ratios(&active, &[old, unready], now());
    assert_eq!(ratios, vec![4.0]);
}
