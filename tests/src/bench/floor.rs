//! Workload `floor`: the apiserver's own limit on this machine for the `deployments` and
//! `namespace` workloads. Both contenders run them again with client limits off
//! (`--kube-api-qps=10000 --kube-api-burst=20000`, kwokctl's "unlimited" style), beside a
//! tight client doing the same object writes with no controller and no limit, as `admin`
//! (so the audit log counts its requests too).
//!
//! Deployments: the harness creates and rolls the Deployments exactly as in `deployments`;
//! the floor client creates one ReplicaSet per Deployment and its R pods (owned by it), waits
//! until the virtual node reports them all Ready, then writes each ReplicaSet's and
//! Deployment's final status once; for the roll, a second ReplicaSet and its R pods, the R
//! old pods deleted and the old ReplicaSet scaled to 0 all at once, then the final statuses.
//! That is the fewest writes with no pacing (no surge or unavailability limit): a lower bound
//! no controller can beat. Namespace: see [`super::namespace`]. *× floor* is each row's wall
//! time over the floor's.

use std::{collections::HashMap, sync::Arc, time::Duration};

use anyhow::{Context as _, bail};
use futures::StreamExt;
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::Pod,
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    runtime::{WatchStreamExt, watcher},
};
use parking_lot::Mutex;
use serde_json::json;

use super::{
    Context, Limits, Section, create_namespaces, deployments, finish,
    flags::Flags,
    for_all, measure, namespace,
    plane::ControlPlane,
    pods::PodRunner,
    report::{Column, Measurement, Role},
};

pub const NAME: &str = "floor";
const CONCURRENCY: usize = 64;

#[derive(Debug, Clone)]
pub struct Settings {
    pub deployments: deployments::Settings,
    pub namespace: namespace::Settings,
    /// "Off": the same high limits for both contenders.
    pub limits: Limits,
}

impl Settings {
    pub fn from_flags(f: &Flags, quick: bool) -> anyhow::Result<Self> {
        let deployments = deployments::Settings::from_flags(f, quick)?;
        Ok(Self {
            namespace: namespace::Settings::from_flags(f, quick)?,
            limits: Limits {
                qps: f.get("unlimited-qps", 10_000.0)?,
                burst: f.get("unlimited-burst", 20_000)?,
                workers: deployments.limits.workers,
            },
            deployments,
        })
    }
}

/// Per pod: (Deployment index, revision, Ready).
type Pods = Arc<Mutex<HashMap<String, (usize, u8, bool)>>>;

/// Keeps `pods` up to date with the benchmark's pods until dropped.
fn track(client: Client) -> (Pods, tokio::task::JoinHandle<()>) {
    let pods = Pods::default();
    let state = pods.clone();
    let api: Api<Pod> = Api::all(client);
    let task = tokio::spawn(async move {
        let mut events = watcher(api, watcher::Config::default().labels(deployments::LABEL))
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            let Ok(event) = event else { continue };
            let mut state = state.lock();
            match event {
                watcher::Event::Init => state.clear(),
                watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                    let labels = pod.labels();
                    let index = labels
                        .get("app")
                        .and_then(|a| a.strip_prefix("d-")?.parse().ok());
                    let rev = labels
                        .get("pod-template-hash")
                        .and_then(|r| r.strip_prefix("rev")?.parse().ok());
                    if let (Some(index), Some(rev)) = (index, rev) {
                        let ready = crate::pods::is_pod_ready(&pod);
                        state.insert(pod.uid().unwrap_or_default(), (index, rev, ready));
                    }
                }
                watcher::Event::Delete(pod) => {
                    state.remove(&pod.uid().unwrap_or_default());
                }
                watcher::Event::InitDone => {}
            }
        }
    });
    (pods, task)
}

/// Deployments whose `rev` pods are all Ready and have no other pods left.
fn done(pods: &Pods, s: &deployments::Settings, rev: u8) -> usize {
    let mut ready = vec![0_i32; s.deployments];
    let mut other = vec![0_i32; s.deployments];
    for &(index, r, is_ready) in pods.lock().values() {
        if index >= s.deployments {
            continue;
        }
        if r == rev && is_ready {
            ready[index] += 1;
        } else if r != rev {
            other[index] += 1;
        }
    }
    (0..s.deployments)
        .filter(|&i| ready[i] == s.replicas && other[i] == 0)
        .count()
}

fn pod_labels(i: usize, rev: u8) -> serde_json::Value {
    let (key, value) = deployments::LABEL.split_once('=').unwrap_or_default();
    json!({ "app": format!("d-{i}"), key: value, "pod-template-hash": format!("rev{rev}") })
}

/// Creates ReplicaSet `d-<i>-rev<rev>` and its pods.
async fn create_set(
    admin: &Client,
    s: &deployments::Settings,
    i: usize,
    rev: u8,
) -> anyhow::Result<()> {
    let namespace = s.namespace_of(i);
    let name = format!("d-{i}-rev{rev}");
    let labels = pod_labels(i, rev);
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": labels },
        "spec": { "replicas": s.replicas, "selector": { "matchLabels": labels },
            "template": { "metadata": { "labels": labels },
                "spec": { "containers": [{ "name": "main", "image": "registry.invalid/app:1" }] } } },
    }))?;
    let rs = Api::<ReplicaSet>::namespaced(admin.clone(), &namespace)
        .create(&PostParams::default(), &rs)
        .await
        .with_context(|| format!("creating ReplicaSet {name}"))?;
    let uid = rs.uid().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &namespace);
    for_all(0..s.replicas, s.replicas as usize, |k| {
        let (pods, name, labels, uid) = (&pods, &name, &labels, &uid);
        async move {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": { "name": format!("{name}-{k}"), "labels": labels,
                    "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name,
                        "uid": uid, "controller": true, "blockOwnerDeletion": true }] },
                "spec": { "containers": [{ "name": "main", "image": "registry.invalid/app:1" }] },
            }))?;
            pods.create(&PostParams::default(), &pod).await?;
            Ok(())
        }
    })
    .await
}

/// The roll's writes for Deployment `i`: the new set, the old pods deleted, the old set at 0.
async fn roll_set(admin: &Client, s: &deployments::Settings, i: usize) -> anyhow::Result<()> {
    create_set(admin, s, i, 2).await?;
    let namespace = s.namespace_of(i);
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &namespace);
    for_all(0..s.replicas, s.replicas as usize, |k| {
        let pods = &pods;
        async move {
            pods.delete(&format!("d-{i}-rev1-{k}"), &DeleteParams::default())
                .await?;
            Ok(())
        }
    })
    .await?;
    Api::<ReplicaSet>::namespaced(admin.clone(), &namespace)
        .patch(
            &format!("d-{i}-rev1"),
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 0 } })),
        )
        .await?;
    Ok(())
}

/// The final statuses once revision `rev` runs: each ReplicaSet's and the Deployment's.
async fn write_statuses(admin: &Client, s: &deployments::Settings, rev: u8) -> anyhow::Result<()> {
    for_all(0..s.deployments, CONCURRENCY, |i| async move {
        let namespace = s.namespace_of(i);
        let sets: Api<ReplicaSet> = Api::namespaced(admin.clone(), &namespace);
        let r = s.replicas;
        for set in 1..=rev {
            let n = if set == rev { r } else { 0 };
            let status = json!({ "status": { "replicas": n, "fullyLabeledReplicas": n, "readyReplicas": n,
                "availableReplicas": n, "observedGeneration": set } });
            sets.patch_status(&format!("d-{i}-rev{set}"), &PatchParams::default(), &Patch::Merge(&status))
                .await?;
        }
        let status = json!({ "status": { "observedGeneration": rev, "replicas": r, "updatedReplicas": r,
            "readyReplicas": r, "availableReplicas": r } });
        Api::<Deployment>::namespaced(admin.clone(), &namespace)
            .patch_status(&format!("d-{i}"), &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        Ok(())
    })
    .await
}

async fn wait_pods(
    pods: &Pods,
    s: &deployments::Settings,
    rev: u8,
    recorder: &mut measure::Recorder,
    runner: &mut PodRunner,
) -> anyhow::Result<()> {
    let base = s.deployments * usize::from(rev - 1);
    loop {
        let n = done(pods, s, rev);
        recorder.sample((base + n) as f64);
        if n == s.deployments {
            return Ok(());
        }
        measure::check_running(runner.process_mut())?;
        if recorder.elapsed() > s.timeout {
            bail!("the floor's pods are not done after {:?}", s.timeout);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The deployments workload by the floor client on a fresh control plane in `dir`.
async fn deployments_floor(
    s: &deployments::Settings,
    variant: &str,
    bin_dir: &std::path::Path,
    dir: std::path::PathBuf,
) -> anyhow::Result<Measurement> {
    let plane = ControlPlane::up(dir, bin_dir)?;
    let admin = plane.client("admin.kubeconfig").await?;
    let harness = plane.harness_client().await?;
    let mut runner =
        PodRunner::start(&plane, harness.clone(), s.nodes, s.max_pods_per_node()).await?;
    create_namespaces(&harness, &s.namespace_names()).await?;
    let (pods, tracker) = track(harness.clone());
    let mut m = Measurement::new(
        deployments::NAME,
        variant,
        "floor: tight client",
        Role::Floor,
    );
    let audit = plane.audit();
    let mut recorder = measure::Recorder::start(None);
    deployments::create_all(&harness, s).await?;
    for_all(
        0..s.deployments,
        CONCURRENCY / s.replicas.max(1) as usize + 1,
        |i| create_set(&admin, s, i, 1),
    )
    .await?;
    wait_pods(&pods, s, 1, &mut recorder, &mut runner).await?;
    write_statuses(&admin, s, 1).await?;
    let created = recorder.elapsed().as_secs_f64();
    deployments::roll_all(&harness, s).await?;
    for_all(
        0..s.deployments,
        CONCURRENCY / s.replicas.max(1) as usize + 1,
        |i| roll_set(&admin, s, i),
    )
    .await?;
    wait_pods(&pods, s, 2, &mut recorder, &mut runner).await?;
    write_statuses(&admin, s, 2).await?;
    recorder.sample((2 * s.deployments) as f64);
    tracker.abort();
    finish(&mut m, recorder, None, &audit)?;
    m.phases = vec![
        ("create".into(), created),
        ("roll".into(), m.wall_s - created),
    ];
    Ok(m)
}

pub async fn run(ctx: &Context, s: &Settings) -> Section {
    let heading = format!(
        "The apiserver's own limit: `deployments` and `namespace` again with client limits off \
         (`--kube-api-qps={} --kube-api-burst={}`, {} workers) beside a tight client doing the same \
         writes with no controller (see tests/src/bench/floor.rs). Deployments: {} × {}; namespace: {} objects.",
        s.limits.qps,
        s.limits.burst,
        s.limits.workers,
        s.deployments.deployments,
        s.deployments.replicas,
        s.namespace.objects
    );
    let mut section = Section::new(NAME, heading);
    section.columns.insert(
        1,
        Column {
            title: "× floor",
            value: |m| m.figure("× floor"),
            digits: 2,
        },
    );
    let (dv, nv) = ("deployments, limits off", "namespace, limits off");
    section
        .run_contenders(ctx, &deployments::CONTROLLERS, dv, |c, dir| async move {
            deployments::run_one(&c, &s.deployments, &s.limits, dv, &ctx.bin_dir, dir).await
        })
        .await;
    tracing::info!("== floor: deployments by the tight client: fresh etcd + kube-apiserver");
    match deployments_floor(
        &s.deployments,
        dv,
        &ctx.bin_dir,
        ctx.run_dir(NAME, "deployments-floor"),
    )
    .await
    {
        Ok(m) => section.measurements.push(m),
        Err(e) => section.skip(
            "floor: tight client (deployments)",
            format!("failed: {e:#}"),
        ),
    }
    section
        .run_contenders(ctx, &namespace::CONTROLLERS, nv, |c, dir| async move {
            namespace::run_one(Some(&c), &s.namespace, &s.limits, nv, &ctx.bin_dir, dir).await
        })
        .await;
    tracing::info!("== floor: namespace by the tight client: fresh etcd + kube-apiserver");
    match namespace::run_one(
        None,
        &s.namespace,
        &s.limits,
        nv,
        &ctx.bin_dir,
        ctx.run_dir(NAME, "namespace-floor"),
    )
    .await
    {
        Ok(m) => section.measurements.push(m),
        Err(e) => section.skip("floor: tight client (namespace)", format!("failed: {e:#}")),
    }
    for variant in [dv, nv] {
        let floor = section
            .measurements
            .iter()
            .find(|m| m.variant == variant && m.role == Role::Floor)
            .map(|m| m.wall_s);
        for m in section
            .measurements
            .iter_mut()
            .filter(|m| m.variant == variant)
        {
            m.workload = NAME.to_owned();
            if let Some(f) = floor.filter(|f| *f > 0.0) {
                m.figures.insert("× floor".into(), m.wall_s / f);
            }
        }
    }
    section.progress_chart(
        "floor-deployments",
        Some(dv),
        "floor: deployments created and rolled, client limits off",
        "Deployments done (created 0..D, rolled D..2D)",
    );
    section.progress_chart(
        "floor-namespace",
        Some(nv),
        "floor: namespace deleted, client limits off",
        "objects left in the namespace",
    );
    section
}
