//! Handler tests: objects in, enqueued keys and expectation changes out. No cluster; listers
//! come from detached informers.

use super::*;
use jiff::Timestamp;
use k8s_openapi::{
    api::{
        apps::v1::{ReplicaSet, ReplicaSetSpec},
        core::v1::{
            Pod, PodCondition, PodStatus, ReplicationController, ReplicationControllerSpec,
        },
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference, Time},
};
use kcm_shared::informer::Informer;
use kube::runtime::watcher::Event;
use std::collections::BTreeMap;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rs(ns: &str, name: &str, selector: &[(&str, &str)], min_ready: i32) -> ReplicaSet {
    ReplicaSet {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{ns}-{name}")),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels(selector)),
                match_expressions: None,
            },
            min_ready_seconds: Some(min_ready),
            ..Default::default()
        }),
        status: None,
    }
}

fn controller_ref(kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn pod(name: &str, rv: &str, pod_labels: &[(&str, &str)], owner: Option<OwnerReference>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(name.into()),
            resource_version: Some(rv.into()),
            labels: Some(labels(pod_labels)),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn ready(mut p: Pod) -> Pod {
    p.status = Some(PodStatus {
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    p
}

fn deleting(mut p: Pod) -> Pod {
    p.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
    p
}

/// A pod as the cache holds it.
fn cached(p: Pod) -> Arc<CachedPod> {
    Arc::new(CachedPod::from_pod(&p).expect("pod decodes"))
}

/// A cache key from its string form.
fn k(key: &str) -> ObjectKey {
    ObjectKey::parse(key).expect("valid key")
}

struct Fixture<K: ReplicaKind> {
    owners: Informer<K>,
    queue: Arc<WorkQueue<ObjectKey>>,
    expectations: Arc<UidTrackingExpectations>,
    handlers: EventHandlers<K>,
}

impl<K: ReplicaKind> Fixture<K> {
    fn new(objects: Vec<K>) -> Self {
        let owners = Informer::<K>::detached(Duration::ZERO);
        for obj in objects {
            owners.process_event(Event::Apply(obj));
        }
        let queue = WorkQueue::builder().build();
        let expectations = Arc::new(UidTrackingExpectations::new());
        let handlers = EventHandlers::new(owners.lister(), queue.clone(), expectations.clone());
        Self {
            owners,
            queue,
            expectations,
            handlers,
        }
    }

    /// Everything queued right now, sorted.
    async fn drain(&self) -> Vec<String> {
        let mut keys = Vec::new();
        while !self.queue.is_empty() {
            let key = self.queue.get().await.expect("queue is running");
            self.queue.done(&key);
            keys.push(key.to_string());
        }
        keys.sort();
        keys
    }

    fn add_pod(&self, p: Pod) {
        self.handlers.on_pod(&Delta::Added {
            obj: cached(p),
            initial_list: false,
        });
    }

    fn update_pod(&self, old: Pod, new: Pod) {
        self.handlers.on_pod(&Delta::Updated {
            old: cached(old),
            new: cached(new),
        });
    }

    fn delete_pod(&self, p: Pod, final_state_unknown: bool) {
        self.handlers.on_pod(&Delta::Deleted {
            obj: cached(p),
            final_state_unknown,
        });
    }

    fn pending(&self, key: &str) -> (i64, i64) {
        self.expectations
            .get_expectations(&k(key))
            .map(|e| (e.add, e.del))
            .expect("a record")
    }
}

fn web_fixture() -> Fixture<ReplicaSet> {
    Fixture::new(vec![
        rs("ns", "web", &[("app", "web")], 0),
        rs("ns", "web-too", &[("app", "web")], 0),
        rs("ns", "db", &[("app", "db")], 0),
        rs("ns", "everything", &[], 0),
        rs("other", "web", &[("app", "web")], 0),
    ])
}

fn web_ref() -> OwnerReference {
    controller_ref("ReplicaSet", "web", "uid-ns-web")
}

#[tokio::test]
async fn owner_events_enqueue_and_deletion_forgets_expectations() {
    let f = web_fixture();
    let web = Arc::new(rs("ns", "web", &[("app", "web")], 0));
    f.handlers.on_owner(&Delta::Added {
        obj: web.clone(),
        initial_list: true,
    });
    f.handlers.on_owner(&Delta::Updated {
        old: web.clone(),
        new: web.clone(),
    });
    assert_eq!(f.drain().await, vec!["ns/web"], "resyncs enqueue too");

    f.expectations.expect_creations(&k("ns/web"), 3);
    let mut recreated = rs("ns", "web", &[("app", "web")], 0);
    recreated.metadata.uid = Some("new-uid".into());
    f.handlers.on_owner(&Delta::Updated {
        old: web.clone(),
        new: Arc::new(recreated),
    });
    assert!(f.expectations.get_expectations(&k("ns/web")).is_none());
    assert_eq!(f.drain().await, vec!["ns/web"]);

    f.expectations.expect_creations(&k("ns/web"), 3);
    f.handlers.on_owner(&Delta::Deleted {
        obj: web,
        final_state_unknown: true,
    });
    assert!(f.expectations.get_expectations(&k("ns/web")).is_none());
    assert_eq!(f.drain().await, vec!["ns/web"]);
}

#[tokio::test]
async fn an_owned_new_pod_is_an_observed_creation_for_its_owner_only() {
    let f = web_fixture();
    f.expectations.expect_creations(&k("ns/web"), 2);
    f.add_pod(pod("p1", "1", &[("app", "web")], Some(web_ref())));
    assert_eq!(f.pending("ns/web"), (1, 0));
    assert_eq!(f.drain().await, vec!["ns/web"]);
}

#[tokio::test]
async fn references_to_another_kind_or_a_stale_uid_are_ignored() {
    let f = web_fixture();
    f.expectations.expect_creations(&k("ns/web"), 2);
    f.add_pod(pod(
        "p1",
        "1",
        &[("app", "web")],
        Some(controller_ref("ReplicaSet", "web", "old-uid")),
    ));
    f.add_pod(pod(
        "p2",
        "1",
        &[("app", "web")],
        Some(controller_ref("StatefulSet", "web", "uid-ns-web")),
    ));
    assert_eq!(f.pending("ns/web"), (2, 0));
    assert!(f.drain().await.is_empty());
}

#[tokio::test]
async fn an_orphan_wakes_every_selecting_owner_in_its_namespace() {
    let f = web_fixture();
    f.expectations.expect_creations(&k("ns/web"), 2);
    f.add_pod(pod("orphan", "1", &[("app", "web")], None));
    // Not "db" (no match), not "everything" (empty selector), not "other/web" (namespace).
    assert_eq!(f.drain().await, vec!["ns/web", "ns/web-too"]);
    assert_eq!(
        f.pending("ns/web"),
        (2, 0),
        "orphans are not observed creations"
    );
}

#[tokio::test]
async fn a_pod_first_seen_while_deleting_counts_as_a_deletion_once() {
    let f = web_fixture();
    f.expectations.expect_deletions(&k("ns/web"), [k("ns/p1")]);
    f.expectations
        .counts()
        .raise_expectations(&k("ns/web"), 1, 0);
    let p1 = deleting(pod("p1", "1", &[("app", "web")], Some(web_ref())));
    f.add_pod(p1.clone());
    assert_eq!(f.pending("ns/web"), (1, 0), "deletion seen, creation not");
    f.delete_pod(p1, false);
    assert_eq!(
        f.pending("ns/web"),
        (1, 0),
        "the same pod is not counted twice"
    );
    assert_eq!(f.drain().await, vec!["ns/web"]);
}

#[tokio::test]
async fn updates_with_the_same_resource_version_are_ignored() {
    let f = web_fixture();
    let p = pod("p1", "5", &[("app", "web")], Some(web_ref()));
    f.update_pod(p.clone(), p);
    assert!(f.drain().await.is_empty());
}

#[tokio::test]
async fn a_deletion_timestamp_is_observed_as_a_deletion_for_old_and_new_owners() {
    let f = web_fixture();
    f.expectations.expect_deletions(&k("ns/web"), [k("ns/p1")]);
    let old = pod("p1", "1", &[("app", "web")], Some(web_ref()));
    let new = deleting(pod("p1", "2", &[("app", "web")], Some(web_ref())));
    f.update_pod(old, new);
    assert_eq!(f.pending("ns/web"), (0, 0));
    assert_eq!(f.drain().await, vec!["ns/web"]);
}

#[tokio::test]
async fn a_changed_controller_reference_wakes_old_and_new_owner() {
    let f = web_fixture();
    let old = pod("p1", "1", &[("app", "web")], Some(web_ref()));
    let new = pod(
        "p1",
        "2",
        &[("app", "web")],
        Some(controller_ref("ReplicaSet", "web-too", "uid-ns-web-too")),
    );
    f.update_pod(old, new);
    assert_eq!(f.drain().await, vec!["ns/web", "ns/web-too"]);
}

#[tokio::test]
async fn a_released_pod_wakes_its_old_owner_and_every_matching_owner() {
    let f = web_fixture();
    let old = pod("p1", "1", &[("app", "web")], Some(web_ref()));
    let new = pod("p1", "2", &[("app", "db")], None);
    f.update_pod(old, new);
    assert_eq!(f.drain().await, vec!["ns/db", "ns/web"]);
}

#[tokio::test]
async fn orphan_updates_wake_owners_only_when_labels_change() {
    let f = web_fixture();
    let old = pod("p1", "1", &[("app", "none")], None);
    let same_labels = pod("p1", "2", &[("app", "none")], None);
    f.update_pod(old.clone(), same_labels);
    assert!(f.drain().await.is_empty());
    let relabelled = pod("p1", "3", &[("app", "db")], None);
    f.update_pod(old, relabelled);
    assert_eq!(f.drain().await, vec!["ns/db"]);
}

#[tokio::test(start_paused = true)]
async fn becoming_ready_requeues_after_min_ready_seconds_plus_one() {
    let f = Fixture::new(vec![rs("ns", "slow", &[("app", "slow")], 10)]);
    let reference = controller_ref("ReplicaSet", "slow", "uid-ns-slow");
    let old = pod("p1", "1", &[("app", "slow")], Some(reference.clone()));
    let new = ready(pod("p1", "2", &[("app", "slow")], Some(reference.clone())));
    f.update_pod(old, new.clone());
    assert_eq!(f.drain().await, vec!["ns/slow"]);
    tokio::time::sleep(Duration::from_millis(10_900)).await;
    assert!(f.drain().await.is_empty(), "not before 11 s");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.drain().await, vec!["ns/slow"]);

    // Staying ready schedules nothing more.
    let newer = ready(pod("p1", "3", &[("app", "slow")], Some(reference)));
    f.update_pod(new, newer);
    assert_eq!(f.drain().await, vec!["ns/slow"]);
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(f.drain().await.is_empty());
}

#[tokio::test]
async fn deleting_an_owned_pod_is_observed_and_orphans_are_ignored() {
    let f = web_fixture();
    f.expectations.expect_deletions(&k("ns/web"), [k("ns/p1")]);
    f.delete_pod(pod("orphan", "1", &[("app", "web")], None), false);
    assert!(f.drain().await.is_empty());
    f.delete_pod(pod("p1", "1", &[("app", "web")], Some(web_ref())), true);
    assert_eq!(f.pending("ns/web"), (0, 0));
    assert_eq!(f.drain().await, vec!["ns/web"]);
}

#[tokio::test]
async fn replication_controllers_resolve_their_own_kind_and_map_selectors() {
    let rc = ReplicationController {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("legacy".into()),
            uid: Some("rc-uid".into()),
            ..Default::default()
        },
        spec: Some(ReplicationControllerSpec {
            selector: Some(labels(&[("name", "legacy")])),
            ..Default::default()
        }),
        status: None,
    };
    let f = Fixture::new(vec![rc]);
    f.add_pod(pod("orphan", "1", &[("name", "legacy")], None));
    assert_eq!(f.drain().await, vec!["ns/legacy"]);
    f.expectations.expect_creations(&k("ns/legacy"), 1);
    // A ReplicaSet reference with the RC's name and UID is not ours.
    f.add_pod(pod(
        "p1",
        "1",
        &[("name", "legacy")],
        Some(controller_ref("ReplicaSet", "legacy", "rc-uid")),
    ));
    assert!(f.drain().await.is_empty());
    f.add_pod(pod(
        "p2",
        "1",
        &[("name", "legacy")],
        Some(controller_ref("ReplicationController", "legacy", "rc-uid")),
    ));
    assert_eq!(f.pending("ns/legacy"), (0, 0));
    assert_eq!(f.drain().await, vec!["ns/legacy"]);
    assert_eq!(f.owners.lister().list().len(), 1);
}
