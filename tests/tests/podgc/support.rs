//! Harness of the pod GC tests: one side is a test environment with one controller manager
//! (kcm-rs or upstream) running only `pod-garbage-collector-controller`; helpers create nodes
//! and pods the way a kubelet-less cluster needs (status through `pods/status`), read back
//! what the collector did, scrape its `/metrics` and clean up between phases.
//!
//! The collector acts on every pod of the cluster and its threshold counts them all, so the
//! two managers never share an environment: kcm-rs runs on [`TestEnv::get`], upstream on
//! [`TestEnv::second`], at the same time.

use std::{
    collections::BTreeMap,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::Context;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};
use testenv::{Check, KcmRs, TestEnv, UpstreamKcm, env::Identity, wait_until};

pub const CONTROLLER: &str = "pod-garbage-collector-controller";
pub const FINALIZER: &str = "test.k8s.io/finalizer";
pub const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

/// Which controller manager runs on a side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    KcmRs,
    Upstream,
}

impl Manager {
    pub fn label(self) -> &'static str {
        match self {
            Manager::KcmRs => "kcm-rs",
            Manager::Upstream => "upstream",
        }
    }
}

enum Running {
    Ours(KcmRs),
    Upstream(UpstreamKcm),
}

/// One environment and the manager running on it.
pub struct Side {
    pub env: &'static TestEnv,
    pub manager: Manager,
    running: Option<Running>,
    port: u16,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Side {
    pub fn new(env: &'static TestEnv, manager: Manager) -> Self {
        Self {
            env,
            manager,
            running: None,
            port: 0,
        }
    }

    pub fn client(&self) -> Client {
        self.env.admin_client()
    }

    /// Starts the manager with `--terminated-pod-gc-threshold=<threshold>` and a serving
    /// port for `/metrics`, and waits until its caches have synced (its first pass is then
    /// under way).
    pub async fn start(&mut self, threshold: i32) -> anyhow::Result<()> {
        self.stop().await?;
        self.port = free_port()?;
        let threshold = format!("--terminated-pod-gc-threshold={threshold}");
        let port = format!("--secure-port={}", self.port);
        // Delegated authentication and authorization through the admin identity, so the
        // admin token may read /metrics (both managers).
        let admin = self.env.kubeconfig(Identity::Admin);
        let authn = format!("--authentication-kubeconfig={}", admin.display());
        let authz = format!("--authorization-kubeconfig={}", admin.display());
        self.running = Some(match self.manager {
            Manager::KcmRs => Running::Ours(
                KcmRs::start_synced(
                    self.env,
                    &[
                        &format!("--controllers={CONTROLLER}"),
                        &threshold,
                        &port,
                        &authn,
                        &authz,
                    ],
                )
                .await?,
            ),
            Manager::Upstream => Running::Upstream(
                UpstreamKcm::start_with_args(
                    self.env,
                    &[CONTROLLER],
                    &[&threshold, &port, &authn, &authz],
                )
                .await?,
            ),
        });
        Ok(())
    }

    pub async fn stop(&mut self) -> anyhow::Result<()> {
        match self.running.take() {
            Some(Running::Ours(mut k)) => {
                k.process_mut().terminate(Duration::from_secs(10)).await?;
            }
            Some(Running::Upstream(mut u)) => {
                u.process_mut().terminate(Duration::from_secs(10)).await?;
            }
            None => {}
        }
        Ok(())
    }

    pub fn log_tail(&self, lines: usize) -> String {
        match &self.running {
            Some(Running::Ours(k)) => k.process().log_tail(lines),
            Some(Running::Upstream(u)) => u.process().log_tail(lines),
            None => "(not running)".into(),
        }
    }

    /// The manager's `/metrics`, read with the admin token.
    pub fn metrics(&self) -> anyhow::Result<String> {
        let out = Command::new("curl")
            .args([
                "-sfk",
                "-H",
                &format!("Authorization: Bearer {}", self.env.admin_token()),
                &format!("https://127.0.0.1:{}/metrics", self.port),
            ])
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}: GET /metrics failed: {}",
            self.manager.label(),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The collector's counters for one namespace: `(family suffix, reason) → value`, where the
/// suffix is `pods` or `errors`.
pub fn gc_metrics(text: &str, namespace: &str) -> BTreeMap<(String, String), u64> {
    let mut found = BTreeMap::new();
    let ns = format!("namespace=\"{namespace}\"");
    for (family, suffix) in [
        ("pod_gc_collector_force_delete_pods_total{", "pods"),
        ("pod_gc_collector_force_delete_pod_errors_total{", "errors"),
    ] {
        for line in text
            .lines()
            .filter(|l| l.starts_with(family) && l.contains(&ns))
        {
            let Some(reason) = line
                .split("reason=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
            else {
                continue;
            };
            let value = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            // Counters are whole numbers, printed as floats by Go.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            found.insert((suffix.to_owned(), reason.to_owned()), value as u64);
        }
    }
    found
}

/// A Node named `name`: `ready` is the Ready condition's status (`None`: no conditions at
/// all), `taints` its taint keys with effect NoExecute.
pub async fn create_node(
    client: &Client,
    name: &str,
    ready: Option<bool>,
    taints: &[&str],
) -> anyhow::Result<()> {
    let conditions: Vec<Value> = ready
        .map(|r| {
            json!({ "type": "Ready", "status": if r { "True" } else { "False" },
                "reason": "Test", "lastHeartbeatTime": jiff::Timestamp::now().to_string() })
        })
        .into_iter()
        .collect();
    let taints: Vec<Value> = taints
        .iter()
        .map(|k| json!({ "key": k, "effect": "NoExecute" }))
        .collect();
    let node: Node = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { testenv::nodes::FAKE_NODE_LABEL: "true" } },
        "spec": { "taints": taints },
    }))?;
    let nodes: Api<Node> = Api::all(client.clone());
    nodes.create(&PostParams::default(), &node).await?;
    let status = json!({ "status": { "conditions": conditions } });
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| format!("status of node {name}"))?;
    Ok(())
}

pub async fn taint_node(client: &Client, name: &str, key: &str) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = json!({ "spec": { "taints": [{ "key": key, "effect": "NoExecute" }] } });
    nodes
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

pub async fn delete_node(client: &Client, name: &str) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes.delete(name, &DeleteParams::default()).await?;
    Ok(())
}

/// How a test pod starts out.
#[derive(Clone, Copy, Debug)]
pub struct PodSpec<'a> {
    pub node: Option<&'a str>,
    pub phase: &'a str,
    /// `status.reason`, e.g. `Evicted`.
    pub reason: Option<&'a str>,
    pub finalizer: bool,
}

impl<'a> PodSpec<'a> {
    pub fn on(node: &'a str, phase: &'a str) -> Self {
        Self {
            node: Some(node),
            phase,
            reason: None,
            finalizer: false,
        }
    }

    pub fn unscheduled(phase: &'a str) -> Self {
        Self {
            node: None,
            phase,
            reason: None,
            finalizer: false,
        }
    }

    pub fn held(self) -> Self {
        Self {
            finalizer: true,
            ..self
        }
    }

    pub fn reason(self, reason: &'a str) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }
}

/// Creates pod `name` and sets its phase through `pods/status` (the apiserver resets the
/// status on create). Returns the created pod.
pub async fn create_pod(pods: &Api<Pod>, name: &str, spec: PodSpec<'_>) -> anyhow::Result<Pod> {
    let mut object = json!({
        "metadata": { "name": name },
        "spec": { "containers": [{ "name": "c", "image": "registry.invalid/x:1" }],
            "terminationGracePeriodSeconds": 30 },
    });
    if let Some(node) = spec.node {
        object["spec"]["nodeName"] = json!(node);
    }
    if spec.finalizer {
        object["metadata"]["finalizers"] = json!([FINALIZER]);
    }
    let pod: Pod = serde_json::from_value(object)?;
    let created = pods
        .create(&PostParams::default(), &pod)
        .await
        .with_context(|| format!("creating pod {name}"))?;
    if spec.phase != "Pending" || spec.reason.is_some() {
        let mut status = json!({ "phase": spec.phase });
        if let Some(reason) = spec.reason {
            status["reason"] = json!(reason);
        }
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await
        .with_context(|| format!("status of pod {name}"))?;
    }
    Ok(created)
}

/// Deletes a pod with this grace period.
pub async fn delete_pod(pods: &Api<Pod>, name: &str, grace: u32) -> anyhow::Result<()> {
    let params = DeleteParams {
        grace_period_seconds: Some(grace),
        ..DeleteParams::default()
    };
    pods.delete(name, &params).await?;
    Ok(())
}

pub async fn remove_finalizer(pods: &Api<Pod>, name: &str) -> anyhow::Result<()> {
    let patch = json!({ "metadata": { "finalizers": null } });
    pods.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// The `DisruptionTarget` condition as the tests compare it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disruption {
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub has_transition_time: bool,
}

/// What the collector left of a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodState {
    Gone,
    Present {
        phase: String,
        terminating: bool,
        deletion_grace: Option<i64>,
        disruption: Option<Disruption>,
    },
}

impl PodState {
    pub fn of(pod: Option<&Pod>) -> Self {
        let Some(pod) = pod else {
            return PodState::Gone;
        };
        let status = pod.status.as_ref();
        let disruption = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "DisruptionTarget"))
            .map(|c| Disruption {
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                has_transition_time: c.last_transition_time.is_some(),
            });
        PodState::Present {
            phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            deletion_grace: pod.metadata.deletion_grace_period_seconds,
            disruption,
        }
    }

    pub fn is_terminating(&self) -> bool {
        matches!(
            self,
            PodState::Present {
                terminating: true,
                ..
            }
        )
    }

    /// A pod as created and never touched by the collector.
    pub fn untouched(phase: &str) -> Self {
        PodState::Present {
            phase: phase.into(),
            terminating: false,
            deletion_grace: None,
            disruption: None,
        }
    }

    /// A pod the collector force-deleted but a finalizer holds, with no condition.
    pub fn force_deleted(phase: &str) -> Self {
        PodState::Present {
            phase: phase.into(),
            terminating: true,
            deletion_grace: Some(0),
            disruption: None,
        }
    }

    /// An orphan the collector marked Failed with the DisruptionTarget condition and
    /// force-deleted, held by its finalizer.
    pub fn orphan_marked() -> Self {
        PodState::Present {
            phase: "Failed".into(),
            terminating: true,
            deletion_grace: Some(0),
            disruption: Some(Disruption {
                status: "True".into(),
                reason: Some("DeletionByPodGC".into()),
                message: Some("PodGC: node no longer exists".into()),
                has_transition_time: true,
            }),
        }
    }
}

pub async fn pod_state(pods: &Api<Pod>, name: &str) -> anyhow::Result<PodState> {
    Ok(PodState::of(pods.get_opt(name).await?.as_ref()))
}

/// The states of `names`, in that order.
pub async fn pod_states(
    pods: &Api<Pod>,
    names: &[&str],
) -> anyhow::Result<Vec<(String, PodState)>> {
    let mut states = Vec::new();
    for name in names {
        states.push(((*name).to_owned(), pod_state(pods, name).await?));
    }
    Ok(states)
}

/// Waits until every pod of `names` satisfies `done` (polling twice a second: many
/// scenarios poll at once); returns how long that took.
pub async fn wait_pods(
    pods: &Api<Pod>,
    names: &[&str],
    timeout: Duration,
    what: &str,
    done: impl Fn(&PodState) -> bool,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let states = pod_states(pods, names).await?;
        if states.iter().all(|(_, s)| done(s)) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            anyhow::bail!("{what}: not after {timeout:?}: {states:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Removes every test pod of the environment (finalizers dropped, force-deleted) and waits
/// until none is left, so the next phase's threshold counts only its own pods.
pub async fn remove_all_pods(client: &Client) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::all(client.clone());
    let listed = pods.list(&ListParams::default()).await?;
    for pod in listed {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        if pod
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| !f.is_empty())
        {
            remove_finalizer(&api, &name).await?;
        }
        if let Err(e) = delete_pod(&api, &name, 0).await
            && !matches!(&e.downcast_ref::<kube::Error>(), Some(kube::Error::Api(s)) if s.code == 404)
        {
            return Err(e);
        }
    }
    wait_until(Duration::from_secs(30), "no pods left", || async {
        match pods.list(&ListParams::default()).await {
            Ok(list) if list.items.is_empty() => Check::Done(()),
            Ok(list) => Check::NotYet(format!("{} pods left", list.items.len())),
            Err(e) => Check::NotYet(e.to_string()),
        }
    })
    .await?;
    Ok(())
}
