//! Benchmark: how long the ReplicaSet controller of kcm-rs and of the upstream
//! kube-controller-manager take to bring N ReplicaSets × M replicas to ready, and what each
//! process costs in CPU and memory while doing it.
//!
//! ```text
//! cargo run -p kcm-tests --example bench_replicasets -- [--key=value ...] [CONTENDER ...]
//!   CONTENDER  upstream | upstream-protobuf | debug | release | PATH-to-a-kcm-rs-binary
//!              (default: upstream, debug, and release when target/release/kcm-rs exists)
//!   --replicasets=200 --replicas=5 --namespaces=10 (one fake kubelet each; 10 nodes)
//!   --qps=50 --burst=100 --workers=5 --timeout=600 (seconds)
//! ```
//!
//! Fairness (test-environment.md §3.3): contenders run one after the other, each against its
//! own fresh etcd + kube-apiserver (`tests/env/testenv.sh up`), with the same admin identity
//! (APF's exempt level for both), the same `--kube-api-qps`/`--kube-api-burst` and worker
//! count and, for `upstream`, JSON instead of protobuf. etcd runs with `--unsafe-no-fsync`:
//! fair between contenders, but faster than a real cluster.
//!
//! Columns: *all ready* runs from the first ReplicaSet create to the harness seeing the last
//! one with `readyReplicas == replicas == spec.replicas` and `observedGeneration ==
//! generation`. *CPU run* is the controller's utime+stime in that window; *CPU total* and
//! *peak RSS* (`VmHWM`) include start-up. *requests* are the APF-exempt requests the apiserver
//! dispatched in the window: the controller's plus a few of the apiserver's own, because the
//! stand-in scheduler and kubelets ([`FakeKubelet`], one per namespace) and this harness's
//! watchers use another identity. *kubelet lag* is the time from the harness seeing a pod to
//! seeing it Ready: when it grows large, the fake kubelets, not the controller, set the pace.
//!
//! Each run leaves `target/bench-replicasets/<n>/`: the control plane's logs, the controller's
//! log under `processes/`, and the apiserver's `/metrics` before and after the window
//! (`metrics-{before,after}.txt`, e.g. to break requests down by verb and resource).

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::bail;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::ReplicaSet,
    core::v1::{Namespace, Pod},
};
use kube::{
    Api, Client, ResourceExt,
    api::PostParams,
    runtime::{WatchStreamExt, watcher},
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde_json::json;
use testenv::{
    FakeKubelet, ManagedProcess,
    bench::{self, Contender, ControlPlane, flag},
    pods::is_pod_ready,
    process::ProcessState,
    workloads,
};
use tokio::{sync::oneshot, task::JoinHandle, time::Instant};

const BENCH_LABEL: &str = "kcm-bench=replicasets";
const FLAGS: &str = "replicasets replicas namespaces qps burst workers timeout";
const NODES: usize = 10;

#[derive(Debug)]
struct Settings {
    replicasets: usize,
    replicas: i32,
    namespaces: usize,
    qps: String,
    burst: u32,
    workers: u32,
    timeout: Duration,
}

/// What one contender achieved.
#[derive(Debug)]
struct Outcome {
    label: String,
    all_ready: Duration,
    cpu_run: f64,
    cpu_total: f64,
    peak_rss_mb: f64,
    requests: f64,
    pod_creates: f64,
    kubelet_lag: (Duration, Duration),
}

fn parse_args() -> anyhow::Result<(Settings, PathBuf, Vec<Contender>)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    bench::check_flags(&args, FLAGS)?;
    let settings = Settings {
        replicasets: flag(&args, "replicasets", 200)?,
        replicas: flag(&args, "replicas", 5)?,
        namespaces: flag(&args, "namespaces", 10)?.max(1),
        qps: flag(&args, "qps", 50.0_f32)?.to_string(),
        burst: flag(&args, "burst", 100)?,
        workers: flag(&args, "workers", 5)?,
        timeout: Duration::from_secs(flag(&args, "timeout", 600)?),
    };
    let names: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let bin_dir = bench::k8s_bin_dir()?;
    let contenders = bench::contenders(&names, &bin_dir)?;
    Ok((settings, bin_dir, contenders))
}

/// A watch of the bench objects of one kind, aborted on drop. `on_object` returns `true` to
/// stop watching.
struct Watch(JoinHandle<()>);

impl Watch {
    fn start<K>(client: Client, mut on_object: impl FnMut(K) -> bool + Send + 'static) -> Self
    where
        K: kube::Resource<DynamicType = ()>
            + DeserializeOwned
            + Clone
            + std::fmt::Debug
            + Send
            + 'static,
    {
        let config = watcher::Config::default().labels(BENCH_LABEL);
        let mut events = watcher(Api::<K>::all(client), config)
            .default_backoff()
            .applied_objects()
            .boxed();
        Self(tokio::spawn(async move {
            while let Some(event) = events.next().await {
                if let Ok(object) = event
                    && on_object(object)
                {
                    return;
                }
            }
        }))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn rs_done(rs: &ReplicaSet) -> bool {
    let want = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    rs.status.as_ref().is_some_and(|s| {
        s.replicas == want
            && s.ready_replicas.unwrap_or(0) == want
            && s.observed_generation.is_some()
            && s.observed_generation == rs.metadata.generation
    })
}

/// Resolves with the instant the harness saw every bench ReplicaSet done.
fn watch_all_ready(client: Client, expected: usize) -> (Watch, oneshot::Receiver<Instant>) {
    let (tx, rx) = oneshot::channel();
    let mut tx = Some(tx);
    let mut done = HashSet::new();
    let watch = Watch::start(client, move |rs: ReplicaSet| {
        let key = format!("{}/{}", rs.namespace().unwrap_or_default(), rs.name_any());
        if rs_done(&rs) {
            done.insert(key);
        } else {
            done.remove(&key);
        }
        let all = done.len() == expected;
        if all && let Some(tx) = tx.take() {
            let _ = tx.send(Instant::now());
        }
        all
    });
    (watch, rx)
}

/// Per pod UID: when the harness first saw it, and how long until it saw it Ready.
type PodTimes = Arc<Mutex<HashMap<String, (Instant, Option<Duration>)>>>;

fn watch_pod_lag(client: Client, times: PodTimes) -> Watch {
    Watch::start(client, move |pod: Pod| {
        let now = Instant::now();
        let mut times = times.lock();
        let entry = times
            .entry(pod.uid().unwrap_or_default())
            .or_insert((now, None));
        if entry.1.is_none() && is_pod_ready(&pod) {
            entry.1 = Some(now - entry.0);
        }
        false
    })
}

fn replica_set(index: usize, replicas: i32) -> ReplicaSet {
    let name = format!("rs-{index:04}");
    let (key, value) = BENCH_LABEL.split_once('=').unwrap_or_default();
    let mut rs = workloads::replica_set(&name, replicas, &[("bench-rs", &name)], &[(key, value)]);
    rs.metadata.labels = Some(workloads::labels(&[(key, value)]));
    rs
}

/// (APF-exempt requests dispatched, pod creations) so far, as the apiserver counts them.
/// Also keeps the whole text in `save_to`, for a breakdown by verb and resource.
async fn apiserver_counts(admin: &Client, save_to: &Path) -> anyhow::Result<(f64, f64)> {
    let text = bench::apiserver_metrics(admin, save_to).await?;
    let pod_posts = [r#",resource="pods""#, r#"subresource="""#, r#"verb="POST""#];
    Ok((
        bench::exempt_requests(&text),
        bench::metric_sum(&text, "apiserver_request_total", &pod_posts),
    ))
}

fn controller_command(c: &Contender, s: &Settings, dir: &Path) -> std::process::Command {
    let mut command = c.command(dir);
    command.args([
        "--controllers=replicaset-controller".into(),
        format!("--concurrent-replicaset-syncs={}", s.workers),
        format!("--kube-api-qps={}", s.qps),
        format!("--kube-api-burst={}", s.burst),
    ]);
    command
}

/// Nodes, namespaces with one fake kubelet each, and a harness client that is allowed
/// everything but is not in APF's exempt level.
async fn prepare(
    plane: &ControlPlane,
    s: &Settings,
) -> anyhow::Result<(Client, Vec<String>, Vec<FakeKubelet>)> {
    let harness = plane.harness_client().await?;
    let namespaces: Api<Namespace> = Api::all(harness.clone());
    let nodes: Vec<String> = (0..NODES).map(|i| format!("bench-node-{i}")).collect();
    for node in &nodes {
        testenv::nodes::create_ready_node(&harness, node).await?;
    }
    let (mut names, mut kubelets) = (Vec::new(), Vec::new());
    for name in (0..s.namespaces).map(|i| format!("bench-{i}")) {
        let object = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
        namespaces.create(&PostParams::default(), &object).await?;
        kubelets.push(FakeKubelet::start(harness.clone(), &name, nodes.clone()));
        names.push(name);
    }
    Ok((harness, names, kubelets))
}

async fn run(c: &Contender, s: &Settings, bin_dir: &Path, dir: PathBuf) -> anyhow::Result<Outcome> {
    let plane = ControlPlane::up(dir, bin_dir)?;
    let admin = plane.client("admin.kubeconfig").await?;
    let (harness, namespaces, kubelets) = prepare(&plane, s).await?;

    let name = c.process_name();
    let command = controller_command(c, s, plane.dir());
    let mut controller = ManagedProcess::spawn_in(&plane.dir().join("processes"), name, command)?;
    controller
        .wait_for_log("Caches are synced", Duration::from_secs(60))
        .await?;
    let (pid, ticks) = (controller.pid(), bench::clock_ticks());
    let (requests_before, pods_before) =
        apiserver_counts(&admin, &plane.dir().join("metrics-before.txt")).await?;
    let cpu_before = bench::cpu_seconds(pid, ticks)?;

    let pod_times = PodTimes::default();
    let _pod_watch = watch_pod_lag(harness.clone(), pod_times.clone());
    let (_ready_watch, mut all_ready) = watch_all_ready(harness.clone(), s.replicasets);
    eprintln!("{}: creating the ReplicaSets", c.label);
    let start = Instant::now();
    futures::stream::iter(0..s.replicasets)
        .map(|i| {
            let api: Api<ReplicaSet> =
                Api::namespaced(harness.clone(), &namespaces[i % namespaces.len()]);
            async move {
                anyhow::Ok(
                    api.create(&PostParams::default(), &replica_set(i, s.replicas))
                        .await?,
                )
            }
        })
        .buffer_unordered(8)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    let ready_at = loop {
        tokio::select! {
            ready = &mut all_ready => break ready?,
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if let ProcessState::Exited(status) = controller.state() {
                    bail!("{name} exited ({status}):\n{}", controller.log_tail(30));
                }
                if start.elapsed() > s.timeout {
                    bail!("not all ready after {:?}; see {}", s.timeout, controller.log_path().display());
                }
            }
        }
    };
    let cpu_total = bench::cpu_seconds(pid, ticks)?;
    let peak_rss_mb = bench::peak_rss_mb(pid)?;
    let (requests_after, pods_after) =
        apiserver_counts(&admin, &plane.dir().join("metrics-after.txt")).await?;
    controller.terminate(Duration::from_secs(15)).await?;
    drop(kubelets);

    let mut lags: Vec<Duration> = pod_times.lock().values().filter_map(|t| t.1).collect();
    lags.sort();
    let median = lags.get(lags.len() / 2).copied().unwrap_or_default();
    Ok(Outcome {
        label: c.label.clone(),
        all_ready: ready_at - start,
        cpu_run: cpu_total - cpu_before,
        cpu_total,
        peak_rss_mb,
        requests: requests_after - requests_before,
        pod_creates: pods_after - pods_before,
        kubelet_lag: (median, lags.last().copied().unwrap_or_default()),
    })
}

fn print_table(s: &Settings, outcomes: &[Outcome]) {
    println!(
        "\n{} ReplicaSets × {} replicas over {} namespaces and {} nodes; \
         --kube-api-qps={} --kube-api-burst={}; {} workers",
        s.replicasets, s.replicas, s.namespaces, NODES, s.qps, s.burst, s.workers
    );
    let header = "all ready (s)|CPU run s|CPU total s|peak RSS (MB)|requests|pod POSTs|kubelet lag p50 / max";
    let rows: Vec<(String, Vec<String>)> = outcomes
        .iter()
        .map(|o| {
            let (p50, max) = (o.kubelet_lag.0.as_millis(), o.kubelet_lag.1.as_millis());
            let cells = vec![
                format!("{:.2}", o.all_ready.as_secs_f64()),
                format!("{:.2}", o.cpu_run),
                format!("{:.2}", o.cpu_total),
                format!("{:.1}", o.peak_rss_mb),
                o.requests.to_string(),
                o.pod_creates.to_string(),
                format!("{p50} ms / {max} ms"),
            ];
            (o.label.clone(), cells)
        })
        .collect();
    print!("{}", bench::table(header, &rows));
    println!("(columns explained at the top of tests/examples/bench_replicasets.rs)");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (settings, bin_dir, contenders) = parse_args()?;
    let root = bench::target_dir().join("bench-replicasets");
    let (outcomes, failed) = bench::run_each(
        &contenders,
        &root,
        |i, dir| run(&contenders[i], &settings, &bin_dir, dir),
        |o| format!("all ready after {:.2}s", o.all_ready.as_secs_f64()),
    )
    .await;
    print_table(&settings, &outcomes);
    anyhow::ensure!(failed == 0, "{failed} contender(s) failed");
    Ok(())
}
