use super::*;

#[test]
fn newer_resource_versions_win() {
    let with_rv = |rv: &str| Pod {
        metadata: kube::api::ObjectMeta {
            resource_version: Some(rv.into()),
            ..Default::default()
        },
        ..Pod::default()
    };
    assert!(not_older(&with_rv("11"), &with_rv("9")));
    assert!(!not_older(&with_rv("9"), &with_rv("11")));
    assert!(not_older(&with_rv("x"), &with_rv("11")));
}
