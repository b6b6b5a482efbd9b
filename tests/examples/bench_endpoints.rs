//! Benchmark: the endpoints controller of kcm-rs and of the upstream kube-controller-manager
//! keeping S Services × P pods' Endpoints correct while the pods appear and every pod's
//! readiness flips to not ready and back, and what each process costs doing it.
//!
//! ```text
//! cargo run -p kcm-tests --example bench_endpoints -- [--key=value ...] [CONTENDER ...]
//!   CONTENDER  upstream | upstream-protobuf | debug | release | PATH-to-a-kcm-rs-binary
//!              (default: upstream, debug, and release when target/release/kcm-rs exists)
//!   --services=500 --pods=20 (per Service) --namespaces=10 --qps=20 --burst=30 --timeout=900
//! ```
//!
//! The harness (an identity outside APF's exempt level, no client-side limit) creates the
//! Services (headless: the test service CIDR holds a few hundred cluster IPs) spread over the
//! namespaces, then their pods bound to one Node with a Running/Ready
//! status written through `pods/status` (no kubelet). *create* is the time from the first
//! Service created until every Endpoints object lists its P pods as ready. Then every pod is
//! reported not ready, and once every object lists them all as not ready, ready again; *flip*
//! runs from the first not-ready report until everything is ready again. Correctness is read
//! with one LIST of all Endpoints every 500 ms. Both contenders run with the same
//! `--kube-api-qps`/`--kube-api-burst`, `--controllers=endpoints-controller`, the admin identity
//! and the default batch period (0), each on its own fresh etcd + kube-apiserver.
//!
//! Columns: *writes* are the POST/PUT/DELETE requests on `endpoints` the apiserver served
//! during both phases (`apiserver_request_total`); *CPU s* the controller's utime+stime over
//! both phases; *peak RSS* its `VmHWM`.
//!
//! [`run_workload`] is the whole measurement for one contender, callable from a bundle.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde_json::json;
use testenv::{
    ManagedProcess,
    bench::{self, Contender, ControlPlane, flag},
    nodes::create_ready_node,
    process::ProcessState,
};
use tokio::time::Instant;

const FLAGS: &str = "services pods namespaces qps burst timeout";
/// How many harness requests are kept in flight.
const CONCURRENCY: usize = 32;
const NODE: &str = "bench-node";

/// The workload's knobs (`--key=value`).
#[derive(Clone, Debug)]
pub struct Settings {
    pub services: usize,
    pub pods: usize,
    pub namespaces: usize,
    pub qps: String,
    pub burst: u32,
    pub timeout: Duration,
}

/// What one contender achieved.
#[derive(Debug)]
pub struct Outcome {
    pub label: String,
    pub create: Duration,
    pub flip: Duration,
    pub writes: f64,
    pub cpu: f64,
    pub peak_rss_mb: f64,
}

fn parse_args() -> anyhow::Result<(Settings, PathBuf, Vec<Contender>)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    bench::check_flags(&args, FLAGS)?;
    let settings = Settings {
        services: flag(&args, "services", 500)?,
        pods: flag(&args, "pods", 20)?,
        namespaces: flag(&args, "namespaces", 10)?.max(1),
        qps: flag(&args, "qps", 20.0_f32)?.to_string(),
        burst: flag(&args, "burst", 30)?,
        timeout: Duration::from_secs(flag(&args, "timeout", 900)?),
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

fn namespace(s: &Settings, service: usize) -> String {
    format!("bench-ep-{}", service % s.namespaces)
}

/// Pod `p` of Service `svc`: its name and a unique IP.
fn pod_identity(s: &Settings, svc: usize, p: usize) -> (String, String) {
    let n = svc * s.pods + p;
    (
        format!("s{svc}-p{p}"),
        format!("10.{}.{}.{}", 100 + n / 62500, (n / 250) % 250, n % 250 + 1),
    )
}

async fn create_services(client: &Client, s: &Settings) -> anyhow::Result<()> {
    for ns in 0..s.namespaces {
        let object: Namespace =
            serde_json::from_value(json!({ "metadata": { "name": format!("bench-ep-{ns}") } }))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &object)
            .await?;
    }
    futures::stream::iter(0..s.services)
        .map(|svc| async move {
            let object: Service = serde_json::from_value(json!({
                "metadata": { "name": format!("s{svc}") },
                // Headless: the test environment's service CIDR has room for a few hundred
                // cluster IPs only, and the controller treats both kinds alike.
                "spec": { "clusterIP": "None", "selector": { "svc": format!("s{svc}") },
                    "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] },
            }))?;
            Api::<Service>::namespaced(client.clone(), &namespace(s, svc))
                .create(&PostParams::default(), &object)
                .await
                .with_context(|| format!("creating Service s{svc}"))?;
            anyhow::Ok(())
        })
        .buffer_unordered(CONCURRENCY)
        .try_for_each(|()| async { Ok(()) })
        .await
}

fn status(ip: &str, ready: bool) -> serde_json::Value {
    json!({ "status": {
        "phase": "Running", "podIP": ip, "podIPs": [{ "ip": ip }],
        "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" },
            "lastTransitionTime": jiff::Timestamp::now().to_string() }],
    }})
}

async fn create_pods(client: &Client, s: &Settings) -> anyhow::Result<()> {
    let all = (0..s.services).flat_map(|svc| (0..s.pods).map(move |p| (svc, p)));
    futures::stream::iter(all)
        .map(|(svc, p)| async move {
            let (name, ip) = pod_identity(s, svc, p);
            let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace(s, svc));
            let pod: Pod = serde_json::from_value(json!({
                "metadata": { "name": name, "labels": { "svc": format!("s{svc}") } },
                "spec": { "nodeName": NODE,
                    "containers": [{ "name": "c", "image": "registry.invalid/never-pulled:1" }] },
            }))?;
            pods.create(&PostParams::default(), &pod)
                .await
                .with_context(|| format!("creating pod {name}"))?;
            pods.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&status(&ip, true)),
            )
            .await
            .with_context(|| format!("reporting pod {name} ready"))?;
            anyhow::Ok(())
        })
        .buffer_unordered(CONCURRENCY)
        .try_for_each(|()| async { Ok(()) })
        .await
}

async fn set_readiness(client: &Client, s: &Settings, ready: bool) -> anyhow::Result<()> {
    let all = (0..s.services).flat_map(|svc| (0..s.pods).map(move |p| (svc, p)));
    futures::stream::iter(all)
        .map(|(svc, p)| async move {
            let (name, ip) = pod_identity(s, svc, p);
            Api::<Pod>::namespaced(client.clone(), &namespace(s, svc))
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(&status(&ip, ready)),
                )
                .await
                .with_context(|| format!("reporting pod {name} ready={ready}"))?;
            anyhow::Ok(())
        })
        .buffer_unordered(CONCURRENCY)
        .try_for_each(|()| async { Ok(()) })
        .await
}

/// How many Services' Endpoints list all their pods with the wanted readiness.
async fn correct(client: &Client, s: &Settings, ready: bool) -> anyhow::Result<usize> {
    let list = Api::<Endpoints>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let by_key: BTreeMap<(String, String), &Endpoints> = list
        .items
        .iter()
        .map(|e| {
            (
                (
                    e.metadata.namespace.clone().unwrap_or_default(),
                    e.metadata.name.clone().unwrap_or_default(),
                ),
                e,
            )
        })
        .collect();
    let mut good = 0;
    for svc in 0..s.services {
        let Some(e) = by_key.get(&(namespace(s, svc), format!("s{svc}"))) else {
            continue;
        };
        let (want, other): (usize, usize) = e.subsets.iter().flatten().fold((0, 0), |acc, sub| {
            let r = sub.addresses.as_ref().map_or(0, Vec::len);
            let n = sub.not_ready_addresses.as_ref().map_or(0, Vec::len);
            if ready {
                (acc.0 + r, acc.1 + n)
            } else {
                (acc.0 + n, acc.1 + r)
            }
        });
        if want == s.pods && other == 0 {
            good += 1;
        }
    }
    Ok(good)
}

async fn wait_correct(
    client: &Client,
    s: &Settings,
    ready: bool,
    controller: &mut ManagedProcess,
    start: Instant,
) -> anyhow::Result<Duration> {
    loop {
        match correct(client, s, ready).await {
            Ok(n) if n == s.services => return Ok(start.elapsed()),
            Ok(_) => {}
            Err(e) => eprintln!("  listing endpoints: {e}"),
        }
        if let ProcessState::Exited(status) = controller.state() {
            bail!("controller exited ({status}):\n{}", controller.log_tail(30));
        }
        if start.elapsed() > s.timeout {
            bail!(
                "not correct after {:?}; see {}",
                s.timeout,
                controller.log_path().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn endpoint_writes(metrics: &str) -> f64 {
    ["POST", "PUT", "DELETE"]
        .iter()
        .map(|verb| {
            bench::metric_sum(
                metrics,
                "apiserver_request_total",
                &["resource=\"endpoints\"", &format!("verb=\"{verb}\"")],
            )
        })
        .sum()
}

/// The whole measurement for one contender on a fresh control plane in `dir`.
pub async fn run_workload(
    c: &Contender,
    s: &Settings,
    bin_dir: &std::path::Path,
    dir: PathBuf,
) -> anyhow::Result<Outcome> {
    let plane = ControlPlane::up(dir, bin_dir)?;
    let admin = plane.client("admin.kubeconfig").await?;
    let harness = plane.harness_client().await?;
    create_ready_node(&harness, NODE).await?;

    let mut command = c.command(plane.dir());
    command.args([
        "--controllers=endpoints-controller".to_owned(),
        format!("--kube-api-qps={}", s.qps),
        format!("--kube-api-burst={}", s.burst),
    ]);
    let name = c.process_name();
    let mut controller = ManagedProcess::spawn_in(&plane.dir().join("processes"), name, command)?;
    controller
        .wait_for_log("Caches are synced", Duration::from_secs(60))
        .await?;

    let (pid, ticks) = (controller.pid(), bench::clock_ticks());
    let before = bench::apiserver_metrics(&admin, &plane.dir().join("metrics-before.txt")).await?;
    let cpu_before = bench::cpu_seconds(pid, ticks)?;

    eprintln!(
        "{}: creating {} Services x {} pods",
        c.label, s.services, s.pods
    );
    let start = Instant::now();
    create_services(&harness, s).await?;
    create_pods(&harness, s).await?;
    eprintln!("  created in {:.1}s", start.elapsed().as_secs_f64());
    let create = wait_correct(&harness, s, true, &mut controller, start).await?;

    eprintln!("{}: flipping every pod not ready and back", c.label);
    let start = Instant::now();
    set_readiness(&harness, s, false).await?;
    wait_correct(&harness, s, false, &mut controller, start).await?;
    set_readiness(&harness, s, true).await?;
    let flip = wait_correct(&harness, s, true, &mut controller, start).await?;

    let cpu = bench::cpu_seconds(pid, ticks)? - cpu_before;
    let peak_rss_mb = bench::peak_rss_mb(pid)?;
    let after = bench::apiserver_metrics(&admin, &plane.dir().join("metrics-after.txt")).await?;
    controller.terminate(Duration::from_secs(15)).await?;
    Ok(Outcome {
        label: c.label.clone(),
        create,
        flip,
        writes: endpoint_writes(&after) - endpoint_writes(&before),
        cpu,
        peak_rss_mb,
    })
}

fn print_table(s: &Settings, outcomes: &[Outcome]) {
    println!(
        "\n{} Services x {} pods over {} namespaces; --kube-api-qps={} --kube-api-burst={}",
        s.services, s.pods, s.namespaces, s.qps, s.burst
    );
    let header = "create (s)|flip (s)|writes|CPU s|peak RSS (MB)";
    let rows: Vec<(String, Vec<String>)> = outcomes
        .iter()
        .map(|o| {
            let cells = vec![
                format!("{:.1}", o.create.as_secs_f64()),
                format!("{:.1}", o.flip.as_secs_f64()),
                o.writes.to_string(),
                format!("{:.2}", o.cpu),
                format!("{:.1}", o.peak_rss_mb),
            ];
            (o.label.clone(), cells)
        })
        .collect();
    print!("{}", bench::table(header, &rows));
    println!("(columns explained at the top of tests/examples/bench_endpoints.rs)");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (settings, bin_dir, contenders) = parse_args()?;
    let root = bench::target_dir().join("bench-endpoints");
    let (outcomes, failed) = bench::run_each(
        &contenders,
        &root,
        |i, dir| run_workload(&contenders[i], &settings, &bin_dir, dir),
        |o| {
            format!(
                "create {:.1}s, flip {:.1}s",
                o.create.as_secs_f64(),
                o.flip.as_secs_f64()
            )
        },
    )
    .await;
    print_table(&settings, &outcomes);
    anyhow::ensure!(failed == 0, "{failed} contender(s) failed");
    Ok(())
}
