//! Workload `scale`: the scale curve. Steady clusters of 5k, 10k, 20k and 40k pods, with one
//! ReplicaSet, one (headless) Service and its Endpoints per 10 pods: time from a contender's
//! start to synced caches, its CPU to get there, resident memory then and after 60 s idle,
//! and CPU seconds while idle.
//!
//! Each size gets one fresh etcd + kube-apiserver, filled by the harness: Ready Nodes (one
//! per 500 pods), 100 namespaces, the ReplicaSets with the status a controller would write for
//! pods that never start (10 replicas, none ready), their pods (about 1.4 KB of JSON each,
//! owned by their ReplicaSet, bound to a node, Pending) and the Services with Endpoints that
//! list no address, as the endpoints controller leaves them for pods without an IP. The
//! contenders then run one after the other against that cluster, each with the deployment,
//! ReplicaSet, ReplicationController, endpoints, pod GC and namespace controllers and the same limits:
//! nothing is left to do, so what they spend is the cost of caching the cluster. *synced* runs
//! from spawning the process to its log saying every controller's caches are synced.

use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::{
    apps::v1::ReplicaSet,
    core::v1::{Endpoints, Pod, Service},
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::{
    ChartSpec, Contender, Context, Limits, Section, chart, create_namespaces,
    flags::Flags,
    for_all, measure,
    plane::ControlPlane,
    report::{Column, Measurement},
};

pub const NAME: &str = "scale";
const CONTROLLERS: [&str; 6] = [
    "deployment-controller",
    "replicaset-controller",
    "replicationcontroller-controller",
    "endpoints-controller",
    "pod-garbage-collector-controller",
    "namespace-controller",
];
const PODS_PER_SET: usize = 10;
const PODS_PER_NODE: usize = 500;
const CONCURRENCY: usize = 64;

#[derive(Debug, Clone)]
pub struct Settings {
    pub sizes: Vec<usize>,
    pub namespaces: usize,
    pub idle: Duration,
    pub limits: Limits,
}

impl Settings {
    pub fn from_flags(f: &Flags, quick: bool) -> anyhow::Result<Self> {
        let default: &[usize] = if quick {
            &[500, 1000]
        } else {
            &[5000, 10_000, 20_000, 40_000]
        };
        let s = Self {
            sizes: f.list("sizes", default)?,
            namespaces: f
                .get("scale-namespaces", if quick { 10 } else { 100 })?
                .max(1),
            idle: Duration::from_secs(f.get("idle", if quick { 10 } else { 60 })?),
            limits: super::limits(f, 20.0, 30, 5)?,
        };
        anyhow::ensure!(
            s.sizes.iter().all(|&n| n >= PODS_PER_SET),
            "--sizes: every size must be at least {PODS_PER_SET} pods"
        );
        Ok(s)
    }

    pub fn heading(&self) -> String {
        format!(
            "Steady clusters of {} pods (one ReplicaSet, Service and Endpoints per {PODS_PER_SET} pods, {} \
             namespaces); controllers {}; `--kube-api-qps={} --kube-api-burst={}`; *wall* is the time from \
             start to caches synced, *CPU* the CPU seconds to get there, *steady RSS* the memory after {} s \
             idle.",
            self.sizes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            self.namespaces,
            CONTROLLERS.join(", "),
            self.limits.qps,
            self.limits.burst,
            self.idle.as_secs()
        )
    }
}

fn pod(namespace: &str, set: usize, index: usize, node: &str, rs_uid: &str) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {
            "name": format!("rs-{set:05}-{index}"),
            "namespace": namespace,
            "labels": {"app": format!("app-{set}"), "tier": "backend", "bench": "scale"},
            "annotations": {"example.com/owner-team": "payments", "example.com/revision": "3"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("rs-{set:05}"),
                "uid": rs_uid, "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {
            "nodeName": node,
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

fn replica_set(set: usize) -> anyhow::Result<ReplicaSet> {
    let app = format!("app-{set}");
    Ok(serde_json::from_value(json!({
        "metadata": { "name": format!("rs-{set:05}") },
        "spec": {
            "replicas": PODS_PER_SET,
            "selector": { "matchLabels": { "app": app } },
            "template": {
                "metadata": { "labels": { "app": app, "tier": "backend", "bench": "scale" } },
                "spec": { "containers": [{ "name": "app", "image": "registry.example.com/team/app:1.2.3" }] },
            },
        },
    }))?)
}

/// One ReplicaSet with its status, pods, Service and Endpoints.
async fn fill_set(client: &Client, s: &Settings, set: usize, nodes: usize) -> anyhow::Result<()> {
    let namespace = format!("scale-{}", set % s.namespaces);
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &namespace);
    let rs = sets
        .create(&PostParams::default(), &replica_set(set)?)
        .await
        .with_context(|| format!("creating ReplicaSet rs-{set:05}"))?;
    let uid = rs.metadata.uid.unwrap_or_default();
    let status = json!({ "status": {
        "replicas": PODS_PER_SET, "fullyLabeledReplicas": PODS_PER_SET, "readyReplicas": 0,
        "availableReplicas": 0, "terminatingReplicas": 0, "observedGeneration": rs.metadata.generation,
    }});
    sets.patch_status(
        &rs.metadata.name.unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(&status),
    )
    .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    for_all(0..PODS_PER_SET, PODS_PER_SET, |i| {
        let (pods, namespace, uid) = (&pods, &namespace, &uid);
        async move {
            let node = format!(
                "{}-{}",
                super::pods::NODE_PREFIX,
                (set * PODS_PER_SET + i) % nodes + 1
            );
            pods.create(&PostParams::default(), &pod(namespace, set, i, &node, uid)?)
                .await?;
            Ok(())
        }
    })
    .await?;
    let service: Service = serde_json::from_value(json!({
        "metadata": { "name": format!("svc-{set:05}") },
        "spec": { "clusterIP": "None", "selector": { "app": format!("app-{set}") },
            "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] },
    }))?;
    Api::<Service>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &service)
        .await?;
    // What the endpoints controller writes for a headless Service whose pods have no IP
    // (upstream's syncService: the headless and managed-by labels, no subsets).
    let endpoints: Endpoints = serde_json::from_value(json!({
        "metadata": { "name": format!("svc-{set:05}"), "labels": {
            "service.kubernetes.io/headless": "",
            "endpoints.kubernetes.io/managed-by": "endpoint-controller",
        } },
    }))?;
    Api::<Endpoints>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &endpoints)
        .await?;
    Ok(())
}

async fn fill(client: &Client, s: &Settings, pods: usize) -> anyhow::Result<()> {
    let nodes = pods.div_ceil(PODS_PER_NODE);
    for i in 1..=nodes {
        crate::nodes::create_ready_node(client, &format!("{}-{i}", super::pods::NODE_PREFIX))
            .await?;
    }
    let namespaces: Vec<String> = (0..s.namespaces).map(|i| format!("scale-{i}")).collect();
    create_namespaces(client, &namespaces).await?;
    let started = std::time::Instant::now();
    for_all(0..pods / PODS_PER_SET, CONCURRENCY / PODS_PER_SET, |set| {
        fill_set(client, s, set, nodes)
    })
    .await?;
    tracing::info!(
        "  filled {pods} pods in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Spawns the contender against the filled cluster and measures it until it has idled.
async fn measure_one(
    c: &Contender,
    plane: &ControlPlane,
    s: &Settings,
    pods: usize,
) -> anyhow::Result<Measurement> {
    let command = c.command(plane.dir(), &CONTROLLERS, &s.limits, &[], &[]);
    let mut m = Measurement::new(NAME, &format!("{pods} pods"), &c.label, c.role());
    let audit = plane.audit();
    let mut process =
        crate::ManagedProcess::spawn_in(&plane.processes_dir(), c.process_name(), command)?;
    let pid = process.pid();
    let mut recorder = measure::Recorder::start(Some(pid));
    measure::wait_synced(&mut process, CONTROLLERS.len(), Duration::from_secs(300)).await?;
    let synced = recorder.elapsed().as_secs_f64();
    let cpu_synced = recorder.cpu().unwrap_or(0.0);
    let rss_synced = measure::rss_mb(pid)?;
    recorder.sample(rss_synced);
    let idle_end = tokio::time::Instant::now() + s.idle;
    while tokio::time::Instant::now() < idle_end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        measure::check_running(&mut process)?;
        recorder.sample(measure::rss_mb(pid)?);
    }
    m.wall_s = synced;
    m.cpu_s = Some(cpu_synced);
    m.peak_rss_mb = Some(measure::peak_rss_mb(pid)?);
    m.steady_rss_mb = Some(measure::rss_mb(pid)?);
    m.figures.insert("pods".into(), pods as f64);
    m.figures.insert("RSS synced (MB)".into(), rss_synced);
    m.figures.insert(
        "idle CPU (s)".into(),
        recorder.cpu().unwrap_or(0.0) - cpu_synced,
    );
    m.requests = Some(audit.requests()?);
    m.samples = recorder.samples;
    process.terminate(Duration::from_secs(15)).await?;
    Ok(m)
}

pub async fn run(ctx: &Context, s: &Settings) -> Section {
    let mut section = Section::new(NAME, s.heading());
    section.columns = vec![
        Column {
            title: "synced (s)",
            value: |m| Some(m.wall_s),
            digits: 2,
        },
        Column {
            title: "CPU to sync (s)",
            value: |m| m.cpu_s,
            digits: 2,
        },
        Column {
            title: "RSS synced (MB)",
            value: |m| m.figure("RSS synced (MB)"),
            digits: 1,
        },
        Column {
            title: "RSS idle (MB)",
            value: |m| m.steady_rss_mb,
            digits: 1,
        },
        Column {
            title: "peak RSS (MB)",
            value: |m| m.peak_rss_mb,
            digits: 1,
        },
        Column {
            title: "idle CPU (s)",
            value: |m| m.figure("idle CPU (s)"),
            digits: 2,
        },
        Column {
            title: "requests",
            value: |m| m.requests.as_ref().map(|r| r.total as f64),
            digits: 0,
        },
    ];
    let contenders: Vec<&Contender> = ctx
        .contenders
        .iter()
        .filter(|c| {
            let missing = CONTROLLERS.iter().find(|n| !c.implements(n));
            if let Some(missing) = missing {
                section.skip(&c.label, format!("this build has no {missing}"));
            }
            missing.is_none()
        })
        .collect();
    for &pods in &s.sizes {
        tracing::info!("== scale: {pods} pods: fresh etcd + kube-apiserver");
        let result = async {
            let plane =
                ControlPlane::up(ctx.out_dir.join(NAME).join(pods.to_string()), &ctx.bin_dir)?;
            let harness = plane.harness_client().await?;
            fill(&harness, s, pods).await?;
            let mut out = Vec::new();
            for c in &contenders {
                match measure_one(c, &plane, s, pods).await {
                    Ok(m) => {
                        tracing::info!(
                            "== scale: {pods} pods: {}: synced in {:.2} s, RSS {:.1} MB",
                            c.label,
                            m.wall_s,
                            m.steady_rss_mb.unwrap_or(0.0)
                        );
                        out.push(Ok(m));
                    }
                    Err(e) => out.push(Err((c.label.clone(), e))),
                }
            }
            anyhow::Ok(out)
        }
        .await;
        match result {
            Ok(outcomes) => {
                for outcome in outcomes {
                    match outcome {
                        Ok(m) => section.measurements.push(m),
                        Err((label, e)) => section
                            .skip(&format!("{label} ({pods} pods)"), format!("failed: {e:#}")),
                    }
                }
            }
            Err(e) => section.skip(&format!("{pods} pods"), format!("failed: {e:#}")),
        }
    }
    let mut series = Vec::new();
    for c in &contenders {
        let role = c.role();
        let rows: Vec<&Measurement> = section
            .measurements
            .iter()
            .filter(|m| m.contender == c.label)
            .collect();
        let points = |f: fn(&Measurement) -> Option<f64>| -> Vec<(f64, f64)> {
            rows.iter()
                .filter_map(|m| Some((m.figure("pods")?, f(m)?)))
                .collect()
        };
        series.push(chart::Series {
            label: format!("{} after sync", c.label),
            color: chart::color(role, ""),
            points: points(|m| m.figure("RSS synced (MB)")),
        });
        series.push(chart::Series {
            label: format!("{} after {} s idle", c.label, s.idle.as_secs()),
            color: chart::color(role, "idle"),
            points: points(|m| m.steady_rss_mb),
        });
    }
    section.charts.push((
        NAME.to_owned(),
        ChartSpec {
            title: "scale: resident memory against cluster size".into(),
            x_desc: "pods in the cluster".into(),
            y_desc: "RSS (MB)".into(),
            series,
        },
    ));
    section
}
