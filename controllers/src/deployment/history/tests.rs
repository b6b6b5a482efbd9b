use super::*;
use crate::deployment::testing::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn names(rss: Vec<&ReplicaSet>) -> Vec<&str> {
    rss.into_iter().map(replicas::name).collect()
}

#[test]
fn deletes_the_lowest_revisions_beyond_the_limit() {
    let old = vec![
        with_revision(rs("r3", 0, 0, 0), 3),
        with_revision(rs("r1", 1, 0, 0), 1),
        with_revision(rs("r2", 2, 0, 0), 2),
    ];
    assert_eq!(names(to_delete(&old, 1)), ["r1", "r2"]);
    assert_eq!(names(to_delete(&old, 0)), ["r1", "r2", "r3"]);
    assert!(to_delete(&old, 3).is_empty());
}

#[test]
fn never_deletes_a_replica_set_with_replicas_or_unobserved_spec() {
    let mut unobserved = with_revision(rs("r2", 2, 0, 0), 2);
    unobserved.metadata.generation = Some(2);
    let mut running = with_revision(rs("r3", 3, 0, 0), 3);
    if let Some(s) = running.status.as_mut() {
        s.replicas = 1;
    }
    let old = vec![
        with_revision(rs("r1", 1, 2, 0), 1),
        unobserved,
        running,
        with_revision(rs("r4", 4, 0, 0), 4),
    ];
    // Limit 1: the three lowest are candidates, and all three are skipped, not substituted.
    assert!(to_delete(&old, 1).is_empty());
    assert_eq!(names(to_delete(&old, 0)), ["r4"]);
}

#[test]
fn replica_sets_being_deleted_do_not_count() {
    let mut deleting = with_revision(rs("r1", 1, 0, 0), 1);
    deleting.metadata.deletion_timestamp = Some(Time(at(5)));
    let old = vec![deleting, with_revision(rs("r2", 2, 0, 0), 2)];
    assert!(to_delete(&old, 1).is_empty());
    assert_eq!(names(to_delete(&old, 0)), ["r2"]);
}
