use super::*;

use serde_json::json;

/// A group of an aggregated discovery document: `versions` are `(version, freshness,
/// resources)`, each resource `(plural, scope, verbs)`.
/// `(plural, scope, verbs)`.
type TestResource<'a> = (&'a str, &'a str, &'a [&'a str]);

fn group(name: &str, versions: &[(&str, &str, &[TestResource])]) -> APIGroupDiscovery {
    let versions: Vec<_> = versions
        .iter()
        .map(|(version, freshness, resources)| {
            let resources: Vec<_> = resources
                .iter()
                .map(|(plural, scope, verbs)| {
                    json!({
                        "resource": plural,
                        "responseKind": { "group": name, "version": version, "kind": "K" },
                        "scope": scope,
                        "verbs": verbs,
                        "subresources": [{ "subresource": "status", "verbs": ["get"],
                            "responseKind": { "group": name, "version": version, "kind": "K" } }],
                    })
                })
                .collect();
            json!({ "version": version, "freshness": freshness, "resources": resources })
        })
        .collect();
    serde_json::from_value(json!({ "metadata": { "name": name }, "versions": versions }))
        .expect("a valid APIGroupDiscovery")
}

const ALL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "watch",
];

fn names(resources: &[NamespacedResource]) -> Vec<String> {
    resources
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                group_version(&r.gvr.group, &r.gvr.version),
                r.gvr.resource
            )
        })
        .collect()
}

#[test]
fn namespaced_resources_of_every_group_in_document_order() {
    let core = group(
        "",
        &[(
            "v1",
            "Current",
            &[
                ("pods", NAMESPACED, ALL),
                ("nodes", "Cluster", ALL),
                ("configmaps", NAMESPACED, ALL),
            ],
        )],
    );
    let apps = group(
        "apps",
        &[("v1", "Current", &[("deployments", NAMESPACED, ALL)])],
    );
    let crd = group(
        "example.com",
        &[("v1", "Current", &[("widgets", NAMESPACED, ALL)])],
    );
    let (resources, failed) = preferred_namespaced([&core, &apps, &crd]);
    assert_eq!(
        names(&resources),
        [
            "v1/pods",
            "v1/configmaps",
            "apps/v1/deployments",
            "example.com/v1/widgets"
        ]
    );
    assert!(failed.is_empty());
    assert_eq!(
        resources[0].verbs,
        Verbs {
            delete: true,
            delete_collection: true,
            list: true
        }
    );
}

#[test]
fn each_resource_comes_in_the_first_version_serving_it() {
    // v2 is preferred (first); "legacy" exists only in v1beta1 and is still found there.
    let g = group(
        "example.com",
        &[
            ("v2", "Current", &[("widgets", NAMESPACED, ALL)]),
            (
                "v1beta1",
                "Current",
                &[("widgets", NAMESPACED, ALL), ("legacy", NAMESPACED, ALL)],
            ),
        ],
    );
    let (resources, _) = preferred_namespaced([&g]);
    assert_eq!(
        names(&resources),
        ["example.com/v2/widgets", "example.com/v1beta1/legacy"]
    );
}

#[test]
fn a_stale_version_fails_and_the_next_one_is_preferred() {
    let g = group(
        "metrics.example.com",
        &[
            ("v1", STALE, &[]),
            ("v1beta1", "Current", &[("samples", NAMESPACED, ALL)]),
        ],
    );
    let (resources, failed) = preferred_namespaced([&g]);
    assert_eq!(names(&resources), ["metrics.example.com/v1beta1/samples"]);
    assert_eq!(
        failed,
        BTreeMap::from([(
            "metrics.example.com/v1".to_owned(),
            "stale GroupVersion discovery: metrics.example.com/v1".to_owned()
        )])
    );
}

#[test]
fn resources_without_a_kind_and_subresources_are_skipped() {
    let g: APIGroupDiscovery = serde_json::from_value(json!({
        "metadata": { "name": "x.io" },
        "versions": [{ "version": "v1", "resources": [
            { "resource": "nokind", "scope": NAMESPACED, "verbs": ALL, "responseKind": {} },
            { "resource": "a/b", "scope": NAMESPACED, "verbs": ALL,
              "responseKind": { "kind": "K" } },
            { "resource": "fine", "scope": NAMESPACED, "verbs": ALL,
              "responseKind": { "kind": "K" } },
        ]}],
    }))
    .expect("a valid APIGroupDiscovery");
    let (resources, _) = preferred_namespaced([&g]);
    assert_eq!(names(&resources), ["x.io/v1/fine"]);
}

#[test]
fn only_deletable_resources_are_worked_on() {
    let g = group(
        "",
        &[(
            "v1",
            "Current",
            &[
                ("pods", NAMESPACED, ALL),
                ("bindings", NAMESPACED, &["create"]),
                ("events", NAMESPACED, &["delete", "list"]),
            ],
        )],
    );
    let (resources, _) = preferred_namespaced([&g]);
    let deletable = deletable(&resources).expect("parsable group versions");
    assert_eq!(names(&deletable), ["v1/pods", "v1/events"]);
    assert!(!deletable[1].verbs.delete_collection);
}

#[test]
fn an_unparsable_group_version_leaves_nothing_to_delete() {
    let resources = vec![
        NamespacedResource {
            gvr: GroupVersionResource::pods(),
            verbs: Verbs::from_names(ALL.iter().copied()),
        },
        NamespacedResource {
            gvr: GroupVersionResource::new("a", "b/c", "things"),
            verbs: Verbs::from_names(ALL.iter().copied()),
        },
    ];
    let error = deletable(&resources).expect_err("a/b/c does not parse");
    assert_eq!(error.to_string(), "unexpected GroupVersion string: a/b/c");
}

#[test]
fn discovery_failures_read_as_upstream_writes_them() {
    let failure = DiscoveryFailure::Groups(BTreeMap::from([
        (
            "metrics.example.com/v1".to_owned(),
            "stale GroupVersion discovery: metrics.example.com/v1".to_owned(),
        ),
        (
            "a.example.com/v1".to_owned(),
            "stale GroupVersion discovery: a.example.com/v1".to_owned(),
        ),
    ]));
    assert_eq!(
        failure.condition_message(),
        "Discovery failed for some groups, 2 failing: unable to retrieve the complete list of \
         server APIs: a.example.com/v1: stale GroupVersion discovery: a.example.com/v1, \
         metrics.example.com/v1: stale GroupVersion discovery: metrics.example.com/v1"
    );
    let whole = DiscoveryFailure::Request(ApiFailure::new(
        crate::toolkit::FailureKind::Other,
        "connection refused",
    ));
    assert_eq!(whole.condition_message(), "connection refused");
}

#[test]
fn failed_groups_sort_as_go_sorts_their_strings() {
    let failure = DiscoveryFailure::Groups(BTreeMap::from([
        ("a/v1".to_owned(), "x".to_owned()),
        ("a/v1-x".to_owned(), "y".to_owned()),
    ]));
    assert_eq!(
        failure.to_string(),
        "unable to retrieve the complete list of server APIs: a/v1-x: y, a/v1: x"
    );
}
