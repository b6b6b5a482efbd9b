//! Workload `deployments`: D Deployments × R replicas created and brought to available, then
//! every one rolled to a new pod template (the default RollingUpdate strategy, 25 % surge and
//! unavailable), with the deployment and ReplicaSet controllers.
//!
//! The harness creates the Deployments (spread over the namespaces) and then patches their
//! templates; the virtual node runs the pods, a binder in the harness binds them. The clock
//! starts at the first create; *create* ends when every Deployment reports
//! `observedGeneration == generation` and `replicas == updatedReplicas == availableReplicas ==
//! R`, *roll* when the same holds again after the patch (old pods gone). Progress: Deployments
//! done, 0..D while creating and D..2D while rolling, read by one list every 500 ms.

use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::{
    Context, Limits, Section, create_namespaces, finish, flags::Flags, for_all, measure,
    plane::ControlPlane, pods::PodRunner, poll_until, report::Measurement, steady_rss,
};

pub const NAME: &str = "deployments";
pub const LABEL: &str = "kcm-bench=deployments";
pub const CONTROLLERS: [&str; 2] = ["deployment-controller", "replicaset-controller"];
const WORKER_FLAGS: [&str; 2] = ["concurrent-deployment-syncs", "concurrent-replicaset-syncs"];
/// Harness creates and patches in flight.
const CONCURRENCY: usize = 16;

#[derive(Debug, Clone)]
pub struct Settings {
    pub deployments: usize,
    pub replicas: i32,
    pub namespaces: usize,
    pub nodes: usize,
    pub limits: Limits,
    pub timeout: Duration,
    pub settle: Duration,
}

impl Settings {
    pub fn from_flags(f: &Flags, quick: bool) -> anyhow::Result<Self> {
        let s = Self {
            deployments: f.get("deployments", if quick { 20 } else { 200 })?,
            replicas: f.get("deployment-replicas", if quick { 4 } else { 10 })?,
            namespaces: f
                .get("deployment-namespaces", if quick { 2 } else { 10 })?
                .max(1),
            nodes: f.get("nodes", if quick { 2 } else { 10 })?.max(1),
            limits: super::limits(f, 100.0, 200, 5)?,
            timeout: Duration::from_secs(f.get("timeout", 900)?),
            settle: Duration::from_secs(f.get("settle", 5)?),
        };
        anyhow::ensure!(
            s.deployments > 0 && s.replicas > 0,
            "--deployments and --deployment-replicas must be positive"
        );
        Ok(s)
    }

    pub fn heading(&self, limits: &Limits) -> String {
        format!(
            "{} Deployments × {} replicas over {} namespaces, created to available, then all rolled to a \
             new template; `--kube-api-qps={} --kube-api-burst={}`, {} workers; pods run by the virtual \
             node ({} nodes).",
            self.deployments,
            self.replicas,
            self.namespaces,
            limits.qps,
            limits.burst,
            limits.workers,
            self.nodes
        )
    }

    pub fn namespace_names(&self) -> Vec<String> {
        (0..self.namespaces)
            .map(|i| format!("bench-deploy-{i}"))
            .collect()
    }

    pub fn namespace_of(&self, i: usize) -> String {
        format!("bench-deploy-{}", i % self.namespaces)
    }

    /// Pods the virtual node must fit at once: everything, surge included.
    pub fn max_pods_per_node(&self) -> usize {
        (self.deployments * self.replicas as usize * 2).div_ceil(self.nodes) + 10
    }
}

/// Deployment `i` (`d-<i>`, pods labelled `app=d-<i>`).
pub fn deployment(i: usize, replicas: i32) -> anyhow::Result<Deployment> {
    let (key, value) = LABEL.split_once('=').unwrap_or_default();
    let app = format!("d-{i}");
    Ok(serde_json::from_value(json!({
        "metadata": { "name": app, "labels": { key: value } },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": app } },
            "template": {
                "metadata": { "labels": { "app": app, key: value } },
                "spec": { "containers": [{ "name": "main", "image": "registry.invalid/app:1" }] },
            },
        },
    }))?)
}

/// Creates every Deployment through `client`.
pub async fn create_all(client: &Client, s: &Settings) -> anyhow::Result<()> {
    for_all(0..s.deployments, CONCURRENCY, |i| async move {
        let api: Api<Deployment> = Api::namespaced(client.clone(), &s.namespace_of(i));
        api.create(&PostParams::default(), &deployment(i, s.replicas)?)
            .await
            .with_context(|| format!("creating Deployment d-{i}"))?;
        Ok(())
    })
    .await
}

/// Patches every Deployment's template (a new annotation): the roll.
pub async fn roll_all(client: &Client, s: &Settings) -> anyhow::Result<()> {
    let patch = json!({ "spec": { "template": { "metadata": { "annotations": { "kcm-bench/revision": "2" } } } } });
    for_all(0..s.deployments, CONCURRENCY, |i| {
        let patch = &patch;
        async move {
            let api: Api<Deployment> = Api::namespaced(client.clone(), &s.namespace_of(i));
            api.patch(
                &format!("d-{i}"),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .with_context(|| format!("rolling Deployment d-{i}"))?;
            Ok(())
        }
    })
    .await
}

/// Done as the controller reports it: the current generation observed, every replica
/// updated and available, no old replicas left.
fn done(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    d.status.as_ref().is_some_and(|s| {
        s.observed_generation.is_some()
            && s.observed_generation >= d.metadata.generation
            && s.replicas == Some(want)
            && s.updated_replicas == Some(want)
            && s.available_replicas == Some(want)
    })
}

async fn count_done(client: &Client) -> anyhow::Result<usize> {
    let list = Api::<Deployment>::all(client.clone())
        .list(&ListParams::default().labels(LABEL))
        .await?;
    Ok(list.items.iter().filter(|d| done(d)).count())
}

/// One contender on a fresh control plane in `dir`; `variant` names non-default limits.
pub async fn run_one(
    c: &super::Contender,
    s: &Settings,
    limits: &Limits,
    variant: &str,
    ctx_bin: &std::path::Path,
    dir: std::path::PathBuf,
) -> anyhow::Result<Measurement> {
    let plane = ControlPlane::up(dir, ctx_bin)?;
    let harness = plane.harness_client().await?;
    let mut runner =
        PodRunner::start(&plane, harness.clone(), s.nodes, s.max_pods_per_node()).await?;
    create_namespaces(&harness, &s.namespace_names()).await?;
    let mut controller = c
        .start_synced(&plane, &CONTROLLERS, limits, &WORKER_FLAGS, &[])
        .await?;
    let pid = controller.pid();
    let mut m = Measurement::new(NAME, variant, &c.label, c.role());

    let audit = plane.audit();
    let mut recorder = measure::Recorder::start(Some(pid));
    tracing::info!("  creating {} Deployments", s.deployments);
    create_all(&harness, s).await?;
    let n = s.deployments;
    let progress = |base: usize| {
        let harness = &harness;
        move || async move {
            let k = count_done(harness).await?;
            Ok(((base + k) as f64, k == n))
        }
    };
    let interval = Duration::from_millis(500);
    let mut watched = [&mut controller, runner.process_mut()];
    poll_until(
        &mut recorder,
        &mut watched,
        s.timeout,
        interval,
        progress(0),
    )
    .await?;
    let created = recorder.elapsed().as_secs_f64();
    tracing::info!("  all available after {created:.1} s; rolling");
    roll_all(&harness, s).await?;
    poll_until(
        &mut recorder,
        &mut watched,
        s.timeout,
        interval,
        progress(n),
    )
    .await?;
    finish(&mut m, recorder, Some(pid), &audit)?;
    m.phases = vec![
        ("create".into(), created),
        ("roll".into(), m.wall_s - created),
    ];
    if let Some(cpu) = runner.cpu_seconds() {
        m.figures.insert("virtual node CPU s".into(), cpu);
    }
    m.steady_rss_mb = Some(steady_rss(pid, s.settle).await?);
    controller.terminate(Duration::from_secs(15)).await?;
    Ok(m)
}

pub async fn run(ctx: &Context, s: &Settings) -> Section {
    let mut section = Section::new(NAME, s.heading(&s.limits));
    section
        .run_contenders(ctx, &CONTROLLERS, "", |c, dir| async move {
            run_one(&c, s, &s.limits, "", &ctx.bin_dir, dir).await
        })
        .await;
    section.progress_chart(
        NAME,
        None,
        &format!(
            "deployments: {} × {} created, then rolled",
            s.deployments, s.replicas
        ),
        "Deployments done (created 0..D, rolled D..2D)",
    );
    section
}
