//! Harness of the Deployment integration tests: start kcm-rs or the upstream
//! kube-controller-manager with `deployment-controller` and `replicaset-controller`, run a
//! scenario with each and compare, build Deployments and wait for them. What is compared is in
//! [`crate::view`]; what is watched step by step, in [`crate::observer`].
//!
//! The one deliberate difference between the two is the value of `pod-template-hash` (kcm-rs
//! hashes the template its own way; upstream hashes Go's struct dump): [`Hashes`] replaces each
//! value, wherever it appears (labels, ReplicaSet names, condition and event messages), by a
//! label given in ReplicaSet creation order, and normalises nothing else.

use std::{fmt::Debug, future::Future, time::Duration};

use anyhow::Context;
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::Pod,
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
};
use serde_json::{Value, json};
use testenv::{
    Check, FakeKubelet, KcmRs, TestEnv, TestNamespace, UpstreamKcm, nodes::create_ready_node,
    wait::wait_until,
};

pub use crate::{observer::Observer, view::*};

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
    testenv::wait::wait_namespace_pods(ns, TIMEOUT, what, condition).await
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
