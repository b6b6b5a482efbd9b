use super::*;
use crate::deployment::testing::*;

#[test]
fn sums_and_terminating() {
    let rss = [rs("a", 0, 3, 2), rs("b", 1, 2, 1)];
    assert_eq!(sum_spec(&rss), 5);
    assert_eq!(sum_status(&rss), 5);
    assert_eq!(sum_available(&rss), 3);
    assert_eq!(sum_ready(&rss), 3);
    assert_eq!(sum_terminating(&rss), Some(0));
    // A ReplicaSet never synced counts 0; a synced one without the field makes it unknown.
    let mut unsynced = rs("c", 2, 1, 0);
    if let Some(s) = unsynced.status.as_mut() {
        s.terminating_replicas = None;
        s.observed_generation = None;
    }
    assert_eq!(sum_terminating([&rss[0], &unsynced]), Some(0));
    let mut synced = rs("c", 2, 1, 0);
    if let Some(s) = synced.status.as_mut() {
        s.terminating_replicas = None;
    }
    assert_eq!(sum_terminating([&rss[0], &synced]), None);
}

#[test]
fn orderings() {
    let old_big = rs("old", 0, 5, 0);
    let new_big = rs("new", 10, 5, 0);
    let small = rs("small", 5, 1, 0);
    let mut v = [small.clone(), new_big.clone(), old_big.clone()];
    v.sort_by(by_size_older);
    assert_eq!(
        v.iter().map(name).collect::<Vec<_>>(),
        ["old", "new", "small"]
    );
    v.sort_by(by_size_newer);
    assert_eq!(
        v.iter().map(name).collect::<Vec<_>>(),
        ["new", "old", "small"]
    );
    v.sort_by(by_creation);
    assert_eq!(
        v.iter().map(name).collect::<Vec<_>>(),
        ["old", "small", "new"]
    );
    // Same timestamp: by name.
    let mut v = [rs("b", 0, 1, 0), rs("a", 0, 1, 0)];
    v.sort_by(by_creation);
    assert_eq!(v.iter().map(name).collect::<Vec<_>>(), ["a", "b"]);
    // Revision, then creation for unparsable ones.
    let mut v = [
        with_revision(rs("r3", 0, 0, 0), 3),
        with_revision(rs("r1", 5, 0, 0), 1),
        with_revision(rs("r2", 9, 0, 0), 2),
    ];
    v.sort_by(by_revision);
    assert_eq!(v.iter().map(name).collect::<Vec<_>>(), ["r1", "r2", "r3"]);
}

#[test]
fn new_replica_set_is_the_oldest_with_an_equal_template() {
    let mut d = deployment(3, int(1), int(0));
    if let Some(spec) = d.spec.as_mut() {
        spec.template = template("b");
    }
    let mut twin_late = rs("b2", 9, 0, 0);
    let mut twin_early = rs("b1", 3, 0, 0);
    for twin in [&mut twin_late, &mut twin_early] {
        if let Some(s) = twin.spec.as_mut() {
            s.template = Some(template("b"));
        }
    }
    let rss = vec![rs("a", 0, 3, 3), twin_late, twin_early];
    let (new, old) = split_new_and_old(&d, rss);
    assert_eq!(new.as_ref().map(name), Some("b1"));
    assert_eq!(old.iter().map(name).collect::<Vec<_>>(), ["a", "b2"]);
    let (none, all) = split_new_and_old(&deployment(3, int(1), int(0)), vec![rs("x", 0, 1, 0)]);
    assert!(none.is_none());
    assert_eq!(all.len(), 1);
}

#[test]
fn old_replica_sets_come_oldest_first_whatever_the_cache_order() {
    // FindNewReplicaSet sorts the list by creation in place, so upstream's old ReplicaSets
    // (the order Recreate scales them down in, rollback and ReplicaFailure search them in)
    // are oldest first, names breaking ties.
    let d = deployment(3, int(1), int(0));
    let rss = vec![
        rs("q", 10, 1, 0),
        rs("s", 0, 1, 0),
        rs("r", 5, 1, 0),
        rs("p", 5, 1, 0),
    ];
    let (new, old) = split_new_and_old(&d, rss);
    assert!(new.is_none());
    assert_eq!(
        old.iter().map(name).collect::<Vec<_>>(),
        ["s", "p", "r", "q"]
    );
}

#[test]
fn active_or_latest() {
    let new = rs("new", 10, 0, 0);
    let old = vec![rs("o1", 0, 0, 0), rs("o2", 5, 0, 0)];
    // Nothing active: the new one, else the newest old one.
    assert_eq!(
        find_active_or_latest(Some(&new), &old),
        Some(ActiveOrLatest::New)
    );
    assert_eq!(
        find_active_or_latest(None, &old),
        Some(ActiveOrLatest::Old(1))
    );
    assert_eq!(find_active_or_latest(None, &[]), None);
    // Exactly one active.
    let old = vec![rs("o1", 0, 2, 0), rs("o2", 5, 0, 0)];
    assert_eq!(
        find_active_or_latest(Some(&new), &old),
        Some(ActiveOrLatest::Old(0))
    );
    // Several active: none.
    let active_new = rs("new", 10, 1, 0);
    assert_eq!(find_active_or_latest(Some(&active_new), &old), None);
}

#[test]
fn saturation() {
    let d = deployment(3, int(1), int(0));
    let full = with_scale_annotations(rs("n", 0, 3, 3), 3, 4);
    assert!(is_saturated(&d, Some(&full)));
    assert!(!is_saturated(&d, None));
    assert!(!is_saturated(
        &d,
        Some(&with_scale_annotations(rs("n", 0, 3, 2), 3, 4))
    ));
    assert!(!is_saturated(
        &d,
        Some(&with_scale_annotations(rs("n", 0, 3, 3), 2, 3))
    ));
    assert!(!is_saturated(&d, Some(&rs("n", 0, 3, 3))));
}
