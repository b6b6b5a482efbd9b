//! The store against scripted cache versions (upstream `consistency_test.go`'s cases).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kcm_shared::informer::ObjectKey;

use super::{ConsistencyStore, GroupResource, StaleCache};

fn key(name: &str) -> ObjectKey {
    ObjectKey::namespaced("ns", name)
}

/// A store over two caches whose read versions the test moves (0 = nothing read).
fn store() -> (ConsistencyStore, Arc<AtomicU64>, Arc<AtomicU64>) {
    let pods = Arc::new(AtomicU64::new(100));
    let sets = Arc::new(AtomicU64::new(100));
    let (p, s) = (Arc::clone(&pods), Arc::clone(&sets));
    let store = ConsistencyStore::new()
        .reading_from(GroupResource::PODS, move || {
            Some(p.load(Ordering::SeqCst)).filter(|&v| v > 0)
        })
        .reading_from(GroupResource::REPLICA_SETS, move || {
            Some(s.load(Ordering::SeqCst)).filter(|&v| v > 0)
        });
    (store, pods, sets)
}

#[test]
fn an_owner_without_writes_is_ready() {
    let (store, _, _) = store();
    assert_eq!(store.ensure_ready(&key("rs")), Ok(()));
}

#[test]
fn a_sync_waits_until_every_cache_has_read_the_newest_write() {
    let (store, pods, sets) = store();
    store.wrote_at(&key("rs"), "u1", GroupResource::PODS, Some("120"));
    store.wrote_at(&key("rs"), "u1", GroupResource::PODS, Some("110"));
    store.wrote_at(&key("rs"), "u1", GroupResource::REPLICA_SETS, Some("130"));
    assert_eq!(
        store.ensure_ready(&key("rs")),
        Err(StaleCache {
            resource: GroupResource::PODS,
            read: 100,
            wrote: 120
        }),
        "the newest pod write counts, and pods are checked first"
    );
    pods.store(125, Ordering::SeqCst);
    let err = store
        .ensure_ready(&key("rs"))
        .expect_err("the ReplicaSet cache lags");
    assert_eq!(err.resource, GroupResource::REPLICA_SETS);
    assert_eq!(
        err.to_string(),
        "read version: 100 is not as new as written version: 130 for group resource replicasets.apps"
    );
    sets.store(130, Ordering::SeqCst);
    assert_eq!(store.ensure_ready(&key("rs")), Ok(()));
    assert_eq!(store.pending(), 0, "a ready owner's record is dropped");
    assert_eq!(
        store.ensure_ready(&key("other")),
        Ok(()),
        "other owners never waited"
    );
}

#[test]
fn a_cache_that_has_read_nothing_or_an_unparsable_version_does_not_block() {
    let (store, pods, _) = store();
    pods.store(0, Ordering::SeqCst);
    store.wrote_at(&key("rs"), "u1", GroupResource::PODS, Some("500"));
    store.wrote_at(
        &key("rs"),
        "u1",
        GroupResource::REPLICA_SETS,
        Some("opaque"),
    );
    assert_eq!(store.ensure_ready(&key("rs")), Ok(()));
}

#[test]
fn clearing_respects_the_owner_uid_and_a_new_uid_starts_a_fresh_record() {
    let (store, _, _) = store();
    store.wrote_at(&key("rs"), "u1", GroupResource::PODS, Some("900"));
    store.clear(&key("rs"), Some("u2"));
    assert!(
        store.ensure_ready(&key("rs")).is_err(),
        "another UID clears nothing"
    );
    store.clear(&key("rs"), Some("u1"));
    assert_eq!(store.ensure_ready(&key("rs")), Ok(()));

    store.wrote_at(&key("rs"), "u1", GroupResource::PODS, Some("900"));
    store.wrote_at(&key("rs"), "u2", GroupResource::REPLICA_SETS, Some("101"));
    let err = store
        .ensure_ready(&key("rs"))
        .expect_err("the new owner's write");
    assert_eq!(
        (err.resource, err.wrote),
        (GroupResource::REPLICA_SETS, 101)
    );
    store.clear(&key("rs"), None);
    assert_eq!(store.pending(), 0);
}
