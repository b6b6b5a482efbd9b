use super::*;
use crate::deployment::testing::*;

fn sizes_by_name(d: &Deployment, active: &[&ReplicaSet]) -> Vec<(String, i32)> {
    proportional_sizes(d, active)
        .into_iter()
        .map(|(i, n)| (replicas::name(active[i]).to_owned(), n))
        .collect()
}

#[test]
fn paused_scale_down_of_a_stuck_rollout() {
    // Scenario 10: state of scenario 6 (old 8, new 5, max-replicas 13), scale to 5.
    let d = deployment(5, int(3), int(2));
    let old = with_scale_annotations(rs("old", 0, 8, 8), 10, 13);
    let new = with_scale_annotations(rs("new", 10, 5, 0), 10, 13);
    assert_eq!(replica_set_fraction(&old, &d), -3);
    assert_eq!(
        sizes_by_name(&d, &[&new, &old]),
        [("old".to_owned(), 5), ("new".to_owned(), 3)]
    );
}

#[test]
fn scale_up_gives_the_leftover_to_the_largest_newest() {
    // 10 → 15 with surge 0 / unavailable 1: allowed 15, to add 5 over 6 + 4 (max before 10).
    let d = deployment(15, int(0), int(1));
    let a = with_scale_annotations(rs("a", 0, 6, 6), 10, 10);
    let b = with_scale_annotations(rs("b", 5, 4, 0), 10, 10);
    // a: round(6*15/10)-6 = 3; b: round(4*15/10)-4 = 2.
    assert_eq!(
        sizes_by_name(&d, &[&a, &b]),
        [("a".to_owned(), 9), ("b".to_owned(), 6)]
    );
    // 10 → 11: a gets round(6.6)-6 = 1, b round(4.4)-4 = 0; nothing left over.
    let d = deployment(11, int(0), int(1));
    assert_eq!(
        sizes_by_name(&d, &[&a, &b]),
        [("a".to_owned(), 7), ("b".to_owned(), 4)]
    );
    // Equal sizes: the newer one comes first and takes the leftover.
    let d = deployment(11, int(0), int(1));
    let x = with_scale_annotations(rs("x", 0, 5, 5), 10, 10);
    let y = with_scale_annotations(rs("y", 9, 5, 0), 10, 10);
    // x: round(5.5)-5 = 1 (half away from zero), but y goes first: min(1, 1) = 1, then x 0.
    assert_eq!(
        sizes_by_name(&d, &[&x, &y]),
        [("y".to_owned(), 6), ("x".to_owned(), 5)]
    );
}

#[test]
fn scale_to_zero_and_unchanged() {
    let d = deployment(0, int(1), int(0));
    let a = with_scale_annotations(rs("a", 0, 3, 3), 3, 4);
    let b = with_scale_annotations(rs("b", 1, 1, 0), 3, 4);
    assert_eq!(
        sizes_by_name(&d, &[&a, &b]),
        [("a".to_owned(), 0), ("b".to_owned(), 0)]
    );
    // Nothing to add: sizes stay, in the given order.
    let d = deployment(3, int(1), int(0));
    assert_eq!(
        sizes_by_name(&d, &[&b, &a]),
        [("b".to_owned(), 1), ("a".to_owned(), 3)]
    );
}

#[test]
fn fraction_falls_back_to_status_replicas() {
    let mut d = deployment(20, int(0), int(1));
    let a = rs("a", 0, 5, 5);
    assert_eq!(replica_set_fraction(&a, &d), 0);
    d.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
        replicas: Some(10),
        ..Default::default()
    });
    assert_eq!(replica_set_fraction(&a, &d), 5);
}
