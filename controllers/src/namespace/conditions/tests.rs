use super::*;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("a valid timestamp")
}

/// (type, status, reason, message) of every condition, in order.
fn summary(status: &NamespaceStatus) -> Vec<(String, String, String, String)> {
    status
        .conditions
        .iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn row(t: &str, s: &str, r: &str, m: &str) -> (String, String, String, String) {
    (t.into(), s.into(), r.into(), m.into())
}

#[test]
fn a_clean_pass_writes_the_five_ok_conditions_in_order() {
    let mut status = NamespaceStatus::default();
    assert!(ConditionUpdater::default().apply(&mut status, at(100)));
    assert_eq!(
        summary(&status),
        [
            row(
                "NamespaceDeletionDiscoveryFailure",
                "False",
                "ResourcesDiscovered",
                "All resources successfully discovered"
            ),
            row(
                "NamespaceDeletionGroupVersionParsingFailure",
                "False",
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed"
            ),
            row(
                "NamespaceDeletionContentFailure",
                "False",
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization"
            ),
            row(
                "NamespaceContentRemaining",
                "False",
                "ContentRemoved",
                "All content successfully removed"
            ),
            row(
                "NamespaceFinalizersRemaining",
                "False",
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished"
            ),
        ]
    );
    let times: Vec<_> = status
        .conditions
        .iter()
        .flatten()
        .map(|c| c.last_transition_time.clone())
        .collect();
    assert!(times.iter().all(|t| *t == Some(Time(at(100)))));
}

#[test]
fn remaining_content_is_sorted_and_the_core_group_keeps_its_dot() {
    let mut remaining = RemainingContent::default();
    remaining.add(
        &GroupVersionResource::new("apps", "v1", "deployments"),
        1,
        &BTreeMap::from([("custom.io/finalizer".to_owned(), 1)]),
    );
    remaining.add(
        &GroupVersionResource::new("", "v1", "configmaps"),
        2,
        &BTreeMap::from([
            ("custom.io/finalizer".to_owned(), 2),
            ("a.io/hold".to_owned(), 1),
        ]),
    );
    remaining.add(
        &GroupVersionResource::new("", "v1", "secrets"),
        0,
        &BTreeMap::new(),
    );
    let mut updater = ConditionUpdater::default();
    updater.content_totals(&remaining);
    let mut status = NamespaceStatus::default();
    updater.apply(&mut status, at(1));
    let rows = summary(&status);
    assert_eq!(
        rows[3],
        row(
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            "Some resources are remaining: configmaps. has 2 resource instances, \
             deployments.apps has 1 resource instances"
        )
    );
    assert_eq!(
        rows[4],
        row(
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizersRemain",
            "Some content in the namespace has finalizers remaining: a.io/hold in 1 resource \
             instances, custom.io/finalizer in 3 resource instances"
        )
    );
    assert_eq!(rows[2].1, "False", "no deletion failed");
}

#[test]
fn deletion_errors_are_counted_and_sorted() {
    let mut updater = ConditionUpdater::default();
    updater.delete_content_failed("z failed".into());
    updater.delete_content_failed(
        "unexpected items still remain in namespace: t for gvr: /v1, Resource=pods".into(),
    );
    let mut status = NamespaceStatus::default();
    updater.apply(&mut status, at(1));
    assert_eq!(
        summary(&status)[2],
        row(
            "NamespaceDeletionContentFailure",
            "True",
            "ContentDeletionFailed",
            "Failed to delete all resource types, 2 remaining: unexpected items still remain in \
             namespace: t for gvr: /v1, Resource=pods, z failed"
        )
    );
}

#[test]
fn discovery_and_parsing_failures_are_reported() {
    let mut updater = ConditionUpdater::default();
    updater.discovery_failed("Discovery failed for some groups, 1 failing: x".into());
    updater.group_versions_failed("unexpected GroupVersion string: a/b/c".into());
    let mut status = NamespaceStatus::default();
    updater.apply(&mut status, at(1));
    let rows = summary(&status);
    assert_eq!(
        rows[0],
        row(
            "NamespaceDeletionDiscoveryFailure",
            "True",
            "DiscoveryFailed",
            "Discovery failed for some groups, 1 failing: x"
        )
    );
    assert_eq!(
        rows[1],
        row(
            "NamespaceDeletionGroupVersionParsingFailure",
            "True",
            "GroupVersionParsingFailed",
            "unexpected GroupVersion string: a/b/c"
        )
    );
}

#[test]
fn transition_times_move_only_when_the_status_flips() {
    let remaining = |n: usize| {
        let mut r = RemainingContent::default();
        r.add(
            &GroupVersionResource::new("", "v1", "configmaps"),
            n,
            &BTreeMap::new(),
        );
        r
    };
    let mut status = NamespaceStatus::default();
    let mut first = ConditionUpdater::default();
    first.content_totals(&remaining(2));
    assert!(first.apply(&mut status, at(10)));

    // Same status, new message: rewritten, transition time kept.
    let mut second = ConditionUpdater::default();
    second.content_totals(&remaining(1));
    assert!(second.apply(&mut status, at(20)));
    let content = |s: &NamespaceStatus| s.conditions.as_ref().expect("conditions")[3].clone();
    assert_eq!(
        content(&status).message.as_deref(),
        Some("Some resources are remaining: configmaps. has 1 resource instances")
    );
    assert_eq!(content(&status).last_transition_time, Some(Time(at(10))));

    // Nothing new: no change at all.
    assert!(!second.apply(&mut status, at(30)));

    // Flipped to ok: new transition time.
    assert!(ConditionUpdater::default().apply(&mut status, at(40)));
    assert_eq!(content(&status).status, "False");
    assert_eq!(content(&status).last_transition_time, Some(Time(at(40))));
    assert_eq!(
        status.conditions.as_ref().expect("conditions")[0].last_transition_time,
        Some(Time(at(10))),
        "conditions that stayed ok keep their time"
    );
}

#[test]
fn foreign_conditions_are_kept_and_ours_appended_after_them() {
    let mut status = NamespaceStatus {
        conditions: Some(vec![NamespaceCondition {
            type_: "example.com/Other".into(),
            status: "True".into(),
            ..NamespaceCondition::default()
        }]),
        phase: Some("Terminating".into()),
    };
    ConditionUpdater::default().apply(&mut status, at(1));
    let types: Vec<String> = summary(&status).into_iter().map(|r| r.0).collect();
    assert_eq!(types.len(), 6);
    assert_eq!(types[0], "example.com/Other");
    assert_eq!(types[1], "NamespaceDeletionDiscoveryFailure");
}

#[test]
fn transition_times_are_whole_seconds() {
    let mut status = NamespaceStatus::default();
    let now = at(5)
        .checked_add(jiff::SignedDuration::from_millis(700))
        .expect("in range");
    ConditionUpdater::default().apply(&mut status, now);
    assert_eq!(
        status.conditions.expect("conditions")[0].last_transition_time,
        Some(Time(at(5)))
    );
}
