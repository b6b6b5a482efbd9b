//! Handler tests: objects in, enqueued keys out; listers come from detached informers.

use super::*;
use crate::deployment::testing::*;
use k8s_openapi::{
    api::core::v1::Pod,
    apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference},
};
use kcm_shared::informer::Informer;
use kube::runtime::watcher::Event;
use std::time::Duration;

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

fn labelled_rs(name: &str, owner: Option<OwnerReference>) -> ReplicaSet {
    let mut r = rs(name, 0, 1, 0);
    r.metadata.labels = Some(map(&[("name", "test")]));
    r.metadata.owner_references = owner.map(|o| vec![o]);
    r.metadata.resource_version = Some("1".into());
    r
}

struct Fixture {
    handlers: EventHandlers,
    queue: Arc<WorkQueue<ObjectKey>>,
}

fn fixture(deployments: Vec<Deployment>, rss: Vec<ReplicaSet>) -> Fixture {
    let d_informer = Informer::<Deployment>::detached(Duration::ZERO);
    for d in deployments {
        d_informer.process_event(Event::Apply(d));
    }
    let rs_informer = Informer::<ReplicaSet>::detached(Duration::ZERO);
    for r in rss {
        rs_informer.process_event(Event::Apply(r));
    }
    let queue = WorkQueue::builder().build();
    Fixture {
        handlers: EventHandlers::new(d_informer.lister(), rs_informer.lister(), queue.clone()),
        queue,
    }
}

async fn queued(queue: &WorkQueue<ObjectKey>) -> Vec<String> {
    let mut keys = Vec::new();
    while !queue.is_empty() {
        let Some(key) = queue.get().await else {
            break;
        };
        queue.done(&key);
        keys.push(key.to_string());
    }
    keys.sort();
    keys
}

fn other_deployment() -> Deployment {
    let mut d = deployment(1, int(1), int(0));
    d.metadata.name = Some("other".into());
    d.metadata.uid = Some("other-uid".into());
    if let Some(s) = d.spec.as_mut() {
        s.selector = LabelSelector {
            match_labels: Some(map(&[("name", "else")])),
            match_expressions: None,
        }
    }
    d
}

#[tokio::test]
async fn owned_replica_set_wakes_its_owner_only() {
    let f = fixture(
        vec![deployment(1, int(1), int(0)), other_deployment()],
        vec![],
    );
    let owned = Arc::new(labelled_rs(
        "r",
        Some(controller_ref("Deployment", "d", "d-uid")),
    ));
    f.handlers.on_replica_set(&Delta::Added {
        obj: owned.clone(),
        initial_list: false,
    });
    assert_eq!(queued(&f.queue).await, ["ns/d"]);
    // A stale UID resolves to nothing.
    let stale = Arc::new(labelled_rs(
        "r",
        Some(controller_ref("Deployment", "d", "old-uid")),
    ));
    f.handlers.on_replica_set(&Delta::Deleted {
        obj: stale,
        final_state_unknown: false,
    });
    assert!(queued(&f.queue).await.is_empty());
    f.handlers.on_replica_set(&Delta::Deleted {
        obj: owned,
        final_state_unknown: false,
    });
    assert_eq!(queued(&f.queue).await, ["ns/d"]);
}

#[tokio::test]
async fn orphan_wakes_matching_deployments() {
    let f = fixture(
        vec![deployment(1, int(1), int(0)), other_deployment()],
        vec![],
    );
    let orphan = Arc::new(labelled_rs("r", None));
    f.handlers.on_replica_set(&Delta::Added {
        obj: orphan.clone(),
        initial_list: false,
    });
    assert_eq!(queued(&f.queue).await, ["ns/d"]);
    // Deleting an orphan wakes nobody.
    f.handlers.on_replica_set(&Delta::Deleted {
        obj: orphan.clone(),
        final_state_unknown: false,
    });
    assert!(queued(&f.queue).await.is_empty());
    // An update with the same resourceVersion is a resync: ignored.
    f.handlers.on_replica_set(&Delta::Updated {
        old: orphan.clone(),
        new: orphan.clone(),
    });
    assert!(queued(&f.queue).await.is_empty());
    // Labels changed: the matching Deployments look again.
    let mut relabelled = (*orphan).clone();
    relabelled.metadata.resource_version = Some("2".into());
    relabelled.metadata.labels = Some(map(&[("name", "else")]));
    f.handlers.on_replica_set(&Delta::Updated {
        old: orphan,
        new: Arc::new(relabelled),
    });
    assert_eq!(queued(&f.queue).await, ["ns/other"]);
}

#[tokio::test]
async fn released_replica_set_wakes_the_old_owner() {
    let f = fixture(vec![deployment(1, int(1), int(0))], vec![]);
    let owned = Arc::new(labelled_rs(
        "r",
        Some(controller_ref("Deployment", "d", "d-uid")),
    ));
    let mut released = labelled_rs("r", None);
    released.metadata.resource_version = Some("2".into());
    released.metadata.labels = Some(map(&[("name", "nothing")]));
    f.handlers.on_replica_set(&Delta::Updated {
        old: owned,
        new: Arc::new(released),
    });
    assert_eq!(queued(&f.queue).await, ["ns/d"]);
}

fn deleted_pod_of(rs_name: &str) -> Delta<CachedPod> {
    let pod = Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("p".into()),
            uid: Some("p-uid".into()),
            owner_references: Some(vec![controller_ref(
                "ReplicaSet",
                rs_name,
                &format!("{rs_name}-uid"),
            )]),
            ..Default::default()
        },
        ..Default::default()
    };
    let cached = CachedPod::from_pod(&pod).unwrap_or_default();
    Delta::Deleted {
        obj: Arc::new(cached),
        final_state_unknown: false,
    }
}

#[tokio::test]
async fn pod_deletion_wakes_only_recreate_deployments() {
    let owned = labelled_rs("r", Some(controller_ref("Deployment", "d", "d-uid")));
    let f = fixture(vec![recreate(1)], vec![owned.clone()]);
    f.handlers.on_pod(&deleted_pod_of("r"));
    assert_eq!(queued(&f.queue).await, ["ns/d"]);
    f.handlers.on_pod(&deleted_pod_of("unknown"));
    assert!(queued(&f.queue).await.is_empty());
    let f = fixture(vec![deployment(1, int(1), int(0))], vec![owned]);
    f.handlers.on_pod(&deleted_pod_of("r"));
    assert!(queued(&f.queue).await.is_empty());
}
