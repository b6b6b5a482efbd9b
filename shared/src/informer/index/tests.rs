use super::*;
use k8s_openapi::api::core::v1::{Node, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

fn owner(uid: &str, controller: Option<bool>) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: format!("rs-{uid}"),
        uid: uid.into(),
        controller,
        ..Default::default()
    }
}

#[test]
fn namespace_index_skips_cluster_scoped() {
    let mut pod = Pod::default();
    pod.metadata.namespace = Some("ns".into());
    assert_eq!(namespace_index(&pod), vec!["ns".to_string()]);
    assert!(namespace_index(&Node::default()).is_empty());
}

#[test]
fn controller_uid_index_takes_only_the_controller_reference() {
    let mut pod = Pod::default();
    pod.metadata.owner_references = Some(vec![
        owner("not-controller", None),
        owner("also-not", Some(false)),
        owner("the-controller", Some(true)),
    ]);
    assert_eq!(
        controller_uid_index(&pod),
        vec!["the-controller".to_string()]
    );
    pod.metadata.owner_references = Some(vec![owner("x", Some(false))]);
    assert!(
        controller_uid_index(&pod).is_empty(),
        "cluster-scoped orphans are not indexed"
    );
    pod.metadata.namespace = Some("ns".into());
    assert_eq!(controller_uid_index(&pod), vec![orphan_index_key("ns")]);
    pod.metadata.owner_references = None;
    assert_eq!(controller_uid_index(&pod), vec!["orphan/ns".to_string()]);
}

#[test]
fn node_name_index_ignores_unbound_pods() {
    let mut pod = Pod::default();
    assert!(pod_node_name_index(&pod).is_empty());
    pod.spec = Some(PodSpec {
        node_name: Some(String::new()),
        ..Default::default()
    });
    assert!(pod_node_name_index(&pod).is_empty());
    pod.spec.as_mut().unwrap().node_name = Some("node-a".into());
    assert_eq!(pod_node_name_index(&pod), vec!["node-a".to_string()]);
}
