//! Workload `podgc`: N Succeeded pods brought down to `--terminated-pod-gc-threshold`, with
//! the pod garbage collector.
//!
//! The harness creates the pods (bound to one Ready node, then set `Succeeded` through
//! `pods/status`: terminated pods need no kubelet) before the contender starts. The clock
//! starts when the contender is spawned and stops when only `threshold` pods are left, counted
//! twice a second (a `limit=1` list and its `remainingItemCount`). The collector's first pass
//! runs once its caches have synced and deletes all `pods - threshold` at once, so the
//! client's QPS limit sets the pace: at 200 QPS 19 000 deletions take at least 95 s.

use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::{
    Context, Limits, Section, create_namespaces, finish, flags::Flags, for_all, measure,
    plane::ControlPlane, poll_until, report::Measurement, steady_rss,
};

pub const NAME: &str = "podgc";
const NAMESPACE: &str = "bench-podgc";
const NODE: &str = "bench-node";
const CONTROLLERS: [&str; 1] = ["pod-garbage-collector-controller"];
/// Creations (and status patches) the harness keeps in flight.
const CREATE_CONCURRENCY: usize = 64;

#[derive(Debug, Clone)]
pub struct Settings {
    pub pods: usize,
    pub threshold: usize,
    pub limits: Limits,
    pub timeout: Duration,
    pub settle: Duration,
}

impl Settings {
    pub fn from_flags(f: &Flags, quick: bool) -> anyhow::Result<Self> {
        let s = Self {
            pods: f.get("podgc-pods", if quick { 1000 } else { 20_000 })?,
            threshold: f.get("podgc-threshold", if quick { 100 } else { 1000 })?,
            limits: super::limits(f, 200.0, 300, 5)?,
            timeout: Duration::from_secs(f.get("timeout", 900)?),
            settle: Duration::from_secs(f.get("settle", 5)?),
        };
        anyhow::ensure!(
            s.threshold > 0 && s.threshold < s.pods,
            "--podgc-threshold must be between 1 and --podgc-pods"
        );
        Ok(s)
    }

    pub fn heading(&self) -> String {
        format!(
            "{} Succeeded pods, `--terminated-pod-gc-threshold={}`: wall time from the contender's start \
             until {} are gone (caches synced included); `--kube-api-qps={} --kube-api-burst={}`.",
            self.pods,
            self.threshold,
            self.pods - self.threshold,
            self.limits.qps,
            self.limits.burst
        )
    }
}

/// The node and `pods` Succeeded pods bound to it.
async fn fill(client: &Client, pods: usize) -> anyhow::Result<()> {
    create_namespaces(client, &[NAMESPACE.to_owned()]).await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({ "metadata": { "name": NODE } }))?;
    nodes.create(&PostParams::default(), &node).await?;
    let ready = json!({ "status": { "conditions": [{ "type": "Ready", "status": "True" }] } });
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(&ready))
        .await?;
    let api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let started = std::time::Instant::now();
    let succeeded = json!({ "status": { "phase": "Succeeded" } });
    for_all(0..pods, CREATE_CONCURRENCY, |i| {
        let (api, succeeded) = (&api, &succeeded);
        async move {
            let name = format!("done-{i}");
            let pod: Pod = serde_json::from_value(json!({
                "metadata": { "name": name },
                "spec": { "nodeName": NODE, "restartPolicy": "Never",
                    "containers": [{ "name": "c", "image": "registry.invalid/x:1" }] },
            }))?;
            api.create(&PostParams::default(), &pod)
                .await
                .with_context(|| format!("creating {name}"))?;
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(succeeded))
                .await
                .with_context(|| format!("status of {name}"))?;
            Ok(())
        }
    })
    .await?;
    tracing::info!(
        "  created {pods} Succeeded pods in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Pods in the benchmark namespace: one list of one item and the server's count of the rest.
async fn count(pods: &Api<Pod>) -> anyhow::Result<usize> {
    let list = pods.list_metadata(&ListParams::default().limit(1)).await?;
    let rest = list.metadata.remaining_item_count.unwrap_or(0);
    Ok(list.items.len() + usize::try_from(rest).unwrap_or(0))
}

async fn run_one(
    c: &super::Contender,
    s: &Settings,
    bin_dir: &std::path::Path,
    dir: std::path::PathBuf,
) -> anyhow::Result<Measurement> {
    let plane = ControlPlane::up(dir, bin_dir)?;
    let harness = plane.harness_client().await?;
    fill(&harness, s.pods).await?;
    let pods: Api<Pod> = Api::namespaced(harness.clone(), NAMESPACE);
    anyhow::ensure!(count(&pods).await? == s.pods, "not all pods were created");

    let threshold = format!("--terminated-pod-gc-threshold={}", s.threshold);
    let command = c.command(plane.dir(), &CONTROLLERS, &s.limits, &[], &[threshold]);
    let mut m = Measurement::new(NAME, "", &c.label, c.role());
    let audit = plane.audit();
    let mut controller =
        crate::ManagedProcess::spawn_in(&plane.processes_dir(), c.process_name(), command)?;
    let pid = controller.pid();
    let mut recorder = measure::Recorder::start(Some(pid));
    recorder.sample(s.pods as f64);
    measure::wait_synced(&mut controller, CONTROLLERS.len(), Duration::from_secs(120)).await?;
    let synced = recorder.elapsed().as_secs_f64();
    let probe = || async {
        let n = count(&pods).await?;
        Ok((n as f64, n <= s.threshold))
    };
    let interval = Duration::from_millis(500);
    poll_until(
        &mut recorder,
        &mut [&mut controller],
        s.timeout,
        interval,
        probe,
    )
    .await?;
    finish(&mut m, recorder, Some(pid), &audit)?;
    m.phases = vec![
        ("synced".into(), synced),
        ("collect".into(), m.wall_s - synced),
    ];
    m.steady_rss_mb = Some(steady_rss(pid, s.settle).await?);
    controller.terminate(Duration::from_secs(15)).await?;
    let left = count(&pods).await?;
    anyhow::ensure!(
        left == s.threshold,
        "{left} pods left, expected the threshold {}",
        s.threshold
    );
    Ok(m)
}

pub async fn run(ctx: &Context, s: &Settings) -> Section {
    let mut section = Section::new(NAME, s.heading());
    section
        .run_contenders(ctx, &CONTROLLERS, "", |c, dir| async move {
            run_one(&c, s, &ctx.bin_dir, dir).await
        })
        .await;
    section.progress_chart(
        NAME,
        None,
        &format!(
            "podgc: {} Succeeded pods, threshold {}",
            s.pods, s.threshold
        ),
        "pods left",
    );
    section
}
