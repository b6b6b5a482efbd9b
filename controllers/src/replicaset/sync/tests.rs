//! Sync tests: cached objects in, API calls, events, expectations and status out. The API is
//! a scripted [`FakeControl`], the caches are detached informers.

use super::*;
use crate::replicaset::{
    kind::{ReplicaCondition, ReplicaKind},
    status::{FAILED_CREATE as REASON_FAILED_CREATE, REPLICA_FAILURE},
};
use crate::toolkit::{
    ApiFailure,
    claim::{adopt_patch, release_patch},
};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::{
    api::{
        apps::v1::{ReplicaSet, ReplicaSetSpec},
        core::v1::{
            PodCondition, PodSpec, PodStatus, PodTemplateSpec, ReplicationController,
            ReplicationControllerSpec,
        },
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time},
};
use kcm_shared::informer::Informer;
use kube::runtime::watcher::Event;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A cache key from its string form.
fn k(key: &str) -> ObjectKey {
    ObjectKey::parse(key).expect("valid key")
}

#[derive(Clone, Debug, PartialEq)]
enum Call {
    Create(Box<Pod>),
    Delete(String),
    Patch(String, Value),
    GetOwner,
    UpdateStatus(ReplicaStatus),
}

/// Scripted API answers; records every call and event.
struct FakeControl<K> {
    calls: Mutex<Vec<Call>>,
    events: Mutex<Vec<(EventType, String, String)>>,
    fresh_owner: Mutex<Option<K>>,
    create_error: Mutex<Option<ApiFailure>>,
    delete_errors: Mutex<HashMap<String, ApiFailure>>,
    failing_status_writes: Mutex<usize>,
    created: Mutex<usize>,
    /// The resourceVersion the next successful write gets.
    next_resource_version: Mutex<u64>,
}

impl<K> FakeControl<K> {
    fn new(fresh_owner: Option<K>) -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
            fresh_owner: Mutex::new(fresh_owner),
            create_error: Mutex::new(None),
            delete_errors: Mutex::new(HashMap::new()),
            failing_status_writes: Mutex::new(0),
            created: Mutex::new(0),
            next_resource_version: Mutex::new(100),
        }
    }
}

impl<K> FakeControl<K> {
    fn resource_version(&self) -> String {
        let mut next = self.next_resource_version.lock();
        *next += 1;
        next.to_string()
    }
}

impl<K: ReplicaKind> ReplicaControl<K> for FakeControl<K> {
    async fn create_pod(&self, _namespace: &str, pod: &Pod) -> Result<Pod, ApiFailure> {
        self.calls.lock().push(Call::Create(Box::new(pod.clone())));
        if let Some(error) = self.create_error.lock().clone() {
            return Err(error);
        }
        let mut created = pod.clone();
        let mut n = self.created.lock();
        *n += 1;
        created.metadata.name = Some(format!(
            "{}{n}",
            pod.metadata.generate_name.clone().unwrap_or_default()
        ));
        created.metadata.resource_version = Some(self.resource_version());
        Ok(created)
    }

    async fn delete_pod(&self, _namespace: &str, name: &str) -> Result<(), ApiFailure> {
        self.calls.lock().push(Call::Delete(name.into()));
        self.delete_errors
            .lock()
            .get(name)
            .cloned()
            .map_or(Ok(()), Err)
    }

    async fn patch_pod(
        &self,
        _namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), ApiFailure> {
        self.calls
            .lock()
            .push(Call::Patch(name.into(), patch.clone()));
        Ok(())
    }

    async fn get_owner(&self, _namespace: &str, _name: &str) -> Result<K, ApiFailure> {
        self.calls.lock().push(Call::GetOwner);
        self.fresh_owner
            .lock()
            .clone()
            .ok_or_else(|| ApiFailure::new(FailureKind::NotFound, "not found"))
    }

    async fn update_status(&self, owner: &K) -> Result<K, ApiFailure> {
        self.calls
            .lock()
            .push(Call::UpdateStatus(owner.replica_status()));
        let mut failing = self.failing_status_writes.lock();
        if *failing > 0 {
            *failing -= 1;
            return Err(ApiFailure::new(FailureKind::Other, "conflict"));
        }
        let mut written = owner.clone();
        written.meta_mut().resource_version = Some(self.resource_version());
        Ok(written)
    }

    fn event(&self, _owner: &K, type_: EventType, reason: &str, message: String) {
        self.events.lock().push((type_, reason.into(), message));
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap()
}

fn app_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), "web".to_string())])
}

fn template() -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(app_labels()),
            ..Default::default()
        }),
        spec: Some(PodSpec::default()),
    }
}

fn replica_set(replicas: i32) -> ReplicaSet {
    ReplicaSet {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("web".into()),
            uid: Some("rs-uid".into()),
            generation: Some(2),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(app_labels()),
                match_expressions: None,
            },
            template: Some(template()),
            min_ready_seconds: None,
        }),
        status: None,
    }
}

fn rs_ref() -> OwnerReference {
    new_controller_ref(&replica_set(1)).unwrap()
}

fn pod(name: &str, owner: Option<OwnerReference>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            labels: Some(app_labels()),
            owner_references: owner.map(|o| vec![o]),
            creation_timestamp: Some(Time(now() - SignedDuration::from_secs(600))),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-a".into()),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        }),
    }
}

fn owned(name: &str) -> Pod {
    pod(name, Some(rs_ref()))
}

fn ready_since(mut p: Pod, secs_ago: i64) -> Pod {
    p.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
        type_: "Ready".into(),
        status: "True".into(),
        last_transition_time: Some(Time(now() - SignedDuration::from_secs(secs_ago))),
        ..Default::default()
    }]);
    p
}

struct Fixture<K: ReplicaKind> {
    owners: Informer<K>,
    pods: Informer<CachedPod>,
    syncer: Syncer<K, FakeControl<K>>,
}

impl<K: ReplicaKind> Fixture<K> {
    fn new(owners: Vec<K>, pods: Vec<Pod>) -> Self {
        let owner_informer = Informer::<K>::detached(Duration::ZERO);
        let fresh = owners.first().cloned();
        for owner in owners {
            owner_informer.process_event(Event::Apply(owner));
        }
        let pod_informer = Informer::<CachedPod>::detached(Duration::ZERO);
        for p in pods {
            pod_informer.process_event(Event::Apply(CachedPod::from_pod(&p).expect("decodes")));
        }
        let syncer = Syncer {
            owners: owner_informer.lister(),
            pods: pod_informer.lister(),
            expectations: Arc::new(UidTrackingExpectations::new()),
            control: FakeControl::new(fresh),
            burst_replicas: super::super::manage::BURST_REPLICAS,
            gates: RankingGates::default(),
            report_terminating: K::REPORTS_TERMINATING,
            clock: Clock::from_fn(now),
            consistency: None,
        };
        Self {
            owners: owner_informer,
            pods: pod_informer,
            syncer,
        }
    }

    async fn sync(&self, key: &str) -> Result<Action, SyncError> {
        self.syncer.sync(&k(key)).await
    }

    fn calls(&self) -> Vec<Call> {
        self.syncer.control.calls.lock().clone()
    }

    fn created(&self) -> Vec<Pod> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Create(p) => Some(*p),
                _ => None,
            })
            .collect()
    }

    fn deleted(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Delete(n) => Some(n),
                _ => None,
            })
            .collect();
        names.sort();
        names
    }

    fn written_status(&self) -> Option<ReplicaStatus> {
        self.calls().into_iter().rev().find_map(|c| match c {
            Call::UpdateStatus(s) => Some(s),
            _ => None,
        })
    }

    fn event_reasons(&self) -> Vec<String> {
        self.syncer
            .control
            .events
            .lock()
            .iter()
            .map(|(_, reason, _)| reason.clone())
            .collect()
    }

    fn pending(&self, key: &str) -> Option<(i64, i64)> {
        self.syncer
            .expectations
            .get_expectations(&k(key))
            .map(|e| (e.add, e.del))
    }
}

mod scenarios;

#[tokio::test]
async fn a_replica_set_waits_until_its_caches_show_its_own_writes() {
    // Three replicas: the orphan is adopted, two pods are created.
    let mut rs = replica_set(3);
    rs.metadata.resource_version = Some("50".into());
    let mut f = Fixture::<ReplicaSet>::new(vec![rs.clone()], vec![]);
    f.syncer.consistency = Some(Arc::new(
        ConsistencyStore::new()
            .reading(GroupResource::PODS, f.pods.lister())
            .reading(GroupResource::REPLICA_SETS, f.owners.lister()),
    ));
    f.pods.process_event(Event::Apply(
        CachedPod::from_pod(&pod("unrelated", None))
            .map(|mut p| {
                p.resource_version = "40".into();
                p
            })
            .expect("decodes"),
    ));
    assert_eq!(f.sync("ns/web").await.expect("first sync"), Action::Done);
    let created = f.created();
    assert_eq!(created.len(), 2);
    let calls = f.calls().len();

    // Woken again before the informers delivered anything: no API call at all.
    let err = f.sync("ns/web").await.expect_err("the pod cache is behind");
    assert!(err.to_string().contains("for group resource pods"), "{err}");
    assert_eq!(f.calls().len(), calls);

    for (i, mut p) in created.into_iter().enumerate() {
        p.metadata.name = Some(format!("web-{i}"));
        p.metadata.namespace = Some("ns".into());
        p.metadata.resource_version = Some((101 + i).to_string());
        f.pods
            .process_event(Event::Apply(CachedPod::from_pod(&p).expect("decodes")));
    }
    let err = f
        .sync("ns/web")
        .await
        .expect_err("the ReplicaSet cache is behind");
    assert!(
        err.to_string()
            .contains("written version: 103 for group resource replicasets.apps"),
        "{err}"
    );

    rs.metadata.resource_version = Some("103".into());
    f.owners.process_event(Event::Apply(rs));
    assert_eq!(f.sync("ns/web").await.expect("caught up"), Action::Done);
    assert!(
        f.calls().len() > calls,
        "the caught-up sync writes the status"
    );
}

#[tokio::test]
async fn a_deleted_replica_set_forgets_its_writes() {
    let mut f = Fixture::<ReplicaSet>::new(vec![replica_set(1)], vec![]);
    let store = Arc::new(ConsistencyStore::new().reading(GroupResource::PODS, f.pods.lister()));
    f.syncer.consistency = Some(Arc::clone(&store));
    f.pods.process_event(Event::Apply(
        CachedPod::from_pod(&owned("old"))
            .map(|mut p| {
                p.resource_version = "10".into();
                p
            })
            .expect("decodes"),
    ));
    store.wrote_at(&k("ns/gone"), "uid", GroupResource::PODS, Some("999"));
    assert!(
        f.sync("ns/gone").await.is_err(),
        "still waiting for its pod"
    );
    store.clear(&k("ns/gone"), Some("uid"));
    assert_eq!(f.sync("ns/gone").await.expect("gone"), Action::Done);
    assert_eq!(store.pending(), 0);
}
