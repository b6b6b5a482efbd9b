//! Workload `virtual-node` (not in the default set; no contenders): how fast `kcm-virtual-node`
//! starts pods, and what it costs. N pods are created first, bound by `spec.nodeName` round
//! robin to nodes that do not exist yet, so nothing runs them; then the virtual node starts
//! with those nodes, and a watch records when each pod is first Running. *wall* runs from the
//! virtual node's start to the last pod Running (registration and the initial list
//! included); *pods/s* is N over the time from the first pod seen Running to the last.

use std::{collections::HashSet, time::Duration};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, ResourceExt,
    api::PostParams,
    runtime::{WatchStreamExt, watcher},
};
use serde_json::json;
use tokio::time::Instant;

use super::{
    Context, Section, create_namespaces,
    flags::Flags,
    for_all, measure,
    plane::ControlPlane,
    pods::{NODE_PREFIX, virtual_node_binary},
    report::{Column, Measurement, Role},
};

pub const NAME: &str = "virtual-node";
const NAMESPACE: &str = "bench-vn";

#[derive(Debug, Clone)]
pub struct Settings {
    pub pods: usize,
    pub nodes: usize,
    pub workers: usize,
}

impl Settings {
    pub fn from_flags(f: &Flags, quick: bool) -> anyhow::Result<Self> {
        let s = Self {
            pods: f.get("vn-pods", if quick { 200 } else { 2000 })?,
            nodes: f.get("nodes", if quick { 2 } else { 10 })?.max(1),
            workers: f.get("vn-workers", 32)?,
        };
        anyhow::ensure!(s.pods > 0, "--vn-pods must be positive");
        Ok(s)
    }
}

async fn run_one(s: &Settings, ctx: &Context) -> anyhow::Result<Measurement> {
    let plane = ControlPlane::up(ctx.run_dir(NAME, "kcm-virtual-node"), &ctx.bin_dir)?;
    let harness = plane.harness_client().await?;
    create_namespaces(&harness, &[NAMESPACE.to_owned()]).await?;
    let pods: Api<Pod> = Api::namespaced(harness.clone(), NAMESPACE);
    for_all(0..s.pods, 32, |i| {
        let pods = &pods;
        async move {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": { "name": format!("p-{i}") },
                "spec": { "nodeName": format!("{NODE_PREFIX}-{}", i % s.nodes + 1),
                    "containers": [{ "name": "main", "image": "registry.invalid/app:1" }] },
            }))?;
            pods.create(&PostParams::default(), &pod).await?;
            Ok(())
        }
    })
    .await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = tokio::spawn({
        let pods = pods.clone();
        async move {
            let mut events = watcher(pods, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Some(Ok(pod)) = events.next().await {
                if pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                    && tx.send((pod.name_any(), Instant::now())).is_err()
                {
                    return;
                }
            }
        }
    });
    let mut command = std::process::Command::new(virtual_node_binary()?);
    command.args([
        format!(
            "--kubeconfig={}",
            plane.dir().join("restricted.kubeconfig").display()
        ),
        format!("--nodes={}", s.nodes),
        format!("--node-name-prefix={NODE_PREFIX}"),
        format!("--max-pods={}", s.pods.div_ceil(s.nodes).max(110)),
        "--node-cidr-mask-size=20".to_owned(),
        format!("--workers={}", s.workers),
    ]);
    let mut process =
        crate::ManagedProcess::spawn_in(&plane.processes_dir(), "kcm-virtual-node", command)?;
    let pid = process.pid();
    let mut recorder = measure::Recorder::start(Some(pid));
    let mut running = HashSet::new();
    let mut first = None;
    while running.len() < s.pods {
        match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            Ok(Some((name, at))) => {
                if running.insert(name) {
                    first.get_or_insert(at);
                }
            }
            Ok(None) => anyhow::bail!("the pod watch ended"),
            Err(_) => {}
        }
        if recorder
            .samples
            .last()
            .is_none_or(|l| recorder.elapsed().as_secs_f64() - l.t >= 0.5)
        {
            recorder.sample(running.len() as f64);
        }
        measure::check_running(&mut process)?;
        anyhow::ensure!(
            recorder.elapsed() < Duration::from_secs(600),
            "only {} of {} pods Running after 600 s",
            running.len(),
            s.pods
        );
    }
    recorder.sample(s.pods as f64);
    watch.abort();
    let mut m = Measurement::new(NAME, "", "kcm-virtual-node", Role::KcmRs);
    let span = first.map_or(0.0, |f| f.elapsed().as_secs_f64()).max(1e-3);
    m.figures.insert("pods/s".into(), s.pods as f64 / span);
    m.steady_rss_mb = Some(measure::rss_mb(pid)?);
    let audit = plane.audit();
    super::finish(&mut m, recorder, Some(pid), &audit)?;
    m.requests = None;
    process.terminate(Duration::from_secs(15)).await?;
    Ok(m)
}

pub async fn run(ctx: &Context, s: &Settings) -> Section {
    let heading = format!(
        "{} pods pre-bound to {} nodes, then `kcm-virtual-node --workers={}` started (no contenders).",
        s.pods, s.nodes, s.workers
    );
    let mut section = Section::new(NAME, heading);
    section.columns = vec![
        Column {
            title: "wall (s)",
            value: |m| Some(m.wall_s),
            digits: 2,
        },
        Column {
            title: "pods/s",
            value: |m| m.figure("pods/s"),
            digits: 0,
        },
        Column {
            title: "CPU (s)",
            value: |m| m.cpu_s,
            digits: 2,
        },
        Column {
            title: "RSS all running (MB)",
            value: |m| m.steady_rss_mb,
            digits: 1,
        },
        Column {
            title: "peak RSS (MB)",
            value: |m| m.peak_rss_mb,
            digits: 1,
        },
    ];
    match run_one(s, ctx).await {
        Ok(m) => section.measurements.push(m),
        Err(e) => section.skip("kcm-virtual-node", format!("failed: {e:#}")),
    }
    section.progress_chart(
        NAME,
        None,
        &format!("virtual node: {} pods started", s.pods),
        "pods Running",
    );
    section
}
