//! Benchmark: what caching a large cluster's pods costs kcm-rs and the upstream
//! kube-controller-manager — time from start to synced caches, CPU seconds to get there, and
//! memory once synced — at several cluster sizes (the scale curve's first piece).
//!
//! ```text
//! cargo run --release -p kcm-tests --example bench_scale -- [--key=value ...] [CONTENDER ...]
//!   CONTENDER  upstream | upstream-protobuf | debug | release | PATH (default: upstream release)
//!   --sizes=20000,40000 --namespaces=100 --settle=10 (seconds after sync before reading RSS)
//! ```
//!
//! Each size gets one fresh etcd + kube-apiserver holding that many unowned pods (about 1.2 KB
//! of JSON each, spread over the namespaces). The contenders then run one after the other
//! against it with the ReplicaSet and ReplicationController controllers (which watch pods and
//! select none of these), the same admin identity and default client limits, upstream with
//! JSON. *synced* is the time from spawning the process to its log saying every controller's
//! caches are synced; *CPU to sync* is its utime+stime then; *RSS* is `VmRSS` after `--settle`
//! seconds more, and *peak* is `VmHWM`; *per pod* is RSS minus the same contender's RSS in an
//! empty cluster, divided by the pod count.

use std::{path::Path, time::Duration};

use anyhow::bail;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::{Api, Client, api::PostParams};
use serde_json::json;
use testenv::{
    ManagedProcess,
    bench::{
        Contender, ControlPlane, check_flags, clock_ticks, contenders, cpu_seconds, flag,
        k8s_bin_dir, peak_rss_mb, rss_mb, target_dir,
    },
};
use tokio::time::Instant;

const FLAGS: &str = "sizes namespaces settle";

struct Settings {
    sizes: Vec<usize>,
    namespaces: usize,
    settle: Duration,
}

struct Outcome {
    label: String,
    pods: usize,
    synced: Duration,
    cpu: f64,
    rss_mb: f64,
    peak_mb: f64,
}

fn pod(namespace: &str, index: usize) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {
            "name": format!("scale-{index:06}"),
            "namespace": namespace,
            "labels": {"app": format!("app-{}", index % 50), "tier": "backend", "bench": "scale"},
            "annotations": {"example.com/owner-team": "payments", "example.com/revision": "3"},
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.example.com/team/app:1.2.3",
                "args": ["--listen=:8080", "--log-level=info"],
                "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}],
                "env": [
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "MODE", "value": "production"}
                ],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5}
            }],
            "terminationGracePeriodSeconds": 30
        }
    }))?)
}

async fn fill(client: &Client, s: &Settings, count: usize) -> anyhow::Result<()> {
    let namespaces: Vec<String> = (0..s.namespaces).map(|i| format!("scale-{i}")).collect();
    let api: Api<Namespace> = Api::all(client.clone());
    for name in &namespaces {
        let object = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
        api.create(&PostParams::default(), &object).await?;
    }
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let namespace = &namespaces[i % namespaces.len()];
            let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
            async move {
                let pod = pod(namespace, i)?;
                api.create(&PostParams::default(), &pod).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_for_each(|()| async { Ok(()) })
        .await?;
    eprintln!(
        "created {count} pods in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Spawns the contender and measures it until its caches are synced and it has settled.
async fn measure(
    c: &Contender,
    plane: &ControlPlane,
    s: &Settings,
    pods: usize,
) -> anyhow::Result<Outcome> {
    let mut command = c.command(plane.dir());
    command.arg("--controllers=replicaset-controller,replicationcontroller-controller");
    let name = format!(
        "{}-{pods}",
        if c.upstream.is_some() {
            "upstream"
        } else {
            "kcm-rs"
        }
    );
    let started = Instant::now();
    let mut process = ManagedProcess::spawn_in(&plane.dir().join("processes"), &name, command)?;
    let (pid, ticks) = (process.pid(), clock_ticks());
    // Both controllers report their caches synced.
    let synced = loop {
        let log = std::fs::read_to_string(process.log_path()).unwrap_or_default();
        if log.matches("Caches are synced").count() >= 2 {
            break started.elapsed();
        }
        if let testenv::process::ProcessState::Exited(status) = process.state() {
            bail!("{name} exited ({status}):\n{}", process.log_tail(30));
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("{name} not synced after 300 s:\n{}", process.log_tail(30));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let cpu = cpu_seconds(pid, ticks)?;
    tokio::time::sleep(s.settle).await;
    let outcome = Outcome {
        label: c.label.clone(),
        pods,
        synced,
        cpu,
        rss_mb: rss_mb(pid)?,
        peak_mb: peak_rss_mb(pid)?,
    };
    process.terminate(Duration::from_secs(15)).await?;
    Ok(outcome)
}

fn print_table(outcomes: &[Outcome]) {
    println!(
        "\n| contender | pods | synced (s) | CPU to sync (s) | RSS (MB) | peak (MB) | per pod (bytes) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for o in outcomes {
        let empty = outcomes
            .iter()
            .find(|e| e.label == o.label && e.pods == 0)
            .map_or(0.0, |e| e.rss_mb);
        let per_pod = if o.pods == 0 {
            "-".to_owned()
        } else {
            format!(
                "{:.0}",
                (o.rss_mb - empty) * 1024.0 * 1024.0 / o.pods as f64
            )
        };
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {per_pod} |",
            o.label,
            o.pods,
            o.synced.as_secs_f64(),
            o.cpu,
            o.rss_mb,
            o.peak_mb
        );
    }
    let sizes: Vec<usize> = outcomes.iter().map(|o| o.pods).filter(|&p| p > 0).collect();
    for pods in sizes
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let at = |upstream: bool| {
            outcomes
                .iter()
                .find(|o| o.pods == pods && o.label.starts_with("upstream") == upstream)
        };
        if let (Some(up), Some(rs)) = (at(true), at(false)) {
            println!(
                "{pods} pods, kcm-rs / upstream: RSS {:.2}, time to synced {:.2}, CPU to sync {:.2}",
                rs.rss_mb / up.rss_mb,
                rs.synced.as_secs_f64() / up.synced.as_secs_f64(),
                rs.cpu / up.cpu
            );
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    check_flags(&args, FLAGS)?;
    let sizes: String = flag(&args, "sizes", "20000,40000".to_owned())?;
    let mut sizes: Vec<usize> = sizes
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("--sizes: {e}"))?;
    sizes.insert(0, 0);
    let settings = Settings {
        sizes,
        namespaces: flag(&args, "namespaces", 100)?.max(1),
        settle: Duration::from_secs(flag(&args, "settle", 10)?),
    };
    let bin_dir = k8s_bin_dir()?;
    let mut names: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    if names.is_empty() {
        names = vec!["upstream", "release"];
    }
    let contenders = contenders(&names, &bin_dir)?;
    let root = target_dir().join("bench-scale");
    let mut outcomes = Vec::new();
    for &pods in &settings.sizes {
        eprintln!("== {pods} pods: starting a fresh etcd + kube-apiserver");
        let plane = ControlPlane::up(root.join(pods.to_string()), Path::new(&bin_dir))?;
        let admin = plane.client("admin.kubeconfig").await?;
        fill(&admin, &settings, pods).await?;
        for contender in &contenders {
            let outcome = measure(contender, &plane, &settings, pods).await?;
            eprintln!(
                "{}: {pods} pods synced in {:.2}s, RSS {:.1} MB",
                outcome.label,
                outcome.synced.as_secs_f64(),
                outcome.rss_mb
            );
            outcomes.push(outcome);
        }
    }
    print_table(&outcomes);
    Ok(())
}
