use super::*;
use crate::deployment::testing::*;

/// Simulates upstream's rollout steps with pods that never become ready, as
/// `TestScaledRolloutDeployment` describes: replicas 10, surge 3, unavailable 2.
#[test]
fn scaled_rollout_gets_stuck_at_eight_old_five_new() {
    let d = deployment(10, int(3), int(2));
    // Sync 1: the new ReplicaSet is created with 3 (total 13 = 10 + 3).
    let first = new_rs_new_replicas(&d, 10, 0).unwrap_or_default();
    assert_eq!(first, 3);
    // Sync 2: new full at the surge: old can go down by 13 - 8 - 3 = 2.
    let new_rs = rs("new", 1, 3, 0);
    let old = rs("old", 0, 10, 10);
    assert_eq!(new_rs_new_replicas(&d, 13, 3).unwrap_or_default(), 3);
    let max = max_scaled_down(&d, 13, &new_rs);
    assert_eq!(max, 2);
    assert!(unhealthy_scale_downs(&[&old], max).is_empty());
    assert_eq!(old_scale_downs(&[&old], 10, 8), [(0, 8)]);
    // Sync 3: total 11 → new grows by 2 to 5.
    assert_eq!(new_rs_new_replicas(&d, 11, 3).unwrap_or_default(), 5);
    // Sync 4: stuck: 13 - 8 - 5 = 0.
    let new_rs = rs("new", 1, 5, 0);
    assert_eq!(max_scaled_down(&d, 13, &new_rs), 0);
}

#[test]
fn new_replicas_never_exceed_spec_replicas() {
    let d = deployment(3, int(5), int(0));
    assert_eq!(new_rs_new_replicas(&d, 3, 0).unwrap_or_default(), 3);
    assert_eq!(new_rs_new_replicas(&d, 2, 2).unwrap_or_default(), 3);
    // Recreate: always the full size.
    assert_eq!(
        new_rs_new_replicas(&recreate(4), 4, 0).unwrap_or_default(),
        4
    );
    // Invalid surge string.
    let bad = deployment(3, pct("x"), int(1));
    assert!(new_rs_new_replicas(&bad, 0, 0).is_err());
}

#[test]
fn replicas_one_defaults_surge_first() {
    // Scenario 8: replicas 1 with 25%/25%: surge 1, unavailable 0.
    let d = deployment(1, pct("25%"), pct("25%"));
    assert_eq!(new_rs_new_replicas(&d, 1, 0).unwrap_or_default(), 1);
    let new_rs = rs("new", 1, 1, 0);
    // Old stays until the new pod is available.
    assert_eq!(max_scaled_down(&d, 2, &new_rs), 0);
    let new_rs = rs("new", 1, 1, 1);
    assert_eq!(max_scaled_down(&d, 2, &new_rs), 1);
    let old = rs("old", 0, 1, 1);
    assert_eq!(old_scale_downs(&[&old], 2, 1), [(0, 0)]);
}

#[test]
fn unhealthy_old_replicas_go_first_oldest_first() {
    // Rollover: an unfinished revision with unready pods loses them first.
    let older = rs("r2", 0, 4, 4);
    let unready = rs("r3", 1, 3, 0);
    assert_eq!(unhealthy_scale_downs(&[&older, &unready], 2), [(1, 1)]);
    assert_eq!(unhealthy_scale_downs(&[&older, &unready], 5), [(1, 0)]);
    let partly = rs("r1", 0, 3, 1);
    assert_eq!(
        unhealthy_scale_downs(&[&partly, &unready], 3),
        [(0, 1), (1, 2)]
    );
}

#[test]
fn old_scale_down_never_goes_below_min_available() {
    let a = rs("a", 0, 2, 2);
    let b = rs("b", 1, 3, 3);
    assert_eq!(old_scale_downs(&[&a, &b], 5, 5), []);
    assert_eq!(old_scale_downs(&[&a, &b], 8, 5), [(0, 0), (1, 2)]);
    let empty = rs("e", 0, 0, 0);
    assert_eq!(old_scale_downs(&[&empty, &b], 8, 6), [(1, 1)]);
}

#[test]
fn fencepost_zero_zero_scales_down_one_at_a_time() {
    // Scenario 7: replicas 3, 0% / 10% → surge 0, unavailable 1.
    let d = deployment(3, pct("0%"), pct("10%"));
    assert_eq!(new_rs_new_replicas(&d, 3, 0).unwrap_or_default(), 0);
    let new_rs = rs("new", 1, 0, 0);
    assert_eq!(max_scaled_down(&d, 3, &new_rs), 1);
    let old = rs("old", 0, 3, 3);
    assert_eq!(old_scale_downs(&[&old], 3, 2), [(0, 2)]);
    // Then the new ReplicaSet grows by one.
    assert_eq!(new_rs_new_replicas(&d, 2, 0).unwrap_or_default(), 1);
}
