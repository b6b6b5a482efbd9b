use super::*;
use k8s_openapi::{api::apps::v1::DeploymentSpec, apimachinery::pkg::apis::meta::v1::ObjectMeta};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rs_with(pairs: &[(&str, &str)]) -> ReplicaSet {
    ReplicaSet {
        metadata: ObjectMeta {
            annotations: Some(map(pairs)),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn deployment(replicas: i32, pairs: &[(&str, &str)]) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            annotations: Some(map(pairs)),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn revisions() {
    assert_eq!(revision(&rs_with(&[])), Some(0));
    assert_eq!(revision(&rs_with(&[(REVISION, "7")])), Some(7));
    assert_eq!(revision(&rs_with(&[(REVISION, "x")])), None);
    let rss = [
        rs_with(&[(REVISION, "1")]),
        rs_with(&[(REVISION, "4")]),
        rs_with(&[(REVISION, "bad")]),
        rs_with(&[(REVISION, "3")]),
    ];
    assert_eq!(max_revision(&rss), 4);
    assert_eq!(last_revision(&rss), 3);
    assert_eq!(last_revision(&rss[..1]), 0);
}

#[test]
fn replica_annotations() {
    assert_eq!(
        desired_replicas(&rs_with(&[(DESIRED_REPLICAS, "3")])),
        Some(3)
    );
    assert_eq!(
        desired_replicas(&rs_with(&[(DESIRED_REPLICAS, "-3")])),
        None
    );
    assert_eq!(
        desired_replicas(&rs_with(&[(DESIRED_REPLICAS, "+3")])),
        None
    );
    assert_eq!(
        desired_replicas(&rs_with(&[(DESIRED_REPLICAS, "3000000000")])),
        None
    );
    assert_eq!(max_replicas(&rs_with(&[])), None);
    let mut rs = rs_with(&[]);
    assert!(replicas_annotations_need_update(&rs, 3, 4));
    assert!(set_replicas_annotations(&mut rs, 3, 4));
    assert!(!replicas_annotations_need_update(&rs, 3, 4));
    assert!(!set_replicas_annotations(&mut rs, 3, 4));
    assert_eq!(max_replicas(&rs), Some(4));
}

#[test]
fn copies_user_annotations_but_not_managed_ones() {
    let d = deployment(
        3,
        &[
            ("team", "a"),
            (LAST_APPLIED, "{}"),
            (REVISION, "9"),
            (ROLLBACK_TO, "1"),
            ("kubernetes.io/change-cause", "x"),
        ],
    );
    let mut rs = rs_with(&[("stale", "kept")]);
    assert!(copy_deployment_annotations(&d, &mut rs));
    let got = rs.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        got,
        map(&[
            ("kubernetes.io/change-cause", "x"),
            ("stale", "kept"),
            ("team", "a")
        ])
    );
    assert!(!copy_deployment_annotations(&d, &mut rs));
}

#[test]
fn new_replica_set_annotations_on_creation() {
    let d = deployment(3, &[("team", "a")]);
    let mut rs = rs_with(&[]);
    assert!(set_new_replica_set_annotations(
        &d, &mut rs, 1, false, 2000, 1
    ));
    assert_eq!(
        rs.metadata.annotations.clone().unwrap_or_default(),
        map(&[
            (REVISION, "1"),
            (DESIRED_REPLICAS, "3"),
            (MAX_REPLICAS, "4"),
            ("team", "a")
        ])
    );
}

#[test]
fn revision_bump_records_history() {
    let d = deployment(3, &[]);
    let mut rs = rs_with(&[(REVISION, "1")]);
    assert!(set_new_replica_set_annotations(
        &d, &mut rs, 3, true, 2000, 1
    ));
    let a = rs.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(a.get(REVISION).map(String::as_str), Some("3"));
    assert_eq!(a.get(REVISION_HISTORY).map(String::as_str), Some("1"));
    // exists: desired/max untouched.
    assert!(!a.contains_key(DESIRED_REPLICAS));
    assert!(set_new_replica_set_annotations(
        &d, &mut rs, 5, true, 2000, 1
    ));
    let a = rs.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(a.get(REVISION_HISTORY).map(String::as_str), Some("1,3"));
    // Not lower, not equal.
    assert!(!set_new_replica_set_annotations(
        &d, &mut rs, 5, true, 2000, 1
    ));
    // An unparsable revision is left alone.
    let mut bad = rs_with(&[(REVISION, "x")]);
    assert!(!set_new_replica_set_annotations(
        &d, &mut bad, 5, true, 2000, 1
    ));
}

#[test]
fn revision_history_drops_oldest_entries_past_the_limit() {
    let d = deployment(3, &[]);
    let mut rs = rs_with(&[(REVISION, "14"), (REVISION_HISTORY, "10,11,12,13")]);
    // "10,11,12,13" + ",14" is 14 chars; a limit of 9 keeps "12,13,14"... of 8 chars.
    set_new_replica_set_annotations(&d, &mut rs, 15, true, 9, 0);
    let a = rs.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        a.get(REVISION_HISTORY).map(String::as_str),
        Some("12,13,14")
    );
    // An entry that cannot fit at all is not appended.
    let mut rs = rs_with(&[(REVISION, "123456"), (REVISION_HISTORY, "1")]);
    set_new_replica_set_annotations(&d, &mut rs, 123457, true, 3, 0);
    let a = rs.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(a.get(REVISION_HISTORY).map(String::as_str), Some("1"));
    assert_eq!(a.get(REVISION).map(String::as_str), Some("123457"));
}

#[test]
fn deployment_revision_and_rollback_annotations() {
    let mut d = deployment(1, &[(ROLLBACK_TO, "2"), ("team", "a"), (REVISION, "3")]);
    assert_eq!(rollback_to(&d), Some(2));
    assert!(!set_deployment_revision(&mut d, "3"));
    assert!(set_deployment_revision(&mut d, "4"));
    let rs = rs_with(&[
        ("team", "b"),
        ("other", "x"),
        (REVISION, "1"),
        (DESIRED_REPLICAS, "1"),
    ]);
    set_deployment_annotations_to(&mut d, &rs);
    assert_eq!(
        d.metadata.annotations.clone().unwrap_or_default(),
        map(&[
            (ROLLBACK_TO, "2"),
            (REVISION, "4"),
            ("team", "b"),
            ("other", "x")
        ])
    );
    clear_rollback_to(&mut d);
    assert_eq!(rollback_to(&d), None);
    assert_eq!(rollback_to(&deployment(1, &[(ROLLBACK_TO, "x")])), None);
}
