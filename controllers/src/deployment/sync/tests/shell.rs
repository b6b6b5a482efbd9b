//! The sync shell against a scripted API: caches from detached informers, every write recorded
//! and answered by the fake.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use k8s_openapi::{
    api::apps::v1::{Deployment, ReplicaSet},
    apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference},
};
use kcm_shared::{
    cached_pod::CachedPod,
    events::EventType,
    informer::{Informer, ObjectKey},
    workqueue::WorkQueue,
};
use kube::runtime::watcher::Event;
use parking_lot::Mutex;
use serde_json::Value;

use crate::{
    deployment::{
        annotations, conditions, control::DeploymentControl, hash, sync::Syncer, testing::*,
    },
    runtime::{Action, Reconcile},
    toolkit::{ApiFailure, Clock, FailureKind},
};

#[derive(Debug, Clone, PartialEq)]
enum Call {
    CreateRs(ReplicaSet),
    UpdateRs(ReplicaSet),
    DeleteRs(String),
    PatchRs(String, Value),
    UpdateDeployment(Deployment),
    UpdateStatus(Deployment),
    Event(EventType, String, String),
}

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<Call>>,
    /// Names whose creation fails with AlreadyExists.
    taken: Vec<String>,
    /// Every creation fails with this, if set.
    create_fails: Option<FailureKind>,
}

impl Fake {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }
    fn push(&self, call: Call) {
        self.calls.lock().push(call);
    }
}

fn bump<T: kube::Resource>(mut obj: T) -> T {
    let rv = obj
        .meta()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    obj.meta_mut().resource_version = Some((rv + 1).to_string());
    obj
}

impl DeploymentControl for Arc<Fake> {
    async fn create_replica_set(
        &self,
        _ns: &str,
        rs: &ReplicaSet,
    ) -> Result<ReplicaSet, ApiFailure> {
        self.push(Call::CreateRs(rs.clone()));
        let name = rs.metadata.name.clone().unwrap_or_default();
        if let Some(kind) = self.create_fails {
            return Err(ApiFailure::new(kind, "admission webhook said no"));
        }
        if self.taken.contains(&name) {
            return Err(ApiFailure::new(
                FailureKind::AlreadyExists,
                "already exists",
            ));
        }
        let mut created = bump(rs.clone());
        created.metadata.uid = Some(format!("{name}-uid"));
        Ok(created)
    }
    async fn update_replica_set(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiFailure> {
        self.push(Call::UpdateRs(rs.clone()));
        Ok(bump(rs.clone()))
    }
    async fn delete_replica_set(&self, _ns: &str, name: &str) -> Result<(), ApiFailure> {
        self.push(Call::DeleteRs(name.into()));
        Ok(())
    }
    async fn patch_replica_set(
        &self,
        _ns: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), ApiFailure> {
        self.push(Call::PatchRs(name.into(), patch.clone()));
        Ok(())
    }
    async fn get_deployment(&self, _ns: &str, _name: &str) -> Result<Deployment, ApiFailure> {
        Ok(deployment(1, int(1), int(0)))
    }
    async fn update_deployment(&self, d: &Deployment) -> Result<Deployment, ApiFailure> {
        self.push(Call::UpdateDeployment(d.clone()));
        Ok(bump(d.clone()))
    }
    async fn update_deployment_status(&self, d: &Deployment) -> Result<Deployment, ApiFailure> {
        self.push(Call::UpdateStatus(d.clone()));
        Ok(bump(d.clone()))
    }
    fn event(&self, _d: &Deployment, type_: EventType, reason: &str, message: String) {
        self.push(Call::Event(type_, reason.into(), message));
    }
}

struct Setup {
    syncer: Syncer<Arc<Fake>>,
    fake: Arc<Fake>,
    _informers: (
        Informer<Deployment>,
        Informer<ReplicaSet>,
        Informer<CachedPod>,
    ),
}

fn setup(d: Deployment, rss: Vec<ReplicaSet>, taken: Vec<String>) -> Setup {
    setup_with(
        d,
        rss,
        Vec::new(),
        Fake {
            taken,
            ..Default::default()
        },
    )
}

fn setup_with(d: Deployment, rss: Vec<ReplicaSet>, pod_list: Vec<CachedPod>, fake: Fake) -> Setup {
    let deployments = Informer::<Deployment>::detached(Duration::ZERO);
    deployments.process_event(Event::Apply(d));
    let replica_sets = Informer::<ReplicaSet>::detached(Duration::ZERO);
    for rs in rss {
        replica_sets.process_event(Event::Apply(rs));
    }
    let pods = Informer::<CachedPod>::detached(Duration::ZERO);
    for pod in pod_list {
        pods.process_event(Event::Apply(pod));
    }
    let fake = Arc::new(fake);
    let syncer = Syncer {
        deployments: deployments.lister(),
        replica_sets: replica_sets.lister(),
        pods: pods.lister(),
        control: fake.clone(),
        queue: WorkQueue::builder().build(),
        report_terminating: true,
        clock: Clock::from_fn(|| at(100)),
    };
    Setup {
        syncer,
        fake,
        _informers: (deployments, replica_sets, pods),
    }
}

fn key() -> ObjectKey {
    ObjectKey::namespaced("ns", "d")
}

fn owned_by_d(mut rs: ReplicaSet, template_image: &str, hash_value: &str) -> ReplicaSet {
    let mut t = template(template_image);
    let labels = BTreeMap::from([
        ("name".to_string(), "test".to_string()),
        (
            hash::POD_TEMPLATE_HASH_LABEL.to_string(),
            hash_value.to_string(),
        ),
    ]);
    if let Some(m) = t.metadata.as_mut() {
        m.labels = Some(labels.clone());
    }
    rs.metadata.labels = Some(labels.clone());
    rs.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "d".into(),
        uid: "d-uid".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    if let Some(s) = rs.spec.as_mut() {
        s.template = Some(t);
        s.selector = LabelSelector {
            match_labels: Some(labels),
            match_expressions: None,
        };
    }
    rs
}

#[tokio::test]
async fn a_new_deployment_gets_its_replica_set() {
    let mut d = deployment(3, pct("25%"), pct("25%"));
    d.metadata.annotations = Some(map(&[("team", "a"), (annotations::LAST_APPLIED, "{}")]));
    let s = setup(d, vec![], vec![]);
    assert_eq!(s.syncer.sync(&key()).await.ok(), Some(Action::Done));
    let calls = s.fake.calls();
    let Some(Call::CreateRs(created)) = calls.first() else {
        panic!("first call should create the replica set: {calls:?}");
    };
    let h = created
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(hash::POD_TEMPLATE_HASH_LABEL))
        .cloned()
        .unwrap_or_default();
    assert!(
        !h.is_empty() && h.chars().all(|c| "456789bcdf".contains(c)),
        "{h}"
    );
    assert_eq!(
        created.metadata.name.as_deref(),
        Some(format!("d-{h}").as_str())
    );
    let spec = created.spec.clone().unwrap_or_default();
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(
        spec.selector
            .match_labels
            .unwrap_or_default()
            .get(hash::POD_TEMPLATE_HASH_LABEL),
        Some(&h)
    );
    let owner = &created
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.uid.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("Deployment", "d-uid", Some(true), Some(true))
    );
    assert_eq!(
        created.metadata.annotations.clone().unwrap_or_default(),
        map(&[
            (annotations::REVISION, "1"),
            (annotations::DESIRED_REPLICAS, "3"),
            (annotations::MAX_REPLICAS, "4"),
            ("team", "a"),
        ])
    );
    assert!(calls.contains(&Call::Event(
        EventType::Normal,
        "ScalingReplicaSet".into(),
        format!("Scaled up replica set d-{h} from 0 to 3"),
    )));
    let statuses: Vec<&Deployment> = calls
        .iter()
        .filter_map(|c| match c {
            Call::UpdateStatus(d) => Some(d),
            _ => None,
        })
        .collect();
    let first = statuses.first().copied().cloned().unwrap_or_default();
    assert_eq!(
        first
            .metadata
            .annotations
            .unwrap_or_default()
            .get(annotations::REVISION)
            .map(String::as_str),
        Some("1")
    );
    let progressing = first
        .status
        .as_ref()
        .and_then(|st| conditions::get(st, conditions::PROGRESSING).cloned())
        .unwrap_or_default();
    assert_eq!(
        progressing.reason.as_deref(),
        Some(conditions::NEW_REPLICA_SET)
    );
    // Every status write of one sync carries the resourceVersion of the one before.
    let versions: Vec<_> = statuses
        .iter()
        .map(|d| d.metadata.resource_version.clone())
        .collect();
    let mut unique = versions.clone();
    unique.dedup();
    assert_eq!(versions, unique);
}

#[tokio::test]
async fn a_replica_set_with_another_hash_but_the_same_template_is_reused() {
    let mut d = deployment(2, int(1), int(0));
    d.metadata.annotations = Some(map(&[(annotations::REVISION, "1")]));
    let existing = with_scale_annotations(
        with_revision(
            owned_by_d(rs("d-upstreamhash", 0, 2, 2), "a", "upstreamhash"),
            1,
        ),
        2,
        3,
    );
    let s = setup(d, vec![existing], vec![]);
    assert_eq!(s.syncer.sync(&key()).await.ok(), Some(Action::Done));
    let calls = s.fake.calls();
    assert!(
        !calls
            .iter()
            .any(|c| matches!(c, Call::CreateRs(_) | Call::UpdateRs(_))),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_taken_name_with_another_template_bumps_the_collision_count() {
    let d = deployment(1, int(1), int(0));
    let h = hash::compute_hash(&template("a"), None);
    // The ReplicaSet with our name has another template.
    let other = owned_by_d(rs(&format!("d-{h}"), 0, 1, 1), "other", &h);
    let s = setup(d, vec![other], vec![format!("d-{h}")]);
    let result = s.syncer.sync(&key()).await;
    assert!(result.is_err(), "{result:?}");
    let calls = s.fake.calls();
    let bumped = calls.iter().find_map(|c| match c {
        Call::UpdateStatus(d) => d.status.as_ref().and_then(|s| s.collision_count),
        _ => None,
    });
    assert_eq!(bumped, Some(1));
}

#[tokio::test]
async fn a_rollback_takes_the_old_template_and_clears_the_request() {
    let mut d = deployment(1, int(1), int(0));
    if let Some(spec) = d.spec.as_mut() {
        spec.template = template("b");
    }
    d.metadata.annotations = Some(map(&[
        (annotations::REVISION, "2"),
        (annotations::ROLLBACK_TO, "1"),
    ]));
    let r1 = with_revision(owned_by_d(rs("d-1", 0, 0, 0), "a", "h1"), 1);
    let r2 = with_scale_annotations(
        with_revision(owned_by_d(rs("d-2", 1, 1, 1), "b", "h2"), 2),
        1,
        2,
    );
    let s = setup(d, vec![r1, r2], vec![]);
    assert_eq!(s.syncer.sync(&key()).await.ok(), Some(Action::Done));
    let calls = s.fake.calls();
    let updated = calls.iter().find_map(|c| match c {
        Call::UpdateDeployment(d) => Some(d.clone()),
        _ => None,
    });
    let updated = updated.unwrap_or_default();
    assert!(annotations::rollback_to(&updated).is_none());
    let t = updated.spec.map(|s| s.template).unwrap_or_default();
    assert!(hash::equal_ignore_hash(&t, &template("a")));
    assert!(
        !t.metadata
            .and_then(|m| m.labels)
            .unwrap_or_default()
            .contains_key(hash::POD_TEMPLATE_HASH_LABEL)
    );
    assert!(calls.contains(&Call::Event(
        EventType::Normal,
        "DeploymentRollback".into(),
        "Rolled back deployment \"d\" to revision 1".into(),
    )));
}

#[tokio::test]
async fn an_orphan_with_matching_labels_is_adopted_and_a_mismatch_released() {
    let d = deployment(1, int(1), int(0));
    let mut orphan = owned_by_d(rs("orphan", 0, 0, 0), "z", "h");
    orphan.metadata.owner_references = None;
    let mut stale = owned_by_d(rs("stale", 0, 0, 0), "y", "h");
    stale.metadata.labels = Some(map(&[("name", "elsewhere")]));
    let s = setup(d, vec![orphan, stale], vec![]);
    let _ = s.syncer.sync(&key()).await;
    let patched: Vec<String> = s
        .fake
        .calls()
        .iter()
        .filter_map(|c| match c {
            Call::PatchRs(name, _) => Some(name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(patched.len(), 2, "{patched:?}");
    assert!(patched.contains(&"orphan".to_string()) && patched.contains(&"stale".to_string()));
}

#[tokio::test]
async fn history_beyond_the_limit_is_deleted_once_complete() {
    let mut d = deployment(1, int(1), int(0));
    if let Some(spec) = d.spec.as_mut() {
        spec.revision_history_limit = Some(1);
    }
    d.metadata.annotations = Some(map(&[(annotations::REVISION, "3")]));
    d.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
        replicas: Some(1),
        updated_replicas: Some(1),
        available_replicas: Some(1),
        ready_replicas: Some(1),
        observed_generation: Some(1),
        ..Default::default()
    });
    let r1 = with_revision(owned_by_d(rs("d-1", 0, 0, 0), "x1", "h1"), 1);
    let r2 = with_revision(owned_by_d(rs("d-2", 1, 0, 0), "x2", "h2"), 2);
    let r3 = with_scale_annotations(
        with_revision(owned_by_d(rs("d-3", 2, 1, 1), "a", "h3"), 3),
        1,
        2,
    );
    let s = setup(d, vec![r1, r2, r3], vec![]);
    let _ = s.syncer.sync(&key()).await;
    let deleted: Vec<Call> = s
        .fake
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::DeleteRs(_)))
        .collect();
    assert_eq!(deleted, [Call::DeleteRs("d-1".into())]);
}

fn scalings(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Event(_, reason, message) if reason == "ScalingReplicaSet" => {
                Some(message.clone())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_rolling_step_scales_old_down_to_min_available() {
    // Scenario 6, second sync: old 10 (all available), new 3 (none ready), surge 3 / unavailable 2.
    let mut d = deployment(10, int(3), int(2));
    if let Some(spec) = d.spec.as_mut() {
        spec.template = template("b");
    }
    d.metadata.annotations = Some(map(&[(annotations::REVISION, "2")]));
    let old = with_scale_annotations(
        with_revision(owned_by_d(rs("d-old", 0, 10, 10), "a", "h1"), 1),
        10,
        13,
    );
    let new = with_scale_annotations(
        with_revision(owned_by_d(rs("d-new", 5, 3, 0), "b", "h2"), 2),
        10,
        13,
    );
    let s = setup(d, vec![old, new], vec![]);
    let _ = s.syncer.sync(&key()).await;
    let calls = s.fake.calls();
    assert_eq!(
        scalings(&calls),
        ["Scaled down replica set d-old from 10 to 8"]
    );
    let resized: Vec<(String, i32)> = calls
        .iter()
        .filter_map(|c| match c {
            Call::UpdateRs(rs) => Some((
                rs.metadata.name.clone().unwrap_or_default(),
                rs.spec
                    .as_ref()
                    .and_then(|s| s.replicas)
                    .unwrap_or_default(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(resized, [("d-old".to_string(), 8)]);
}

fn running_pod_of(rs_name: &str, phase: &str) -> CachedPod {
    let pod = k8s_openapi::api::core::v1::Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(format!("{rs_name}-pod")),
            uid: Some(format!("{rs_name}-pod-uid")),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: rs_name.into(),
                uid: format!("{rs_name}-uid"),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        status: Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    CachedPod::from_pod(&pod).unwrap_or_default()
}

fn recreate_d() -> Deployment {
    let mut d = recreate(3);
    if let Some(spec) = d.spec.as_mut() {
        spec.template = template("b");
    }
    d.metadata.annotations = Some(map(&[(annotations::REVISION, "1")]));
    d
}

#[tokio::test]
async fn recreate_scales_old_to_zero_first_and_creates_nothing() {
    let old = with_scale_annotations(
        with_revision(owned_by_d(rs("d-old", 0, 3, 3), "a", "h1"), 1),
        3,
        3,
    );
    let s = setup(recreate_d(), vec![old], vec![]);
    let _ = s.syncer.sync(&key()).await;
    let calls = s.fake.calls();
    assert_eq!(
        scalings(&calls),
        ["Scaled down replica set d-old from 3 to 0"]
    );
    assert!(
        !calls.iter().any(|c| matches!(c, Call::CreateRs(_))),
        "{calls:?}"
    );
}

#[tokio::test]
async fn recreate_scales_old_replica_sets_down_oldest_first() {
    // Names sort against the creation order, and the cache gets them newest first.
    let old = |name: &str, created: i64, revision: i64| {
        with_scale_annotations(
            with_revision(owned_by_d(rs(name, created, 1, 1), name, "h"), revision),
            3,
            3,
        )
    };
    let rss = vec![old("d-a", 10, 3), old("d-b", 5, 2), old("d-c", 0, 1)];
    let s = setup(recreate_d(), rss, vec![]);
    let _ = s.syncer.sync(&key()).await;
    assert_eq!(
        scalings(&s.fake.calls()),
        [
            "Scaled down replica set d-c from 1 to 0",
            "Scaled down replica set d-b from 1 to 0",
            "Scaled down replica set d-a from 1 to 0",
        ]
    );
}

#[tokio::test]
async fn recreate_waits_for_old_pods_but_not_for_terminal_ones() {
    let mut old = with_scale_annotations(
        with_revision(owned_by_d(rs("d-old", 0, 0, 0), "a", "h1"), 1),
        3,
        3,
    );
    if let Some(st) = old.status.as_mut() {
        st.replicas = 0;
    }
    // A running (e.g. terminating) old pod holds the new ReplicaSet back.
    let s = setup_with(
        recreate_d(),
        vec![old.clone()],
        vec![running_pod_of("d-old", "Running")],
        Fake::default(),
    );
    let _ = s.syncer.sync(&key()).await;
    assert!(
        !s.fake
            .calls()
            .iter()
            .any(|c| matches!(c, Call::CreateRs(_)))
    );
    // Only a failed pod left: the new ReplicaSet is created at full size.
    let s = setup_with(
        recreate_d(),
        vec![old],
        vec![running_pod_of("d-old", "Failed")],
        Fake::default(),
    );
    let _ = s.syncer.sync(&key()).await;
    let calls = s.fake.calls();
    let created = calls.iter().find_map(|c| match c {
        Call::CreateRs(rs) => rs.spec.as_ref().and_then(|s| s.replicas),
        _ => None,
    });
    assert_eq!(created, Some(3));
}

#[tokio::test]
async fn a_failed_creation_reports_replica_set_create_error() {
    let fake = Fake {
        create_fails: Some(FailureKind::Forbidden),
        ..Default::default()
    };
    let s = setup_with(deployment(1, int(1), int(0)), vec![], vec![], fake);
    assert!(s.syncer.sync(&key()).await.is_err());
    let calls = s.fake.calls();
    let h = hash::compute_hash(&template("a"), None);
    let message = format!("Failed to create new replica set \"d-{h}\": admission webhook said no");
    assert!(
        calls.contains(&Call::Event(
            EventType::Warning,
            "ReplicaSetCreateError".into(),
            message.clone()
        )),
        "{calls:?}"
    );
    let progressing = calls.iter().find_map(|c| match c {
        Call::UpdateStatus(d) => d
            .status
            .as_ref()
            .and_then(|st| conditions::get(st, conditions::PROGRESSING).cloned()),
        _ => None,
    });
    let progressing = progressing.unwrap_or_default();
    assert_eq!(
        (
            progressing.status.as_str(),
            progressing.reason.as_deref(),
            progressing.message.as_deref()
        ),
        (
            "False",
            Some(conditions::FAILED_RS_CREATE),
            Some(message.as_str())
        )
    );
}
