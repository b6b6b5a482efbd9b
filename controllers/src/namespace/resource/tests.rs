use super::*;

#[test]
fn gvrs_print_as_go_prints_them() {
    assert_eq!(
        GroupVersionResource::pods().to_string(),
        "/v1, Resource=pods"
    );
    assert_eq!(
        GroupVersionResource::new("apps", "v1", "deployments").to_string(),
        "apps/v1, Resource=deployments"
    );
}

#[test]
fn the_core_group_keeps_its_trailing_dot() {
    assert_eq!(
        GroupVersionResource::new("", "v1", "configmaps").group_resource(),
        "configmaps."
    );
    assert_eq!(
        GroupVersionResource::new("example.com", "v1", "widgets").group_resource(),
        "widgets.example.com"
    );
}

#[test]
fn collection_paths_follow_the_group() {
    assert_eq!(
        GroupVersionResource::pods().collection_path("t"),
        "/api/v1/namespaces/t/pods"
    );
    assert_eq!(
        GroupVersionResource::new("apps", "v1", "deployments").collection_path("t"),
        "/apis/apps/v1/namespaces/t/deployments"
    );
}

#[test]
fn only_core_v1_pods_are_pods() {
    assert!(GroupVersionResource::pods().is_pods());
    assert!(!GroupVersionResource::new("metrics.k8s.io", "v1beta1", "pods").is_pods());
    assert!(!GroupVersionResource::new("", "v2", "pods").is_pods());
}

#[test]
fn verbs_are_read_from_discovery_names() {
    let verbs = Verbs::from_names(["get", "list", "delete", "watch"]);
    assert_eq!(
        verbs,
        Verbs {
            delete: true,
            delete_collection: false,
            list: true
        }
    );
    assert!(Verbs::from_names(["deletecollection"]).delete_collection);
}
