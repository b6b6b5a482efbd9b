use super::*;
use k8s_openapi::api::apps::v1::ReplicaSet;

#[test]
fn controller_ref_blocks_owner_deletion() {
    let mut rs = ReplicaSet::default();
    rs.metadata.name = Some("web".into());
    rs.metadata.uid = Some("u1".into());
    let r = new_controller_ref(&rs).expect("named owner with uid");
    assert_eq!(
        (r.kind.as_str(), r.api_version.as_str()),
        ("ReplicaSet", "apps/v1")
    );
    assert_eq!(
        (r.controller, r.block_owner_deletion),
        (Some(true), Some(true))
    );
    let meta = ObjectMeta {
        owner_references: Some(vec![
            OwnerReference {
                controller: Some(false),
                ..r.clone()
            },
            r,
        ]),
        ..Default::default()
    };
    assert_eq!(controller_of(&meta).map(|r| r.uid.as_str()), Some("u1"));
}
