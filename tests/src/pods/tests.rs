use super::*;

#[test]
fn pod_ips_are_unique() {
    let a = next_pod_ip();
    let b = next_pod_ip();
    assert_ne!(a, b);
    assert!(a.starts_with("10.244."));
}
