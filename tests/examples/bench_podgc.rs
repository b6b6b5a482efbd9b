//! Benchmark: how fast the pod garbage collector of kcm-rs and of the upstream
//! kube-controller-manager bring a cluster with N terminated pods down to its
//! `--terminated-pod-gc-threshold`, and what each process costs in CPU and memory doing it.
//!
//! ```text
//! cargo run -p kcm-tests --example bench_podgc -- [--key=value ...] [CONTENDER ...]
//!   CONTENDER  upstream | upstream-protobuf | debug | release | PATH-to-a-kcm-rs-binary
//!              (default: upstream, debug, and release when target/release/kcm-rs exists)
//!   --pods=20000 --threshold=1000 --qps=200 --burst=300 --timeout=1800
//! ```
//!
//! The harness creates the pods (bound to one Ready node, then set `Succeeded` through
//! `pods/status`) with the admin identity and many requests in flight, before the contender
//! starts; then it starts the contender with only `pod-garbage-collector-controller`, the
//! threshold and the QPS limits, and counts the pods twice a second (a `limit=1` list and its
//! `remainingItemCount`) through an identity outside APF's exempt level. Contenders run one
//! after the other, each on its own fresh etcd + kube-apiserver ([`testenv::bench`]).
//!
//! The collector's first pass runs as soon as its caches have synced and deletes all
//! `pods - threshold` pods at once (one goroutine, here one future, each): the client's QPS
//! limit sets the pace, so at the default 200 QPS 19 000 deletions take at least 95 s. With
//! upstream's default `--kube-api-qps=20` they take 16 minutes (pass `--qps=20`).
//!
//! Columns: *synced* is the time from the contender's start to its "Caches are synced" line;
//! *to target* the time from its start until `pods - threshold - ...` pods are gone, i.e. only
//! `threshold` remain (19 000 gone with the defaults); *CPU* its utime+stime until then;
//! *peak RSS* its `VmHWM`; *requests* the APF-exempt requests the apiserver dispatched in that
//! window (the contender's, plus a few of the apiserver's own).
//!
//! Each run leaves `target/bench-podgc/<n>/`: the control plane's logs, the controller's log
//! under `processes/`, and the apiserver's `/metrics` before and after the window.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde_json::json;
use testenv::{
    ManagedProcess,
    bench::{self, Contender, ControlPlane, flag},
    process::ProcessState,
};
use tokio::time::Instant;

const FLAGS: &str = "pods threshold qps burst timeout";
const NAMESPACE: &str = "bench-podgc";
const NODE: &str = "bench-node";
/// How many creations (and status patches) the harness keeps in flight.
const CREATE_CONCURRENCY: usize = 64;

/// The workload and the limits every contender gets.
#[derive(Debug, Clone)]
pub struct Settings {
    pub pods: usize,
    pub threshold: usize,
    pub qps: String,
    pub burst: u32,
    pub timeout: Duration,
}

/// What one contender achieved.
#[derive(Debug)]
pub struct Outcome {
    pub label: String,
    pub synced: Duration,
    pub to_target: Duration,
    pub cpu: f64,
    pub peak_rss_mb: f64,
    pub requests: f64,
}

fn parse_args() -> anyhow::Result<(Settings, PathBuf, Vec<Contender>)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    bench::check_flags(&args, FLAGS)?;
    let settings = Settings {
        pods: flag(&args, "pods", 20_000)?,
        threshold: flag(&args, "threshold", 1000)?,
        qps: flag(&args, "qps", 200.0_f32)?.to_string(),
        burst: flag(&args, "burst", 300)?,
        timeout: Duration::from_secs(flag(&args, "timeout", 1800)?),
    };
    anyhow::ensure!(
        settings.threshold > 0 && settings.threshold < settings.pods,
        "--threshold must be between 1 and --pods"
    );
    let names: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let bin_dir = bench::k8s_bin_dir()?;
    let contenders = bench::contenders(&names, &bin_dir)?;
    Ok((settings, bin_dir, contenders))
}

/// The node and `pods` Succeeded pods bound to it.
async fn fill(admin: &Client, pods: usize) -> anyhow::Result<()> {
    let namespace: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": NAMESPACE } }))?;
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    let nodes: Api<Node> = Api::all(admin.clone());
    let node: Node = serde_json::from_value(json!({ "metadata": { "name": NODE } }))?;
    nodes.create(&PostParams::default(), &node).await?;
    let ready = json!({ "status": { "conditions": [{ "type": "Ready", "status": "True" }] } });
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(&ready))
        .await?;
    let api: Api<Pod> = Api::namespaced(admin.clone(), NAMESPACE);
    let started = Instant::now();
    let succeeded = json!({ "status": { "phase": "Succeeded" } });
    futures::stream::iter(0..pods)
        .map(|i| {
            let (api, succeeded) = (&api, &succeeded);
            async move {
                let name = format!("done-{i}");
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": { "name": name },
                    "spec": { "nodeName": NODE,
                        "containers": [{ "name": "c", "image": "registry.invalid/x:1" }] },
                }))?;
                api.create(&PostParams::default(), &pod)
                    .await
                    .with_context(|| format!("creating {name}"))?;
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(succeeded))
                    .await
                    .with_context(|| format!("status of {name}"))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_for_each(|()| async { Ok(()) })
        .await?;
    eprintln!(
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

/// One contender on a fresh control plane in `dir`; the core a bundle of benchmarks calls.
pub async fn run(
    c: &Contender,
    s: &Settings,
    bin_dir: &std::path::Path,
    dir: PathBuf,
) -> anyhow::Result<Outcome> {
    let plane = ControlPlane::up(dir, bin_dir)?;
    let admin = plane.client("admin.kubeconfig").await?;
    let harness = plane.harness_client().await?;
    fill(&admin, s.pods).await?;
    let pods: Api<Pod> = Api::namespaced(harness.clone(), NAMESPACE);
    anyhow::ensure!(count(&pods).await? == s.pods, "not all pods were created");

    let mut command = c.command(plane.dir());
    command.args([
        "--controllers=pod-garbage-collector-controller".to_owned(),
        format!("--terminated-pod-gc-threshold={}", s.threshold),
        format!("--kube-api-qps={}", s.qps),
        format!("--kube-api-burst={}", s.burst),
    ]);
    let name = c.process_name();
    let before = bench::apiserver_metrics(&admin, &plane.dir().join("metrics-before.txt")).await?;
    eprintln!("{}: starting", c.label);
    let start = Instant::now();
    let mut controller = ManagedProcess::spawn_in(&plane.dir().join("processes"), name, command)?;
    controller
        .wait_for_log("Caches are synced", Duration::from_secs(120))
        .await?;
    let synced = start.elapsed();
    let (pid, ticks) = (controller.pid(), bench::clock_ticks());
    let to_target = loop {
        match count(&pods).await {
            Ok(n) if n <= s.threshold => break start.elapsed(),
            Ok(_) => {}
            Err(e) => eprintln!("  counting pods: {e}"),
        }
        if let ProcessState::Exited(status) = controller.state() {
            bail!("{name} exited ({status}):\n{}", controller.log_tail(30));
        }
        if start.elapsed() > s.timeout {
            bail!(
                "still above the threshold after {:?}; see {}",
                s.timeout,
                controller.log_path().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let cpu = bench::cpu_seconds(pid, ticks)?;
    let peak_rss_mb = bench::peak_rss_mb(pid)?;
    let after = bench::apiserver_metrics(&admin, &plane.dir().join("metrics-after.txt")).await?;
    controller.terminate(Duration::from_secs(15)).await?;
    let left = count(&pods).await?;
    anyhow::ensure!(
        left == s.threshold,
        "{left} pods left, expected the threshold {}",
        s.threshold
    );
    Ok(Outcome {
        label: c.label.clone(),
        synced,
        to_target,
        cpu,
        peak_rss_mb,
        requests: bench::exempt_requests(&after) - bench::exempt_requests(&before),
    })
}

fn print_table(s: &Settings, outcomes: &[Outcome]) {
    println!(
        "\n{} Succeeded pods, --terminated-pod-gc-threshold={} (time until {} are gone); \
         --kube-api-qps={} --kube-api-burst={}",
        s.pods,
        s.threshold,
        s.pods - s.threshold,
        s.qps,
        s.burst
    );
    let header = "synced (s)|to target (s)|CPU s|peak RSS (MB)|requests";
    let rows: Vec<(String, Vec<String>)> = outcomes
        .iter()
        .map(|o| {
            let cells = vec![
                format!("{:.2}", o.synced.as_secs_f64()),
                format!("{:.2}", o.to_target.as_secs_f64()),
                format!("{:.2}", o.cpu),
                format!("{:.1}", o.peak_rss_mb),
                o.requests.to_string(),
            ];
            (o.label.clone(), cells)
        })
        .collect();
    print!("{}", bench::table(header, &rows));
    println!("(columns explained at the top of tests/examples/bench_podgc.rs)");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (settings, bin_dir, contenders) = parse_args()?;
    let root = bench::target_dir().join("bench-podgc");
    let (outcomes, failed) = bench::run_each(
        &contenders,
        &root,
        |i, dir| run(&contenders[i], &settings, &bin_dir, dir),
        |o| {
            format!(
                "down to the threshold after {:.2}s",
                o.to_target.as_secs_f64()
            )
        },
    )
    .await;
    print_table(&settings, &outcomes);
    anyhow::ensure!(failed == 0, "{failed} contender(s) failed");
    Ok(())
}
