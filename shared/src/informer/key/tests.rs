use super::*;
use k8s_openapi::api::core::v1::{Node, Pod};

#[test]
fn display_matches_meta_namespace_key_func() {
    assert_eq!(ObjectKey::namespaced("ns", "p").to_string(), "ns/p");
    assert_eq!(ObjectKey::cluster_scoped("node-1").to_string(), "node-1");
    assert_eq!(ObjectKey::new(Some(""), "n").to_string(), "n");
}

#[test]
fn parse_round_trips_and_rejects_extra_slashes() {
    for key in ["ns/p", "node-1"] {
        assert_eq!(ObjectKey::parse(key).unwrap().to_string(), key);
    }
    assert_eq!(
        "ns/p".parse::<ObjectKey>().unwrap(),
        ObjectKey::namespaced("ns", "p")
    );
    assert_eq!(ObjectKey::parse("a/b/c"), Err(InvalidKey("a/b/c".into())));
    // client-go treats "/name" as a cluster-scoped name.
    assert_eq!(
        ObjectKey::parse("/n").unwrap(),
        ObjectKey::cluster_scoped("n")
    );
}

#[test]
fn from_object_uses_namespace_when_present() {
    let mut pod = Pod::default();
    pod.metadata.name = Some("p".into());
    pod.metadata.namespace = Some("ns".into());
    assert_eq!(ObjectKey::from_object(&pod).to_string(), "ns/p");
    let mut node = Node::default();
    node.metadata.name = Some("n1".into());
    assert_eq!(ObjectKey::from_object(&node).to_string(), "n1");
}
