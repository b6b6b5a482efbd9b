//! Harness of the ReplicaSet/RC integration tests: start kcm-rs or the upstream
//! kube-controller-manager with the two replica controllers, build owners of either kind, and
//! read back pods, statuses and events.

use std::{future::Future, process::Command, time::Duration};

use anyhow::{Context, bail};
use k8s_openapi::api::{
    apps::v1::ReplicaSet,
    core::v1::{Event, Pod, ReplicationController},
};
use kcm_controllers::replicaset::kind::{ReplicaKind, ReplicaStatus};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
};
use serde_json::json;
use testenv::{
    Check, ManagedProcess, TestEnv, TestNamespace, UpstreamKcm, env::Identity, wait::wait_until,
};

/// How long a scenario waits for the controllers to converge.
pub const TIMEOUT: Duration = Duration::from_secs(60);
pub const CONTROLLERS: [&str; 2] = ["replicaset-controller", "replicationcontroller-controller"];

/// Which controller manager runs a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    KcmRs,
    Upstream,
}

/// A running controller manager; stopped on drop.
pub enum Running {
    Ours(ManagedProcess),
    Upstream(UpstreamKcm),
}

impl Running {
    fn log_tail(&self) -> String {
        match self {
            Running::Ours(p) => p.log_tail(60),
            Running::Upstream(u) => u.process().log_tail(60),
        }
    }
}

pub async fn start(env: &TestEnv, manager: Manager, extra: &[&str]) -> anyhow::Result<Running> {
    match manager {
        Manager::Upstream => Ok(Running::Upstream(
            UpstreamKcm::start_with_args(env, &CONTROLLERS, extra).await?,
        )),
        Manager::KcmRs => {
            let mut command = Command::new(testenv::kcm_rs_binary()?);
            command
                .arg(format!(
                    "--kubeconfig={}",
                    env.kubeconfig(Identity::Admin).display()
                ))
                .arg("--leader-elect=false")
                .arg("--secure-port=0")
                .arg(format!("--controllers={}", CONTROLLERS.join(",")))
                .arg("--v=2")
                .args(extra);
            let mut process = env.spawn("kcm-rs", command)?;
            for controller in CONTROLLERS {
                process
                    .wait_for_log(&format!("Caches are synced for {controller}"), TIMEOUT)
                    .await?;
            }
            Ok(Running::Ours(process))
        }
    }
}

/// Runs `scenario` with kcm-rs, then with upstream, each in a fresh namespace, and returns
/// both outcomes (`None` when there is no test environment).
pub async fn with_both<T, F, Fut>(
    prefix: &str,
    extra_args: &[&str],
    scenario: F,
) -> anyhow::Result<Option<(T, T)>>
where
    F: Fn(TestNamespace, Manager) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let Some(env) = TestEnv::get().await else {
        return Ok(None);
    };
    let _controllers = env.controller_lock().await;
    let mut outcomes = Vec::new();
    for manager in [Manager::KcmRs, Manager::Upstream] {
        let ns = env.namespace(prefix).await?;
        let running = start(env, manager, extra_args).await?;
        let outcome = scenario(ns.clone(), manager).await;
        // Owners left behind would be managed by the next test's controllers.
        delete_owners(&ns).await?;
        let outcome = outcome.with_context(|| {
            format!(
                "scenario {prefix} with {manager:?}; controller log:\n{}",
                running.log_tail()
            )
        })?;
        drop(running);
        outcomes.push(outcome);
    }
    let upstream = outcomes.pop().context("two outcomes")?;
    let ours = outcomes.pop().context("two outcomes")?;
    Ok(Some((ours, upstream)))
}

async fn delete_owners(ns: &TestNamespace) -> anyhow::Result<()> {
    let dp = DeleteParams::default();
    let lp = ListParams::default();
    ns.api::<ReplicaSet>().delete_collection(&dp, &lp).await?;
    ns.api::<ReplicationController>()
        .delete_collection(&dp, &lp)
        .await?;
    Ok(())
}

pub use testenv::workloads::{labels, pod_template as template};

/// An owner kind the tests can build: its selector is `selector`, its template labels are
/// `selector` plus `extra`.
pub trait TestOwner: ReplicaKind {
    const API_VERSION: &'static str;
    fn build(name: &str, replicas: i32, selector: &[(&str, &str)], extra: &[(&str, &str)]) -> Self;
}

impl TestOwner for ReplicaSet {
    const API_VERSION: &'static str = "apps/v1";

    fn build(name: &str, replicas: i32, selector: &[(&str, &str)], extra: &[(&str, &str)]) -> Self {
        testenv::workloads::replica_set(name, replicas, selector, extra)
    }
}

impl TestOwner for ReplicationController {
    const API_VERSION: &'static str = "v1";

    fn build(name: &str, replicas: i32, selector: &[(&str, &str)], extra: &[(&str, &str)]) -> Self {
        testenv::workloads::replication_controller(name, replicas, selector, extra)
    }
}

/// The status fields both managers must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub fully_labeled: i32,
    pub ready: i32,
    pub available: i32,
    pub terminating: Option<i32>,
}

pub fn counts(status: &ReplicaStatus) -> Counts {
    Counts {
        replicas: status.replicas,
        fully_labeled: status.fully_labeled_replicas,
        ready: status.ready_replicas,
        available: status.available_replicas,
        terminating: status.terminating_replicas,
    }
}

/// Waits until the owner's status satisfies `condition` and reports its latest generation.
pub async fn wait_status<K: TestOwner>(
    ns: &TestNamespace,
    name: &str,
    what: &str,
    condition: impl Fn(&ReplicaStatus) -> bool,
) -> anyhow::Result<K> {
    let api: Api<K> = ns.api();
    let owner = testenv::wait_for_object(&api, name, TIMEOUT, what, |o: &K| {
        let status = o.replica_status();
        status.observed_generation == o.meta().generation.unwrap_or(0) && condition(&status)
    })
    .await?;
    Ok(owner)
}

pub async fn scale<K: TestOwner>(
    ns: &TestNamespace,
    name: &str,
    replicas: i32,
) -> anyhow::Result<K> {
    let patch = json!({ "spec": { "replicas": replicas } });
    Ok(ns
        .api::<K>()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

pub async fn pods(ns: &TestNamespace) -> anyhow::Result<Vec<Pod>> {
    testenv::wait::namespace_pods(ns).await
}

/// The UID of a pod's controller, if any.
pub fn controller_uid(pod: &Pod) -> Option<String> {
    pod.owner_references()
        .iter()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.clone())
}

/// Waits until the namespace holds pods for which `condition` holds; returns them.
pub async fn wait_pods(
    ns: &TestNamespace,
    what: &str,
    condition: impl Fn(&[Pod]) -> bool,
) -> anyhow::Result<Vec<Pod>> {
    testenv::wait::wait_namespace_pods(ns, TIMEOUT, what, condition).await
}

/// One event as the tests compare them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeenEvent {
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub component: String,
}

pub async fn events_about(ns: &TestNamespace, name: &str) -> anyhow::Result<Vec<SeenEvent>> {
    let events = ns.api::<Event>().list(&ListParams::default()).await?.items;
    let mut seen: Vec<SeenEvent> = events
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
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

/// Waits until at least `count` events with `reason` about `name` exist; returns them.
pub async fn wait_events(
    ns: &TestNamespace,
    name: &str,
    reason: &str,
    count: usize,
) -> anyhow::Result<Vec<SeenEvent>> {
    let what = format!("{count} {reason} events about {name}");
    Ok(wait_until(TIMEOUT, &what, || async {
        match events_about(ns, name).await {
            Ok(events) => {
                let matching: Vec<SeenEvent> = events
                    .iter()
                    .filter(|e| e.reason == reason)
                    .cloned()
                    .collect();
                if matching.len() >= count {
                    Check::Done(matching)
                } else {
                    Check::NotYet(format!("{events:#?}"))
                }
            }
            Err(e) => Check::NotYet(format!("listing events failed: {e}")),
        }
    })
    .await?)
}

/// Ensures `condition` keeps holding for `period` (a stable state, not a passing one).
pub async fn stays(
    ns: &TestNamespace,
    period: Duration,
    what: &str,
    condition: impl Fn(&[Pod]) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + period;
    while tokio::time::Instant::now() < deadline {
        let pods = pods(ns).await?;
        if !condition(&pods) {
            bail!(
                "{what} stopped holding: {:?}",
                pods.iter().map(|p| p.name_any()).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
