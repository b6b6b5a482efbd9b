//! Workload `replicasets` (not in the default set; `make bench-replicasets`): N ReplicaSets ×
//! R replicas brought to ready, with the ReplicaSet controller. The harness creates them
//! (spread over the namespaces); the virtual node runs the pods, the harness binder binds
//! them. The clock starts at the first create and stops when every ReplicaSet reports
//! `readyReplicas == replicas == spec.replicas` for its current generation. Progress:
//! ReplicaSets ready, one list every 500 ms.

use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::{
    Api, Client,
    api::{ListParams, PostParams},
};

use super::{
    Context, Limits, Section, create_namespaces, finish, flags::Flags, for_all, measure,
    plane::ControlPlane, pods::PodRunner, poll_until, report::Measurement, steady_rss,
};
use crate::workloads;

pub const NAME: &str = "replicasets";
const LABEL: &str = "kcm-bench=replicasets";
const CONTROLLERS: [&str; 1] = ["replicaset-controller"];
const WORKER_FLAGS: [&str; 1] = ["concurrent-replicaset-syncs"];

#[derive(Debug, Clone)]
pub struct Settings {
    pub replicasets: usize,
    pub replicas: i32,
    pub namespaces: usize,
    pub nodes: usize,
    pub limits: Limits,
    pub timeout: Duration,
    pub settle: Duration,
}

impl Settings {
    pub fn from_flags(f: &Flags, quick: bool) -> anyhow::Result<Self> {
        Ok(Self {
            replicasets: f.get("replicasets", if quick { 20 } else { 200 })?,
            replicas: f.get("rs-replicas", 5)?,
            namespaces: f.get("rs-namespaces", if quick { 2 } else { 10 })?.max(1),
            nodes: f.get("nodes", if quick { 2 } else { 10 })?.max(1),
            limits: super::limits(f, 50.0, 100, 5)?,
            timeout: Duration::from_secs(f.get("timeout", 900)?),
            settle: Duration::from_secs(f.get("settle", 5)?),
        })
    }

    pub fn heading(&self) -> String {
        format!(
            "{} ReplicaSets × {} replicas over {} namespaces brought to ready; `--kube-api-qps={} \
             --kube-api-burst={}`, {} workers; pods run by the virtual node ({} nodes).",
            self.replicasets,
            self.replicas,
            self.namespaces,
            self.limits.qps,
            self.limits.burst,
            self.limits.workers,
            self.nodes
        )
    }
}

fn ready(rs: &ReplicaSet) -> bool {
    let want = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    rs.status.as_ref().is_some_and(|s| {
        s.replicas == want
            && s.ready_replicas.unwrap_or(0) == want
            && s.observed_generation.is_some()
            && s.observed_generation == rs.metadata.generation
    })
}

async fn run_one(
    c: &super::Contender,
    s: &Settings,
    bin_dir: &std::path::Path,
    dir: std::path::PathBuf,
) -> anyhow::Result<Measurement> {
    let plane = ControlPlane::up(dir, bin_dir)?;
    let harness = plane.harness_client().await?;
    let max_pods = (s.replicasets * s.replicas as usize).div_ceil(s.nodes) + 10;
    let mut runner = PodRunner::start(&plane, harness.clone(), s.nodes, max_pods).await?;
    let namespaces: Vec<String> = (0..s.namespaces).map(|i| format!("bench-rs-{i}")).collect();
    create_namespaces(&harness, &namespaces).await?;
    let mut controller = c
        .start_synced(&plane, &CONTROLLERS, &s.limits, &WORKER_FLAGS, &[])
        .await?;
    let pid = controller.pid();
    let mut m = Measurement::new(NAME, "", &c.label, c.role());
    let audit = plane.audit();
    let mut recorder = measure::Recorder::start(Some(pid));
    let (key, value) = LABEL.split_once('=').unwrap_or_default();
    for_all(0..s.replicasets, 16, |i| {
        let (harness, namespaces) = (&harness, &namespaces);
        async move {
            let name = format!("rs-{i:04}");
            let mut rs =
                workloads::replica_set(&name, s.replicas, &[("bench-rs", &name)], &[(key, value)]);
            rs.metadata.labels = Some(workloads::labels(&[(key, value)]));
            Api::<ReplicaSet>::namespaced(harness.clone(), &namespaces[i % namespaces.len()])
                .create(&PostParams::default(), &rs)
                .await
                .with_context(|| format!("creating ReplicaSet {name}"))?;
            Ok(())
        }
    })
    .await?;
    let all: Api<ReplicaSet> = Api::all(Client::clone(&harness));
    let probe = || async {
        let list = all.list(&ListParams::default().labels(LABEL)).await?;
        let n = list.items.iter().filter(|rs| ready(rs)).count();
        Ok((n as f64, n == s.replicasets))
    };
    let mut watched = [&mut controller, runner.process_mut()];
    let interval = Duration::from_millis(500);
    poll_until(&mut recorder, &mut watched, s.timeout, interval, probe).await?;
    finish(&mut m, recorder, Some(pid), &audit)?;
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
            "replicasets: {} × {} brought to ready",
            s.replicasets, s.replicas
        ),
        "ReplicaSets ready",
    );
    section
}
