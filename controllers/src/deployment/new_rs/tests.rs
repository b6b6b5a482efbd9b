use super::*;
use crate::deployment::testing::*;

#[test]
fn replace_in_swaps_by_uid() {
    let mut list = vec![rs("a", 0, 1, 1), rs("b", 0, 1, 1)];
    let mut updated = rs("b", 0, 5, 1);
    updated.metadata.resource_version = Some("9".into());
    replace_in(&mut list, &updated);
    assert_eq!(replicas::spec_replicas(&list[1]), 5);
    assert_eq!(replicas::spec_replicas(&list[0]), 1);
}
