use super::*;
use k8s_openapi::api::core::v1::Pod;

fn pod(rv: Option<&str>) -> Arc<Pod> {
    let mut p = Pod::default();
    p.metadata.namespace = Some("ns".into());
    p.metadata.name = Some("p".into());
    p.metadata.resource_version = rv.map(Into::into);
    Arc::new(p)
}

#[test]
fn same_resource_version_only_for_updates_with_equal_known_versions() {
    let same = Delta::Updated {
        old: pod(Some("1")),
        new: pod(Some("1")),
    };
    assert!(same.is_same_resource_version());
    let changed = Delta::Updated {
        old: pod(Some("1")),
        new: pod(Some("2")),
    };
    assert!(!changed.is_same_resource_version());
    let unknown = Delta::Updated {
        old: pod(None),
        new: pod(None),
    };
    assert!(!unknown.is_same_resource_version());
    let added = Delta::Added {
        obj: pod(Some("1")),
        initial_list: false,
    };
    assert!(!added.is_same_resource_version());
    assert_eq!(added.key().to_string(), "ns/p");
}
