use super::*;
use crate::informer::InformerType;
use crate::informer::index::{INDEX_CONTROLLER_UID, INDEX_NAMESPACE, INDEX_NODE_NAME};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

fn pod(ns: &str, name: &str, node: Option<&str>, owner_uid: Option<&str>) -> Arc<Pod> {
    let mut p = Pod::default();
    p.metadata.namespace = Some(ns.into());
    p.metadata.name = Some(name.into());
    p.spec = Some(PodSpec {
        node_name: node.map(Into::into),
        ..Default::default()
    });
    p.metadata.owner_references = owner_uid.map(|uid| {
        vec![OwnerReference {
            uid: uid.into(),
            controller: Some(true),
            ..Default::default()
        }]
    });
    Arc::new(p)
}

fn names(cache: &Cache<Pod>, index: &str, value: &str) -> Vec<String> {
    let mut out: Vec<String> = cache
        .index_keys(index, value)
        .expect("index exists")
        .map(ToString::to_string)
        .collect();
    out.sort();
    out
}

#[test]
fn indices_follow_add_update_delete() {
    let mut cache = Cache::new(Pod::indexers());
    assert!(
        cache
            .upsert(pod("ns", "a", Some("n1"), Some("rs1")))
            .is_none()
    );
    cache.upsert(pod("ns", "b", Some("n1"), Some("rs1")));
    cache.upsert(pod("other", "c", None, None));
    assert_eq!(names(&cache, INDEX_NODE_NAME, "n1"), ["ns/a", "ns/b"]);
    assert_eq!(names(&cache, INDEX_CONTROLLER_UID, "rs1"), ["ns/a", "ns/b"]);
    assert_eq!(names(&cache, INDEX_NAMESPACE, "other"), ["other/c"]);

    // Pod a moves node and changes controller: both indexes follow, nothing stale remains.
    let old = cache.upsert(pod("ns", "a", Some("n2"), Some("rs2")));
    assert_eq!(
        old.unwrap().spec.as_ref().unwrap().node_name.as_deref(),
        Some("n1")
    );
    assert_eq!(names(&cache, INDEX_NODE_NAME, "n1"), ["ns/b"]);
    assert_eq!(names(&cache, INDEX_NODE_NAME, "n2"), ["ns/a"]);
    assert_eq!(names(&cache, INDEX_CONTROLLER_UID, "rs1"), ["ns/b"]);
    assert_eq!(names(&cache, INDEX_CONTROLLER_UID, "rs2"), ["ns/a"]);

    assert!(cache.remove(&ObjectKey::namespaced("ns", "b")).is_some());
    assert!(cache.remove(&ObjectKey::namespaced("ns", "b")).is_none());
    assert!(names(&cache, INDEX_NODE_NAME, "n1").is_empty());
    assert!(
        !cache
            .index_values(INDEX_NODE_NAME)
            .contains(&"n1".to_string())
    );
    // Pod c has no controller: it sits under its namespace's orphan key.
    let mut values = cache.index_values(INDEX_CONTROLLER_UID);
    values.sort();
    assert_eq!(values, ["orphan/other", "rs2"]);
    assert_eq!(cache.len(), 2);
    assert!(cache.index_keys("no-such-index", "x").is_none());
}

#[test]
fn replace_reports_added_updated_and_tombstones_and_reindexes() {
    let mut cache = Cache::new(Pod::indexers());
    cache.upsert(pod("ns", "stays", Some("n1"), None));
    cache.upsert(pod("ns", "gone", Some("n1"), None));

    let mut listing = Listing::default();
    listing.push(pod("ns", "stays", Some("n2"), None));
    listing.push(pod("ns", "new", Some("n1"), None));
    let deltas = cache.replace(listing, false);

    let summary: Vec<String> = deltas
        .iter()
        .map(|d| match d {
            Delta::Added { obj, initial_list } => {
                format!(
                    "added {} {initial_list}",
                    ObjectKey::from_object(obj.as_ref())
                )
            }
            Delta::Updated { old, new } => format!(
                "updated {} {:?}->{:?}",
                ObjectKey::from_object(new.as_ref()),
                old.spec.as_ref().unwrap().node_name,
                new.spec.as_ref().unwrap().node_name
            ),
            Delta::Deleted {
                obj,
                final_state_unknown,
            } => format!(
                "deleted {} {final_state_unknown}",
                ObjectKey::from_object(obj.as_ref())
            ),
        })
        .collect();
    assert_eq!(
        summary,
        [
            r#"updated ns/stays Some("n1")->Some("n2")"#,
            "added ns/new false",
            "deleted ns/gone true",
        ]
    );
    assert_eq!(names(&cache, INDEX_NODE_NAME, "n1"), ["ns/new"]);
    assert_eq!(names(&cache, INDEX_NODE_NAME, "n2"), ["ns/stays"]);
    assert!(cache.get(&ObjectKey::namespaced("ns", "gone")).is_none());
}

#[test]
fn listing_keeps_last_state_of_a_duplicated_key_once() {
    let mut listing = Listing::default();
    listing.push(pod("ns", "a", Some("n1"), None));
    listing.push(pod("ns", "a", Some("n2"), None));
    let mut cache = Cache::new(Pod::indexers());
    let deltas = cache.replace(listing, true);
    assert_eq!(deltas.len(), 1);
    assert_eq!(names(&cache, INDEX_NODE_NAME, "n2"), ["ns/a"]);
    assert!(matches!(
        &deltas[0],
        Delta::Added {
            initial_list: true,
            ..
        }
    ));
}
