use super::*;

#[test]
fn a_replaced_version_is_stale_until_the_service_goes() {
    let tracker = StaleTracker::new();
    let key = ObjectKey::namespaced("t", "s");
    assert!(!tracker.is_stale(&key, "5"));
    tracker.replaced(&key, "5");
    assert!(tracker.is_stale(&key, "5"));
    assert!(!tracker.is_stale(&key, "6"), "the cache caught up");
    assert!(!tracker.is_stale(&ObjectKey::namespaced("t", "other"), "5"));
    tracker.delete(&key);
    assert!(!tracker.is_stale(&key, "5"));
}
