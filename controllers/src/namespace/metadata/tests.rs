use super::*;

#[test]
fn requests_ask_for_metadata_only_and_background_propagation() {
    let gvr = GroupVersionResource::new("apps", "v1", "deployments");
    let request = build(
        Request::new(gvr.collection_path("t"))
            .delete_collection(&DeleteParams::background(), &ListParams::default()),
        METADATA_LIST,
    )
    .expect("a request");
    assert_eq!(request.method(), http::Method::DELETE);
    assert_eq!(
        request.uri().path(),
        "/apis/apps/v1/namespaces/t/deployments"
    );
    assert_eq!(request.uri().query().unwrap_or_default(), "");
    assert_eq!(request.headers()[http::header::ACCEPT], METADATA_LIST);
    let body: serde_json::Value = serde_json::from_slice(request.body()).expect("a JSON body");
    assert_eq!(body["propagationPolicy"], "Background");
}

#[test]
fn a_partial_metadata_list_parses_into_names_and_finalizers() {
    let list: List<Item> = serde_json::from_value(serde_json::json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": { "resourceVersion": "7" },
        "items": [
            { "metadata": { "name": "a", "finalizers": ["custom.io/finalizer"],
              "managedFields": [] } },
            { "metadata": { "name": "b" } },
        ],
    }))
    .expect("a metadata list");
    let items: Vec<ItemMeta> = list.items.into_iter().map(|i| i.metadata).collect();
    assert_eq!(
        items,
        [
            ItemMeta {
                name: "a".into(),
                finalizers: vec!["custom.io/finalizer".into()]
            },
            ItemMeta {
                name: "b".into(),
                finalizers: vec![]
            },
        ]
    );
}

#[test]
fn an_empty_metadata_list_has_null_items() {
    // What the apiserver answers for an empty PartialObjectMetadataList.
    let text = r#"{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"265"},"items":null}"#;
    let list: List<Item> = serde_json::from_str(text).expect("null items parse");
    assert!(list.items.is_empty());
    let bare: List<Item> = serde_json::from_str("{}").expect("absent items parse");
    assert!(bare.items.is_empty());
    let item: Item =
        serde_json::from_str(r#"{"metadata":{"name":"a","finalizers":null}}"#).expect("item");
    assert!(item.metadata.finalizers.is_empty());
}
