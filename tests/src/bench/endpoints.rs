//! Workload `endpoints`: S Services × P pods, every pod then flipped not ready and back, with
//! the endpoints controller.
//!
//! The harness creates headless Services (the test service CIDR holds a few hundred cluster
//! IPs only; the controller treats both kinds alike) spread over the namespaces, then their
//! pods with `spec.nodeName` set round robin to the virtual node's nodes, which run them
//! (Running, Ready, an IP each). The flip: the harness sets the virtual node's
//! `kcm-virtual-node.io/never-ready` annotation on every pod (the node reports it not ready),
//! and once every Endpoints object lists its pods as not ready, removes it again. The clock
//! starts at the first Service create; *create* ends when every Endpoints object lists its P
//! pods ready, *flip* when, after both flips, it does again. Correctness is read with one LIST
//! of all Endpoints every 500 ms; progress is Services correct (0..S create, S..2S not ready,
//! 2S..3S ready again).

use std::{collections::BTreeMap, time::Duration};

use anyhow::Context as _;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::{
    Context, Limits, Section, create_namespaces, finish,
    flags::Flags,
    for_all, measure,
    plane::ControlPlane,
    pods::{NODE_PREFIX, PodRunner},
    poll_until,
    report::Measurement,
    steady_rss,
};

pub const NAME: &str = "endpoints";
const CONTROLLERS: [&str; 1] = ["endpoints-controller"];
const WORKER_FLAGS: [&str; 1] = ["concurrent-endpoint-syncs"];
/// Harness requests in flight.
const CONCURRENCY: usize = 32;
const NEVER_READY: &str = "kcm-virtual-node.io/never-ready";

#[derive(Debug, Clone)]
pub struct Settings {
    pub services: usize,
    pub pods: usize,
    pub namespaces: usize,
    pub nodes: usize,
    pub limits: Limits,
    pub timeout: Duration,
    pub settle: Duration,
}

impl Settings {
    pub fn from_flags(f: &Flags, quick: bool) -> anyhow::Result<Self> {
        let s = Self {
            services: f.get("services", if quick { 20 } else { 500 })?,
            pods: f.get("pods-per-service", if quick { 5 } else { 20 })?,
            namespaces: f
                .get("endpoint-namespaces", if quick { 2 } else { 10 })?
                .max(1),
            nodes: f.get("nodes", if quick { 2 } else { 10 })?.max(1),
            limits: super::limits(f, 20.0, 30, 5)?,
            timeout: Duration::from_secs(f.get("timeout", 900)?),
            settle: Duration::from_secs(f.get("settle", 5)?),
        };
        anyhow::ensure!(
            s.services > 0 && s.pods > 0,
            "--services and --pods-per-service must be positive"
        );
        Ok(s)
    }

    pub fn heading(&self) -> String {
        format!(
            "{} headless Services × {} pods over {} namespaces created, then every pod flipped not ready \
             and back; `--kube-api-qps={} --kube-api-burst={}`, {} workers; pods run by the virtual node \
             ({} nodes).",
            self.services,
            self.pods,
            self.namespaces,
            self.limits.qps,
            self.limits.burst,
            self.limits.workers,
            self.nodes
        )
    }

    fn namespace(&self, service: usize) -> String {
        format!("bench-ep-{}", service % self.namespaces)
    }

    fn all_pods(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.services).flat_map(move |svc| (0..self.pods).map(move |p| (svc, p)))
    }
}

async fn create_services(client: &Client, s: &Settings) -> anyhow::Result<()> {
    for_all(0..s.services, CONCURRENCY, |svc| async move {
        let object: Service = serde_json::from_value(json!({
            "metadata": { "name": format!("s{svc}") },
            "spec": { "clusterIP": "None", "selector": { "svc": format!("s{svc}") },
                "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] },
        }))?;
        Api::<Service>::namespaced(client.clone(), &s.namespace(svc))
            .create(&PostParams::default(), &object)
            .await
            .with_context(|| format!("creating Service s{svc}"))?;
        Ok(())
    })
    .await
}

async fn create_pods(client: &Client, s: &Settings) -> anyhow::Result<()> {
    for_all(
        s.all_pods().enumerate(),
        CONCURRENCY,
        |(n, (svc, p))| async move {
            let name = format!("s{svc}-p{p}");
            let pod: Pod = serde_json::from_value(json!({
                "metadata": { "name": name, "labels": { "svc": format!("s{svc}") } },
                "spec": { "nodeName": format!("{NODE_PREFIX}-{}", n % s.nodes + 1),
                    "containers": [{ "name": "c", "image": "registry.invalid/never-pulled:1" }] },
            }))?;
            Api::<Pod>::namespaced(client.clone(), &s.namespace(svc))
                .create(&PostParams::default(), &pod)
                .await
                .with_context(|| format!("creating pod {name}"))?;
            Ok(())
        },
    )
    .await
}

/// Tells the virtual node to report every pod not ready (`ready == false`) or ready again.
async fn set_readiness(client: &Client, s: &Settings, ready: bool) -> anyhow::Result<()> {
    let value = if ready { json!(null) } else { json!("true") };
    let patch = json!({ "metadata": { "annotations": { NEVER_READY: value } } });
    for_all(s.all_pods(), CONCURRENCY, |(svc, p)| {
        let patch = &patch;
        async move {
            let name = format!("s{svc}-p{p}");
            Api::<Pod>::namespaced(client.clone(), &s.namespace(svc))
                .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .with_context(|| format!("flipping pod {name} ready={ready}"))?;
            Ok(())
        }
    })
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
            let key = (
                e.metadata.namespace.clone().unwrap_or_default(),
                e.metadata.name.clone().unwrap_or_default(),
            );
            (key, e)
        })
        .collect();
    let mut good = 0;
    for svc in 0..s.services {
        let Some(e) = by_key.get(&(s.namespace(svc), format!("s{svc}"))) else {
            continue;
        };
        let (want, other) = e.subsets.iter().flatten().fold((0, 0), |acc, sub| {
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

async fn run_one(
    c: &super::Contender,
    s: &Settings,
    bin_dir: &std::path::Path,
    dir: std::path::PathBuf,
) -> anyhow::Result<Measurement> {
    let plane = ControlPlane::up(dir, bin_dir)?;
    let harness = plane.harness_client().await?;
    let max_pods = (s.services * s.pods).div_ceil(s.nodes) + 10;
    let mut runner = PodRunner::start(&plane, harness.clone(), s.nodes, max_pods).await?;
    let namespaces: Vec<String> = (0..s.namespaces).map(|i| format!("bench-ep-{i}")).collect();
    create_namespaces(&harness, &namespaces).await?;
    let mut controller = c
        .start_synced(&plane, &CONTROLLERS, &s.limits, &WORKER_FLAGS, &[])
        .await?;
    let pid = controller.pid();
    let mut m = Measurement::new(NAME, "", &c.label, c.role());

    let audit = plane.audit();
    let mut recorder = measure::Recorder::start(Some(pid));
    tracing::info!("  creating {} Services × {} pods", s.services, s.pods);
    create_services(&harness, s).await?;
    create_pods(&harness, s).await?;
    let progress = |ready: bool, base: usize| {
        let harness = &harness;
        move || async move {
            let n = correct(harness, s, ready).await?;
            Ok(((base + n) as f64, n == s.services))
        }
    };
    let interval = Duration::from_millis(500);
    let mut watched = [&mut controller, runner.process_mut()];
    poll_until(
        &mut recorder,
        &mut watched,
        s.timeout,
        interval,
        progress(true, 0),
    )
    .await?;
    let created = recorder.elapsed().as_secs_f64();
    tracing::info!("  all ready after {created:.1} s; flipping");
    set_readiness(&harness, s, false).await?;
    let base = s.services;
    poll_until(
        &mut recorder,
        &mut watched,
        s.timeout,
        interval,
        progress(false, base),
    )
    .await?;
    let not_ready = recorder.elapsed().as_secs_f64();
    set_readiness(&harness, s, true).await?;
    let base = 2 * s.services;
    poll_until(
        &mut recorder,
        &mut watched,
        s.timeout,
        interval,
        progress(true, base),
    )
    .await?;
    finish(&mut m, recorder, Some(pid), &audit)?;
    m.phases = vec![
        ("create".into(), created),
        ("not ready".into(), not_ready - created),
        ("ready".into(), m.wall_s - not_ready),
    ];
    if let Some(cpu) = runner.cpu_seconds() {
        m.figures.insert("virtual node CPU s".into(), cpu);
    }
    m.steady_rss_mb = Some(steady_rss(pid, s.settle).await?);
    controller.terminate(Duration::from_secs(15)).await?;
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
            "endpoints: {} Services × {} pods, flipped not ready and back",
            s.services, s.pods
        ),
        "Services correct (create 0..S, not ready S..2S, ready 2S..3S)",
    );
    section
}
