//! `make demo`: kcm-rs on a local control plane with sample workloads.
//!
//! Starts etcd + kube-apiserver (the test environment), three fake Ready nodes and a stand-in
//! kubelet, runs kcm-rs against it with leader election on, creates the workloads of
//! `config/demo/workloads.yaml`, then scales one up, deletes a pod and scales down, printing
//! what the controllers make of it. Everything stops when the demo ends (or on Ctrl-C).

use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::Context;
use k8s_openapi::api::{
    apps::v1::ReplicaSet,
    core::v1::{Pod, ReplicationController},
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use serde::Deserialize;

const WORKLOADS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/demo/workloads.yaml");

fn kcm_rs_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("debug").join("kcm-rs")
}

async fn show(ns: &str, client: &kube::Client, title: &str) -> anyhow::Result<()> {
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let rc: Api<ReplicationController> = Api::namespaced(client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    println!("\n== {title}");
    println!(
        "{:<28} {:>7} {:>7} {:>7} {:>9}",
        "WORKLOAD", "DESIRED", "CURRENT", "READY", "AVAILABLE"
    );
    let mut rows = Vec::new();
    for r in rs.list(&ListParams::default()).await?.items {
        let s = r.status.clone().unwrap_or_default();
        let desired = r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        rows.push((
            format!("replicaset/{}", r.name_any()),
            desired,
            s.replicas,
            s.ready_replicas,
            s.available_replicas,
        ));
    }
    for r in rc.list(&ListParams::default()).await?.items {
        let s = r.status.clone().unwrap_or_default();
        let desired = r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        rows.push((
            format!("replicationcontroller/{}", r.name_any()),
            desired,
            s.replicas,
            s.ready_replicas,
            s.available_replicas,
        ));
    }
    for (name, desired, current, ready, available) in rows {
        let (ready, available) = (ready.unwrap_or(0), available.unwrap_or(0));
        println!("{name:<28} {desired:>7} {current:>7} {ready:>7} {available:>9}");
    }
    let pods = pods.list(&ListParams::default()).await?.items;
    let names: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
    println!("pods ({}): {}", names.len(), names.join(" "));
    Ok(())
}

async fn create_workloads(ns: &str, client: &kube::Client) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(WORKLOADS).with_context(|| format!("reading {WORKLOADS}"))?;
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = serde_json::Value::deserialize(document)
            .with_context(|| format!("parsing {WORKLOADS}"))?;
        match value["kind"].as_str() {
            Some("ReplicaSet") => {
                let rs: ReplicaSet = serde_json::from_value(value)?;
                Api::<ReplicaSet>::namespaced(client.clone(), ns)
                    .create(&PostParams::default(), &rs)
                    .await?;
            }
            Some("ReplicationController") => {
                let rc: ReplicationController = serde_json::from_value(value)?;
                Api::<ReplicationController>::namespaced(client.clone(), ns)
                    .create(&PostParams::default(), &rc)
                    .await?;
            }
            other => anyhow::bail!("{WORKLOADS}: unsupported kind {other:?}"),
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(env) = testenv::TestEnv::get().await else {
        anyhow::bail!(
            "the Kubernetes binaries are missing: run `tests/env/build.sh` (make demo does)"
        );
    };
    let client = env.admin_client();
    println!(
        "control plane: {} (kubeconfig {})",
        env.apiserver_url(),
        env.kubeconfig(testenv::env::Identity::Admin).display()
    );

    let nodes = vec![
        "demo-node-1".to_string(),
        "demo-node-2".to_string(),
        "demo-node-3".to_string(),
    ];
    for node in &nodes {
        testenv::nodes::create_ready_node(&client, node).await?;
    }
    let ns = env.namespace("demo").await?;
    let _kubelet = testenv::FakeKubelet::start(client.clone(), ns.name(), nodes.clone());

    let mut command = Command::new(kcm_rs_binary());
    command.args([
        "--kubeconfig",
        &env.kubeconfig(testenv::env::Identity::Admin)
            .to_string_lossy(),
        "--leader-elect-resource-name=kcm-rs-demo",
        "--secure-port=0",
        "-v",
        "2",
    ]);
    let mut kcm = env
        .spawn("kcm-rs", command)
        .context("starting kcm-rs (run `cargo build -p kcm-rs` first)")?;
    kcm.wait_for_log("successfully acquired lease", Duration::from_secs(30))
        .await?;
    println!("kcm-rs is leading; log: {}", kcm.log_path().display());

    create_workloads(ns.name(), &client).await?;
    tokio::time::sleep(Duration::from_secs(6)).await;
    show(
        ns.name(),
        &client,
        "created replicaset/web (3) and replicationcontroller/legacy (2)",
    )
    .await?;

    let rs: Api<ReplicaSet> = ns.api();
    rs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"replicas": 5}})),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(6)).await;
    show(ns.name(), &client, "scaled replicaset/web to 5").await?;

    let pods: Api<Pod> = ns.api();
    if let Some(victim) = pods
        .list(&ListParams::default().labels("app=legacy"))
        .await?
        .items
        .first()
    {
        pods.delete(&victim.name_any(), &DeleteParams::default())
            .await?;
        tokio::time::sleep(Duration::from_secs(4)).await;
        show(
            ns.name(),
            &client,
            &format!(
                "deleted pod {}: the controller replaced it",
                victim.name_any()
            ),
        )
        .await?;
    }

    rs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"replicas": 1}})),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    show(ns.name(), &client, "scaled replicaset/web down to 1").await?;

    println!("\nlast lines of the kcm-rs log:\n{}", kcm.log_tail(8));
    kcm.terminate(Duration::from_secs(15)).await?;
    println!(
        "kcm-rs stopped (SIGTERM: drained and released its lease). The control plane stops with the demo."
    );
    Ok(())
}
