//! Harness of the Deployment integration tests: start kcm-rs or the upstream
//! kube-controller-manager with `deployment-controller` and `replicaset-controller`, build
//! Deployments, wait for them, watch every status they go through, and read back a [`View`]
//! both managers can be compared in.
//!
//! The one deliberate difference between the two is the value of `pod-template-hash` (kcm-rs
//! hashes the template its own way; upstream hashes Go's struct dump): [`Hashes`] replaces each
//! value, wherever it appears (labels, ReplicaSet names, condition and event messages), by a
//! label given in ReplicaSet creation order, and normalises nothing else.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Debug,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{Event, Pod},
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::{Value, json};
use testenv::{
    Check, FakeKubelet, KcmRs, TestEnv, TestNamespace, UpstreamKcm, nodes::create_ready_node,
    wait::wait_until,
};
use tokio::task::JoinHandle;

/// How long a scenario waits for the controllers to converge (2 shared cores: be generous).
pub const TIMEOUT: Duration = Duration::from_secs(120);
pub const CONTROLLERS: [&str; 2] = ["deployment-controller", "replicaset-controller"];
/// The label the Deployment controller puts on its ReplicaSets and their pods.
pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// Template annotation that keeps the stand-in kubelet from ever marking a pod Ready.
pub const NEVER_READY: &str = "kcm-virtual-node.io/never-ready";
/// The selector (and template labels) of every Deployment the tests create.
pub const SELECTOR: &[(&str, &str)] = &[("name", "test")];

/// Which controller manager runs a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    KcmRs,
    Upstream,
}

impl Manager {
    fn name(self) -> &'static str {
        match self {
            Manager::KcmRs => "kcm-rs",
            Manager::Upstream => "upstream",
        }
    }
}

/// The managers to run: both, unless `KCM_DEPLOY_MANAGERS` names a subset (`upstream`,
/// `kcm-rs`), which is for debugging one side only and skips the comparison.
fn managers() -> Vec<Manager> {
    let wanted = std::env::var("KCM_DEPLOY_MANAGERS").unwrap_or_default();
    let all = [Manager::KcmRs, Manager::Upstream];
    if wanted.trim().is_empty() {
        return all.to_vec();
    }
    all.into_iter()
        .filter(|m| wanted.split(',').any(|w| w.trim() == m.name()))
        .collect()
}

/// A running controller manager; stopped on drop.
pub enum Running {
    Ours(KcmRs),
    Upstream(UpstreamKcm),
}

impl Running {
    fn log_tail(&self) -> String {
        match self {
            Running::Ours(k) => k.process().log_tail(80),
            Running::Upstream(u) => u.process().log_tail(80),
        }
    }
}

pub async fn start(env: &TestEnv, manager: Manager, extra: &[&str]) -> anyhow::Result<Running> {
    match manager {
        Manager::Upstream => Ok(Running::Upstream(
            UpstreamKcm::start_with_args(env, &CONTROLLERS, extra).await?,
        )),
        Manager::KcmRs => {
            ensure_implemented()?;
            let controllers = format!("--controllers={}", CONTROLLERS.join(","));
            let mut args = vec![controllers.as_str()];
            args.extend(extra);
            let mut kcm = KcmRs::start(env, &args)?;
            for controller in CONTROLLERS {
                kcm.process_mut()
                    .wait_for_log(&format!("Caches are synced for {controller}"), TIMEOUT)
                    .await
                    .with_context(|| format!("kcm-rs did not start {controller}"))?;
            }
            Ok(Running::Ours(kcm))
        }
    }
}

/// Fails at once (instead of after a start-up timeout) when kcm-rs does not implement the
/// controllers, as `kcm-rs --list-implemented-controllers` says.
fn ensure_implemented() -> anyhow::Result<()> {
    let binary = testenv::kcm_rs_binary()?;
    let output = std::process::Command::new(&binary)
        .arg("--list-implemented-controllers")
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let listed = String::from_utf8_lossy(&output.stdout);
    for controller in CONTROLLERS {
        anyhow::ensure!(
            listed.lines().any(|l| l.trim() == controller),
            "kcm-rs does not implement {controller} (kcm-rs --list-implemented-controllers: {listed:?})"
        );
    }
    Ok(())
}

/// Runs `scenario` with kcm-rs and then with upstream (each in a fresh namespace, with its own
/// controller manager), asserts that both outcomes are equal and returns kcm-rs's (`None` when
/// there is no test environment).
pub async fn both<T, F, Fut>(
    prefix: &str,
    extra_args: &[&str],
    scenario: F,
) -> anyhow::Result<Option<T>>
where
    T: PartialEq + Debug,
    F: Fn(TestNamespace, Manager) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let Some(env) = TestEnv::get().await else {
        return Ok(None);
    };
    let _controllers = env.controller_lock().await;
    let mut outcomes = Vec::new();
    for manager in managers() {
        let ns = env.namespace(prefix).await?;
        let running = start(env, manager, extra_args).await?;
        let started = std::time::Instant::now();
        let outcome = scenario(ns.clone(), manager).await;
        eprintln!(
            "scenario {prefix} with {manager:?} took {:?}",
            started.elapsed()
        );
        // Objects left behind would be managed by the next test's controllers.
        clean_up(&ns).await?;
        let outcome = outcome.with_context(|| {
            format!(
                "scenario {prefix} with {manager:?} in {}; controller log:\n{}",
                ns.name(),
                running.log_tail()
            )
        })?;
        drop(running);
        outcomes.push(outcome);
    }
    if let [ours, upstream] = &outcomes[..]
        && ours != upstream
    {
        panic!(
            "{prefix}: kcm-rs and upstream differ\n{}",
            line_diff(&format!("{ours:#?}"), &format!("{upstream:#?}"))
        );
    }
    Ok(outcomes.into_iter().next())
}

/// The lines of two pretty-printed outcomes that differ, with their line numbers (the
/// outcomes have the same shape, so a line-by-line comparison points at the field).
fn line_diff(ours: &str, upstream: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), upstream.lines().collect());
    let mut out = Vec::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        if x != y {
            out.push(format!(
                "line {i}:\n  kcm-rs:   {}\n  upstream: {}",
                x.unwrap_or("(none)").trim(),
                y.unwrap_or("(none)").trim()
            ));
        }
        if out.len() >= 30 {
            out.push("...".into());
            break;
        }
    }
    format!("{}\nkcm-rs's whole outcome:\n{ours}", out.join("\n"))
}

async fn clean_up(ns: &TestNamespace) -> anyhow::Result<()> {
    let dp = DeleteParams::default();
    let lp = ListParams::default();
    ns.api::<Deployment>().delete_collection(&dp, &lp).await?;
    ns.api::<ReplicaSet>().delete_collection(&dp, &lp).await?;
    let force = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    ns.api::<Pod>().delete_collection(&force, &lp).await?;
    Ok(())
}

/// Runs, binds and finishes the pods of the namespace on one fresh node, until dropped:
/// pods become Ready unless their template says [`NEVER_READY`].
pub async fn kubelet(ns: &TestNamespace) -> anyhow::Result<FakeKubelet> {
    let node = format!("{}-node", ns.name());
    create_ready_node(ns.client(), &node).await?;
    Ok(FakeKubelet::start(
        ns.client().clone(),
        ns.name(),
        vec![node],
    ))
}

pub use testenv::workloads::{deployment, labels};

/// A Deployment `d` of `replicas` selecting [`SELECTOR`] with image `image`.
pub fn build(name: &str, replicas: i32, image: &str) -> Deployment {
    deployment(name, replicas, SELECTOR, &[], image)
}

/// The same Deployment with `strategy` (a JSON `spec.strategy`) and further spec fields merged in.
pub fn with_spec(mut d: Deployment, spec: Value) -> anyhow::Result<Deployment> {
    let mut value = serde_json::to_value(&d)?;
    json_merge(&mut value["spec"], spec);
    d = serde_json::from_value(value)?;
    Ok(d)
}

fn json_merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                json_merge(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

pub async fn create(ns: &TestNamespace, d: &Deployment) -> anyhow::Result<Deployment> {
    Ok(ns
        .api::<Deployment>()
        .create(&Default::default(), d)
        .await?)
}

/// A merge patch of the Deployment.
pub async fn patch(ns: &TestNamespace, name: &str, patch: Value) -> anyhow::Result<Deployment> {
    Ok(ns
        .api::<Deployment>()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// `kubectl set image deployment/<name> main=<image>`, optionally never Ready on the stand-in
/// kubelet (the annotation is part of the template, so it is part of the revision).
pub async fn set_image(
    ns: &TestNamespace,
    name: &str,
    image: &str,
    never_ready: bool,
) -> anyhow::Result<Deployment> {
    let annotation = never_ready.then_some("true");
    patch(
        ns,
        name,
        json!({ "spec": { "template": {
            "metadata": { "annotations": { NEVER_READY: annotation } },
            "spec": { "containers": [ { "name": "main", "image": image } ] } } } }),
    )
    .await
}

/// Waits until the Deployment's status is for its latest generation and satisfies `condition`.
pub async fn wait_deployment(
    ns: &TestNamespace,
    name: &str,
    what: &str,
    condition: impl Fn(&Deployment) -> bool,
) -> anyhow::Result<Deployment> {
    let api: Api<Deployment> = ns.api();
    Ok(
        testenv::wait_for_object(&api, name, TIMEOUT, what, |d| observed(d) && condition(d))
            .await?,
    )
}

/// Whether the status was computed for the latest generation.
pub fn observed(d: &Deployment) -> bool {
    let status = d.status.as_ref();
    status.and_then(|s| s.observed_generation).unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

pub fn spec_replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `kubectl rollout status` done: every replica updated and available, no old replica left;
/// and (so that the state compared is a settled one) no pod still terminating.
pub fn complete(d: &Deployment) -> bool {
    let want = spec_replicas(d);
    let s = d.status.clone().unwrap_or_default();
    observed(d)
        && s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
        && s.terminating_replicas.unwrap_or(0) == 0
}

pub async fn wait_complete(ns: &TestNamespace, name: &str) -> anyhow::Result<Deployment> {
    wait_deployment(ns, name, "the rollout to complete", complete).await
}

pub fn condition<'a>(
    d: &'a Deployment,
    type_: &str,
) -> Option<&'a k8s_openapi::api::apps::v1::DeploymentCondition> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The reason of the Deployment's condition `type_`, if it has one.
pub fn reason(d: &Deployment, type_: &str) -> Option<String> {
    condition(d, type_).and_then(|c| c.reason.clone())
}

pub async fn replica_sets(ns: &TestNamespace) -> anyhow::Result<Vec<ReplicaSet>> {
    Ok(ns
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .await?
        .items)
}

pub async fn pods(ns: &TestNamespace) -> anyhow::Result<Vec<Pod>> {
    let mut pods = ns.api::<Pod>().list(&ListParams::default()).await?.items;
    pods.sort_by_key(|p| p.name_any());
    Ok(pods)
}

/// Waits until the namespace's ReplicaSets satisfy `condition`; returns them.
pub async fn wait_replica_sets(
    ns: &TestNamespace,
    what: &str,
    condition: impl Fn(&[ReplicaSet]) -> bool,
) -> anyhow::Result<Vec<ReplicaSet>> {
    Ok(wait_until(TIMEOUT, what, || async {
        match replica_sets(ns).await {
            Ok(list) if condition(&list) => Check::Done(list),
            Ok(list) => Check::NotYet(
                list.iter()
                    .map(testenv::wait::describe)
                    .collect::<Vec<_>>()
                    .join("---\n"),
            ),
            Err(e) => Check::NotYet(format!("listing replica sets failed: {e}")),
        }
    })
    .await?)
}

/// Waits until the namespace's pods satisfy `condition`; returns them.
pub async fn wait_pods(
    ns: &TestNamespace,
    what: &str,
    condition: impl Fn(&[Pod]) -> bool,
) -> anyhow::Result<Vec<Pod>> {
    Ok(wait_until(TIMEOUT, what, || async {
        match pods(ns).await {
            Ok(pods) if condition(&pods) => Check::Done(pods),
            Ok(pods) => Check::NotYet(format!(
                "{} pods: {:?}",
                pods.len(),
                pods.iter().map(|p| p.name_any()).collect::<Vec<_>>()
            )),
            Err(e) => Check::NotYet(format!("listing pods failed: {e}")),
        }
    })
    .await?)
}

/// The controller owner reference of an object, if any.
pub fn controller_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// A ReplicaSet's `pod-template-hash` label.
pub fn hash_of(rs: &ReplicaSet) -> Option<&str> {
    rs.metadata
        .labels
        .as_ref()?
        .get(HASH_LABEL)
        .map(String::as_str)
}

pub fn image_of(rs: &ReplicaSet) -> String {
    rs.spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

pub fn rs_spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn annotation(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<String> {
    meta.annotations.as_ref()?.get(key).cloned()
}

/// The one normalisation of a comparison: each `pod-template-hash` value becomes `H<n>`, `n`
/// counting ReplicaSets in creation order (then first revision, image and name for ties).
#[derive(Debug, Default)]
pub struct Hashes {
    by_value: Vec<(String, String)>,
}

impl Hashes {
    pub fn of(replica_sets: &[ReplicaSet]) -> Self {
        let first_revision = |rs: &ReplicaSet| {
            let meta = &rs.metadata;
            annotation(meta, "deployment.kubernetes.io/revision-history")
                .and_then(|h| h.split(',').next().map(str::to_owned))
                .or_else(|| annotation(meta, REVISION))
                .and_then(|r| r.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let mut ordered: Vec<&ReplicaSet> = replica_sets
            .iter()
            .filter(|rs| hash_of(rs).is_some())
            .collect();
        ordered.sort_by_key(|rs| {
            (
                rs.metadata.creation_timestamp.clone().map(|t| t.0),
                first_revision(rs),
                image_of(rs),
                rs.name_any(),
            )
        });
        let mut by_value: Vec<(String, String)> = Vec::new();
        for rs in ordered {
            let value = hash_of(rs).unwrap_or_default().to_owned();
            if !by_value.iter().any(|(v, _)| *v == value) {
                let label = format!("H{}", by_value.len() + 1);
                by_value.push((value, label));
            }
        }
        Self { by_value }
    }

    /// The label of a hash value (unknown values are kept, so a difference shows).
    pub fn label(&self, value: &str) -> String {
        self.by_value
            .iter()
            .find(|(v, _)| v == value)
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| value.to_owned())
    }

    /// `text` with every `-<hash>` (as in `d-<hash>`, `d-<hash>-xxxxx`) made `-<label>`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, label) in &self.by_value {
            out = out.replace(&format!("-{value}"), &format!("-{label}"));
        }
        out
    }
}

/// Status counts of a Deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub unavailable: i32,
    pub terminating: Option<i32>,
    pub collisions: Option<i32>,
}

pub fn counts(d: &Deployment) -> Counts {
    let s = d.status.clone().unwrap_or_default();
    Counts {
        replicas: s.replicas.unwrap_or(0),
        updated: s.updated_replicas.unwrap_or(0),
        ready: s.ready_replicas.unwrap_or(0),
        available: s.available_replicas.unwrap_or(0),
        unavailable: s.unavailable_replicas.unwrap_or(0),
        terminating: s.terminating_replicas,
        collisions: s.collision_count,
    }
}

/// `(replicas, updated, ready, available, unavailable)`.
pub fn five(d: &Deployment) -> (i32, i32, i32, i32, i32) {
    let c = counts(d);
    (c.replicas, c.updated, c.ready, c.available, c.unavailable)
}

/// A condition as compared: type, status, reason, message (hash-normalised).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cond {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// A ReplicaSet as compared.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RsView {
    /// `H<n>` (see [`Hashes`]).
    pub hash: String,
    /// The name, hash-normalised (`d-H1`).
    pub name: String,
    /// Name of the controlling owner and whether it blocks owner deletion.
    pub controller: Option<(String, String, bool)>,
    pub owner_refs: usize,
    /// Every annotation (revision, revision-history, desired-replicas, max-replicas, copies).
    pub annotations: BTreeMap<String, String>,
    pub spec_replicas: i32,
    pub min_ready_seconds: i32,
    pub status: (i32, i32, i32),
    pub image: String,
    /// Labels, selector and template labels carry the same hash, and the name is `<owner>-<hash>`.
    pub hash_consistent: bool,
    pub conditions: Vec<Cond>,
}

/// Everything about one Deployment and its namespace that both managers must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub generation_observed: bool,
    pub annotations: BTreeMap<String, String>,
    pub counts: Counts,
    pub conditions: Vec<Cond>,
    pub replica_sets: Vec<RsView>,
    /// Events about the Deployment: type, reason, message (hash-normalised), once each.
    pub events: BTreeSet<(String, String, String)>,
}

impl View {
    /// The view of the ReplicaSet labelled `hash` (`H1`, ...).
    pub fn rs(&self, hash: &str) -> &RsView {
        self.replica_sets
            .iter()
            .find(|r| r.hash == hash)
            .unwrap_or_else(|| panic!("no replica set {hash} in {self:#?}"))
    }

    /// `(image, spec.replicas)` of every ReplicaSet, by image.
    pub fn by_image(&self) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = self
            .replica_sets
            .iter()
            .map(|r| (r.image.clone(), r.spec_replicas))
            .collect();
        out.sort();
        out
    }

    /// The view of the ReplicaSet running `image`.
    pub fn rs_of(&self, image: &str) -> &RsView {
        self.replica_sets
            .iter()
            .find(|r| r.image == image)
            .unwrap_or_else(|| panic!("no replica set of {image} in {self:#?}"))
    }

    /// `(hash label, spec.replicas)` of every ReplicaSet.
    pub fn sizes(&self) -> Vec<(String, i32)> {
        self.replica_sets
            .iter()
            .map(|r| (r.hash.clone(), r.spec_replicas))
            .collect()
    }

    pub fn condition(&self, type_: &str) -> Option<&Cond> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Messages of the events with `reason`.
    pub fn messages(&self, reason: &str) -> BTreeSet<String> {
        self.events
            .iter()
            .filter(|(_, r, _)| r == reason)
            .map(|(_, _, m)| m.clone())
            .collect()
    }
}

fn rs_view(rs: &ReplicaSet, hashes: &Hashes) -> RsView {
    let meta = &rs.metadata;
    let hash = hash_of(rs).unwrap_or_default().to_owned();
    let spec = rs.spec.clone().unwrap_or_default();
    let selector_hash = spec
        .selector
        .match_labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL).cloned());
    let template_hash = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref())
        .and_then(|l| l.get(HASH_LABEL).cloned());
    let controller = controller_of(meta);
    let owner = controller.map(|c| c.name.clone()).unwrap_or_default();
    let status = rs.status.clone().unwrap_or_default();
    RsView {
        hash: hashes.label(&hash),
        name: hashes.apply(&rs.name_any()),
        controller: controller.map(|c| {
            (
                c.kind.clone(),
                c.name.clone(),
                c.block_owner_deletion == Some(true),
            )
        }),
        owner_refs: meta.owner_references.as_ref().map_or(0, Vec::len),
        annotations: meta.annotations.clone().unwrap_or_default(),
        spec_replicas: spec.replicas.unwrap_or(1),
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        status: (
            status.replicas,
            status.ready_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
        ),
        image: image_of(rs),
        hash_consistent: !hash.is_empty()
            && selector_hash.as_deref() == Some(hash.as_str())
            && template_hash.as_deref() == Some(hash.as_str())
            && (owner.is_empty() || rs.name_any().ends_with(&format!("-{hash}")))
            && hash.chars().all(|c| "456789bcdf".contains(c))
            && hash.len() <= 10,
        conditions: status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .map(|c| Cond {
                type_: c.type_,
                status: c.status,
                reason: c.reason.unwrap_or_default(),
                message: hashes.apply(&c.message.unwrap_or_default()),
            })
            .collect(),
    }
}

/// The [`View`] of Deployment `name` and every ReplicaSet of the namespace, right now.
pub async fn view(ns: &TestNamespace, name: &str) -> anyhow::Result<View> {
    view_knowing(ns, name, &[]).await
}

/// Like [`view`], naming also the hashes of `gone` (ReplicaSets seen earlier and deleted since,
/// which events still mention), e.g. from an [`Observer`].
pub async fn view_knowing(
    ns: &TestNamespace,
    name: &str,
    gone: &[ReplicaSet],
) -> anyhow::Result<View> {
    let d = ns.api::<Deployment>().get(name).await?;
    let list = replica_sets(ns).await?;
    let mut known: BTreeMap<String, ReplicaSet> = BTreeMap::new();
    for rs in gone.iter().chain(&list) {
        known.insert(rs.uid().unwrap_or_default(), rs.clone());
    }
    let known: Vec<ReplicaSet> = known.into_values().collect();
    let hashes = Hashes::of(&known);
    let mut replica_sets: Vec<RsView> = list.iter().map(|rs| rs_view(rs, &hashes)).collect();
    replica_sets.sort();
    let mut conditions: Vec<Cond> = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| Cond {
            type_: c.type_,
            status: c.status,
            reason: c.reason.unwrap_or_default(),
            message: hashes.apply(&c.message.unwrap_or_default()),
        })
        .collect();
    conditions.sort();
    let events = events_about(ns, "Deployment", name)
        .await?
        .into_iter()
        .map(|e| (e.type_, e.reason, hashes.apply(&e.message)))
        .collect();
    Ok(View {
        generation_observed: observed(&d),
        annotations: d.metadata.annotations.clone().unwrap_or_default(),
        counts: counts(&d),
        conditions,
        replica_sets,
        events,
    })
}

/// One event as read back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeenEvent {
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub component: String,
}

pub async fn events_about(
    ns: &TestNamespace,
    kind: &str,
    name: &str,
) -> anyhow::Result<Vec<SeenEvent>> {
    let events = ns.api::<Event>().list(&ListParams::default()).await?.items;
    let mut seen: Vec<SeenEvent> = events
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(name)
                && e.involved_object.kind.as_deref() == Some(kind)
        })
        .map(|e| SeenEvent {
            type_: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            component: e.source.and_then(|s| s.component).unwrap_or_default(),
        })
        .collect();
    seen.sort();
    Ok(seen)
}

/// Waits until an event about Deployment `name` with `reason` (and a message containing
/// `needle`) exists; returns it.
pub async fn wait_event(
    ns: &TestNamespace,
    name: &str,
    reason: &str,
    needle: &str,
) -> anyhow::Result<SeenEvent> {
    let what = format!("a {reason} event about {name} saying {needle:?}");
    Ok(wait_until(TIMEOUT, &what, || async {
        match events_about(ns, "Deployment", name).await {
            Ok(events) => match events
                .iter()
                .find(|e| e.reason == reason && e.message.contains(needle))
            {
                Some(e) => Check::Done(e.clone()),
                None => Check::NotYet(format!("{events:#?}")),
            },
            Err(e) => Check::NotYet(format!("listing events failed: {e}")),
        }
    })
    .await?)
}

/// Every version of the watched objects a watch delivers (in the apiserver's order), from its
/// start until dropped.
pub struct Observer<K> {
    seen: Arc<Mutex<Vec<K>>>,
    task: JoinHandle<()>,
}

impl Observer<Deployment> {
    /// Watches Deployment `name`.
    pub async fn deployment(ns: &TestNamespace, name: &str) -> anyhow::Result<Self> {
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        Self::start(ns.api(), config).await
    }

    /// The successive distinct Progressing reasons seen.
    pub fn progressing_reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in self.seen() {
            if let Some(r) = reason(&d, "Progressing")
                && out.last() != Some(&r)
            {
                out.push(r);
            }
        }
        out
    }
}

impl Observer<ReplicaSet> {
    /// Watches every ReplicaSet of the namespace.
    pub async fn replica_sets(ns: &TestNamespace) -> anyhow::Result<Self> {
        Self::start(ns.api(), watcher::Config::default()).await
    }

    /// Σ `spec.replicas` of the ReplicaSets after each change seen (the upstream e2e check of
    /// max surge, `checkRollingUpdateStatus`, sums the ReplicaSets' spec too), with the sizes
    /// (`name=spec.replicas`, resourceVersion) at that point.
    pub fn spec_sums(&self) -> Vec<(i32, String)> {
        let mut latest: BTreeMap<String, i32> = BTreeMap::new();
        self.seen()
            .iter()
            .map(|rs| {
                latest.insert(rs.name_any(), rs_spec_replicas(rs));
                let sizes: Vec<String> = latest.iter().map(|(n, r)| format!("{n}={r}")).collect();
                let rv = rs.resource_version().unwrap_or_default();
                (
                    latest.values().sum(),
                    format!("{} at rv {rv}", sizes.join(" ")),
                )
            })
            .collect()
    }
}

impl<K> Observer<K>
where
    K: kube::Resource + Clone + Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    /// Starts watching and returns once the watch has listed the current state.
    async fn start(api: Api<K>, config: watcher::Config) -> anyhow::Result<Self> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                let mut synced = Some(synced_tx);
                let mut events = watcher(api, config).default_backoff().boxed();
                while let Some(event) = events.next().await {
                    match event {
                        Ok(watcher::Event::InitDone) => {
                            if let Some(tx) = synced.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                            if let Ok(mut seen) = seen.lock() {
                                seen.push(o);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::debug!("observer: {e}"),
                    }
                }
            }
        });
        synced_rx.await.context("the watch ended")?;
        Ok(Self { seen, task })
    }

    /// Every version seen so far, in order.
    pub fn seen(&self) -> Vec<K> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl<K> Drop for Observer<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Ensures `condition` on the namespace's ReplicaSets keeps holding for `period`.
pub async fn replica_sets_stay(
    ns: &TestNamespace,
    period: Duration,
    what: &str,
    condition: impl Fn(&[ReplicaSet]) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + period;
    while tokio::time::Instant::now() < deadline {
        let list = replica_sets(ns).await?;
        anyhow::ensure!(
            condition(&list),
            "{what} stopped holding: {:?}",
            list.iter()
                .map(|rs| (rs.name_any(), rs_spec_replicas(rs)))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
