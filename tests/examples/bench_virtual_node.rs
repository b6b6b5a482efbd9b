//! Measurement: how fast `kcm-virtual-node` starts pods, and what it costs.
//!
//! ```text
//! cargo run --release -p kcm-tests --example bench_virtual_node -- [--pods=2000] [--nodes=10] [--workers=32]
//! ```
//!
//! `--pods` pods are created first, bound by `spec.nodeName` round robin to `--nodes` node
//! names that do not exist yet, so nothing runs them. Then `kcm-virtual-node` (the release
//! build, or `KCM_VIRTUAL_NODE_BINARY`) starts with those nodes, and a watch records when each
//! pod is first reported Running. *pods/s* is the number of pods divided by the time from the
//! first pod seen Running to the last: the node's own rate, not the creation rate. *start to
//! all running* includes registration and the initial list. RSS is read once every pod runs
//! (`VmRSS`) and as the peak (`VmHWM`); CPU is utime+stime of the virtual node.
//!
//! Runs against a fresh etcd + kube-apiserver of its own (the test environment).

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, ResourceExt,
    api::PostParams,
    runtime::{WatchStreamExt, watcher},
};
use serde_json::json;
use testenv::{TestEnv, env::Identity};
use tokio::time::Instant;

struct Args {
    pods: usize,
    nodes: usize,
    workers: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        pods: 2000,
        nodes: 10,
        workers: 32,
    };
    for arg in std::env::args().skip(1) {
        let (key, value) = arg
            .split_once('=')
            .with_context(|| format!("{arg}: expected --key=value"))?;
        let value: usize = value
            .parse()
            .with_context(|| format!("{key}: {value:?} is not a number"))?;
        match key {
            "--pods" => args.pods = value,
            "--nodes" => args.nodes = value,
            "--workers" => args.workers = value,
            other => anyhow::bail!("unknown option {other} (--pods, --nodes, --workers)"),
        }
    }
    anyhow::ensure!(
        args.nodes > 0 && args.pods > 0,
        "--pods and --nodes must be positive"
    );
    Ok(args)
}

fn binary() -> PathBuf {
    std::env::var_os("KCM_VIRTUAL_NODE_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/kcm-virtual-node")
        })
}

/// (VmRSS, VmHWM) in MB.
fn memory(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
        Ok(kb / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// utime + stime in seconds.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (_, rest) = stat.rsplit_once(") ").context("odd /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let binary = binary();
    anyhow::ensure!(
        binary.is_file(),
        "{} is missing: cargo build --release -p kcm-virtual-node",
        binary.display()
    );
    let Some(env) = TestEnv::get().await else {
        anyhow::bail!("the Kubernetes binaries are missing: run tests/env/build.sh");
    };
    let ns = env.namespace("bench-vn").await?;
    let prefix = format!("bench-{}", ns.name().rsplit('-').next().unwrap_or("x"));
    let pods: Api<Pod> = ns.api();

    let created = Instant::now();
    stream::iter(0..args.pods)
        .map(|i| {
            let pods = pods.clone();
            let node = format!("{prefix}-{}", i % args.nodes + 1);
            async move {
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": { "name": format!("p-{i}") },
                    "spec": {
                        "nodeName": node,
                        "containers": [{ "name": "main", "image": "registry.invalid/app:1" }],
                    },
                }))?;
                pods.create(&PostParams::default(), &pod).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<()>()
        .await?;
    println!(
        "created {} pods bound to {} absent nodes in {:.1}s",
        args.pods,
        args.nodes,
        created.elapsed().as_secs_f64()
    );

    // Watch first, so no transition is missed.
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

    let per_node_pods = args.pods.div_ceil(args.nodes);
    let mut command = Command::new(&binary);
    command.args([
        format!("--kubeconfig={}", env.kubeconfig(Identity::Admin).display()),
        format!("--nodes={}", args.nodes),
        format!("--node-name-prefix={prefix}"),
        format!("--max-pods={}", per_node_pods.max(110)),
        // Enough addresses per node: a /20 holds 4094.
        "--node-cidr-mask-size=20".to_owned(),
        format!("--workers={}", args.workers),
    ]);
    let started = Instant::now();
    let process = env.spawn("kcm-virtual-node", command)?;
    let pid = process.pid();

    let mut running = HashSet::new();
    let (mut first, mut last) = (None, None);
    let deadline = started + Duration::from_secs(600);
    while running.len() < args.pods {
        let next = tokio::time::timeout_at(deadline, rx.recv()).await;
        let Ok(Some((name, at))) = next else {
            anyhow::bail!(
                "only {} of {} pods Running after {:?}; log {}",
                running.len(),
                args.pods,
                started.elapsed(),
                process.log_path().display()
            );
        };
        if running.insert(name) {
            first.get_or_insert(at);
            last = Some(at);
        }
    }
    watch.abort();
    let (rss, peak) = memory(pid)?;
    let cpu = cpu_seconds(pid)?;
    let (first, last) = (first.unwrap_or(started), last.unwrap_or(started));
    let span = last.duration_since(first).as_secs_f64().max(1e-3);
    println!(
        "| pods | nodes | workers | start to all Running | first to last Running | pods/s | CPU s | RSS MB (all running) | peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {:.2} s | {:.2} s | {:.0} | {:.2} | {:.1} | {:.1} |",
        args.pods,
        args.nodes,
        args.workers,
        last.duration_since(started).as_secs_f64(),
        span,
        args.pods as f64 / span,
        cpu,
        rss,
        peak
    );
    println!("virtual node log: {}", process.log_path().display());
    Ok(())
}
