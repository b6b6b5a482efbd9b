//! The tour, step by step.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::Context;
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{Endpoints, Namespace, Node, Pod, ReplicationController, Service},
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use serde::Deserialize;
use serde_json::{Value, json};
use testenv::{Check, wait_until};

use crate::{Roles, repo, views};

const NS: &str = "demo";
const TIMEOUT: Duration = Duration::from_secs(120);
/// The pod garbage collector waits this long before deleting pods of a vanished node.
const POD_GC_QUARANTINE: Duration = Duration::from_secs(40);

fn step(title: &str) {
    println!("\n== {title}");
}

fn say(text: &str) {
    println!("   {text}");
}

/// The documents of a manifest in config/demo/.
fn manifest(name: &str) -> anyhow::Result<Vec<Value>> {
    let path = repo().join("config/demo").join(name);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).with_context(|| format!("parsing {}", path.display())))
        .collect()
}

/// `kubectl apply -f` for the kinds the tour uses (create only: the namespace is fresh).
async fn apply(client: &Client, documents: Vec<Value>) -> anyhow::Result<()> {
    let pp = PostParams::default();
    for doc in documents {
        let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
        match kind.as_str() {
            "Deployment" => {
                let d: Deployment = serde_json::from_value(doc)?;
                Api::<Deployment>::namespaced(client.clone(), NS)
                    .create(&pp, &d)
                    .await?;
            }
            "Service" => {
                let s: Service = serde_json::from_value(doc)?;
                Api::<Service>::namespaced(client.clone(), NS)
                    .create(&pp, &s)
                    .await?;
            }
            "ReplicationController" => {
                let rc: ReplicationController = serde_json::from_value(doc)?;
                Api::<ReplicationController>::namespaced(client.clone(), NS)
                    .create(&pp, &rc)
                    .await?;
            }
            other => anyhow::bail!("the tour does not apply {other:?}"),
        }
        println!("   {} created", kind.to_lowercase());
    }
    Ok(())
}

async fn wait<T, F, Fut>(what: &str, timeout: Duration, check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Check<T>>,
{
    Ok(wait_until(timeout, what, check).await?)
}

/// Waits until the Deployment has rolled out: every replica updated and available, no old
/// ones left.
async fn rolled_out(client: &Client, name: &str) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    wait(
        &format!("deployment {name} to roll out"),
        TIMEOUT,
        || async {
            let Ok(d) = api.get(name).await else {
                return Check::NotYet("not readable".into());
            };
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let s = d.status.clone().unwrap_or_default();
            let done = s.observed_generation >= d.metadata.generation
                && s.updated_replicas == Some(want)
                && s.available_replicas == Some(want)
                && s.replicas == Some(want);
            if done {
                Check::Done(())
            } else {
                Check::NotYet(format!("{s:?}"))
            }
        },
    )
    .await
}

/// Prints one line per second while a rollout moves: each ReplicaSet's replicas and ready.
async fn watch_rollout(client: &Client, name: &str) -> anyhow::Result<()> {
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let started = tokio::time::Instant::now();
    let mut last = String::new();
    loop {
        let mut sets = rs.list(&ListParams::default()).await?.items;
        sets.sort_by_key(views::revision);
        let line: Vec<String> = sets
            .iter()
            .map(|r| {
                let s = r.status.clone().unwrap_or_default();
                format!(
                    "rev {}: {} wanted, {} ready",
                    views::revision(r),
                    r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
                    s.ready_replicas.unwrap_or(0)
                )
            })
            .collect();
        let line = line.join("  |  ");
        if line != last {
            println!("   {:>4.1}s  {line}", started.elapsed().as_secs_f64());
            last = line;
        }
        let d = deployments.get(name).await?;
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let generation = d.metadata.generation;
        let s = d.status.unwrap_or_default();
        // Until the controller has seen the change, the status still describes the old state.
        let observed = s.observed_generation >= generation;
        let old_gone = sets
            .iter()
            .filter(|r| r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 0)
            .count()
            == 1;
        if observed
            && s.updated_replicas == Some(want)
            && s.available_replicas == Some(want)
            && old_gone
        {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < TIMEOUT,
            "rollout of {name} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn fresh_namespace(client: &Client) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(NS).await?.is_some() {
        say("namespace demo is left from an earlier tour; deleting it first");
        let _ = namespaces.delete(NS, &DeleteParams::default()).await;
        wait("the old namespace to go", TIMEOUT, || async {
            match namespaces.get_opt(NS).await {
                Ok(None) => Check::Done(()),
                _ => Check::NotYet("still there".into()),
            }
        })
        .await?;
    }
    let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": NS } }))?;
    namespaces.create(&PostParams::default(), &ns).await?;
    Ok(())
}

pub async fn run(client: &Client, roles: &Roles, cluster: &Path) -> anyhow::Result<()> {
    step("kubectl get nodes: kcm-virtual-node registered these and renews their Leases");
    views::nodes(client).await?;
    fresh_namespace(client).await?;

    replication_controller(client, roles).await?;
    deployment(client, roles).await?;
    endpoints_follow_readiness(client, roles).await?;
    rollout_and_undo(client, roles).await?;
    node_deletion(client, roles, cluster).await?;
    namespace_deletion(client, roles).await
}

async fn replication_controller(client: &Client, roles: &Roles) -> anyhow::Result<()> {
    step("kubectl apply -f config/demo/workloads.yaml (a ReplicationController of 2)");
    apply(client, manifest("workloads.yaml")?).await?;
    let rcs: Api<ReplicationController> = Api::namespaced(client.clone(), NS);
    let ready = |n: i32| {
        let rcs = rcs.clone();
        async move {
            wait("the ReplicationController to be ready", TIMEOUT, || async {
                match rcs.get("legacy").await {
                    Ok(rc) if rc.status.as_ref().and_then(|s| s.ready_replicas) == Some(n) => {
                        Check::Done(())
                    }
                    other => Check::NotYet(format!("{:?}", other.map(|r| r.status))),
                }
            })
            .await
        }
    };
    ready(2).await?;
    say(&format!(
        "{} created the pods, kube-scheduler bound them, kcm-virtual-node runs them:",
        roles.who("replicationcontroller-controller")
    ));
    views::replication_controllers(client, NS).await?;
    views::pods(client, NS, "app=legacy").await?;

    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let victim = pods
        .list(&ListParams::default().labels("app=legacy"))
        .await?
        .items
        .first()
        .map(|p| p.name_any())
        .context("no legacy pod")?;
    step(&format!("kubectl delete pod {victim}"));
    pods.delete(&victim, &DeleteParams::default()).await?;
    wait("a replacement", TIMEOUT, || async {
        let list = pods
            .list(&ListParams::default().labels("app=legacy"))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let live = list
            .iter()
            .filter(|p| p.name_any() != victim && testenv::pods::is_pod_ready(p))
            .count();
        if live == 2 {
            Check::Done(())
        } else {
            Check::NotYet(format!("{live} ready replacements"))
        }
    })
    .await?;
    say(
        "the replicationcontroller-controller replaced it at once (the old one terminates for its 2 s grace period):",
    );
    views::pods(client, NS, "app=legacy").await?;
    ready(2).await
}

async fn deployment(client: &Client, roles: &Roles) -> anyhow::Result<()> {
    step(
        "kubectl apply -f config/demo/deployment.yaml (Deployment web, 3 replicas, and Service web)",
    );
    apply(client, manifest("deployment.yaml")?).await?;
    rolled_out(client, "web").await?;
    say(&format!(
        "{} created the ReplicaSet; {} created its pods; each pod starts after 1 s and is Ready 2 s later:",
        roles.who("deployment-controller"),
        roles.who("replicaset-controller")
    ));
    views::deployments(client, NS).await?;
    views::replica_sets(client, NS).await?;
    views::pods(client, NS, "app=web").await
}

async fn endpoints_follow_readiness(client: &Client, roles: &Roles) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), NS);
    step("kubectl get endpoints web");
    wait("3 ready endpoints", TIMEOUT, || async {
        match endpoints.get_opt("web").await {
            Ok(Some(e)) if views::endpoint_ips(&e).0.len() == 3 => Check::Done(()),
            other => Check::NotYet(format!("{other:?}")),
        }
    })
    .await?;
    say(&format!(
        "{} lists the ready pods:",
        roles.who("endpoints-controller")
    ));
    views::endpoints(client, NS, "web").await?;

    let victim = pods
        .list(&ListParams::default().labels("app=web"))
        .await?
        .items
        .first()
        .map(|p| p.name_any())
        .context("no web pod")?;
    step(&format!(
        "kubectl annotate pod {victim} kcm-virtual-node.io/unready-after=0s (its readiness probe starts failing)"
    ));
    let annotate = |value: Value| {
        let patch = json!({ "metadata": { "annotations": { "kcm-virtual-node.io/unready-after": value } } });
        let pods = pods.clone();
        let victim = victim.clone();
        async move {
            pods.patch(&victim, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
        }
    };
    annotate(json!("0s")).await?;
    let ready_count = |want: usize| {
        let endpoints = endpoints.clone();
        async move {
            wait(&format!("{want} ready endpoints"), TIMEOUT, || async {
                match endpoints.get_opt("web").await {
                    Ok(Some(e)) if views::endpoint_ips(&e).0.len() == want => Check::Done(()),
                    other => Check::NotYet(format!("{other:?}")),
                }
            })
            .await
        }
    };
    ready_count(2).await?;
    say("kcm-virtual-node reported it not Ready; the endpoints controller moved it to NOT READY:");
    views::pods(client, NS, "app=web").await?;
    views::endpoints(client, NS, "web").await?;

    step(&format!(
        "kubectl annotate pod {victim} kcm-virtual-node.io/unready-after- (the probe passes again)"
    ));
    annotate(Value::Null).await?;
    ready_count(3).await?;
    views::endpoints(client, NS, "web").await
}

/// `kubectl rollout undo`: put the previous revision's pod template back.
async fn rollout_undo(client: &Client, name: &str) -> anyhow::Result<i64> {
    let sets = Api::<ReplicaSet>::namespaced(client.clone(), NS)
        .list(&ListParams::default())
        .await?
        .items;
    let current = sets.iter().map(views::revision).max().unwrap_or(0);
    let previous = sets
        .iter()
        .filter(|r| views::revision(r) < current)
        .max_by_key(|r| views::revision(r))
        .context("no previous revision to roll back to")?;
    let mut template = previous
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .context("the previous ReplicaSet has no template")?;
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove("pod-template-hash");
    }
    let patch = json!([{ "op": "replace", "path": "/spec/template", "value": template }]);
    Api::<Deployment>::namespaced(client.clone(), NS)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::<Value>::Json(serde_json::from_value(patch)?),
        )
        .await?;
    Ok(views::revision(previous))
}

async fn rollout_and_undo(client: &Client, roles: &Roles) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    step("kubectl set image deployment/web web=registry.invalid/web:2.0");
    let patch = json!({ "spec": { "template": { "spec": { "containers": [
        { "name": "web", "image": "registry.invalid/web:2.0" }
    ] } } } });
    deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    say(&format!(
        "{} scales the new ReplicaSet up and the old one down, one pod at a time (maxSurge 25%, maxUnavailable 25%):",
        roles.who("deployment-controller")
    ));
    watch_rollout(client, "web").await?;
    rolled_out(client, "web").await?;
    views::replica_sets(client, NS).await?;

    step("kubectl rollout undo deployment/web");
    let back_to = rollout_undo(client, "web").await?;
    say(&format!(
        "the template of revision {back_to} is back; the deployment controller makes it the newest revision:"
    ));
    watch_rollout(client, "web").await?;
    rolled_out(client, "web").await?;
    views::deployments(client, NS).await?;
    views::replica_sets(client, NS).await?;

    step(
        "kubectl get events --field-selector involvedObject.kind=Deployment,involvedObject.name=web",
    );
    say(&format!(
        "every resize {} made, for the first rollout, the new image and the undo:",
        roles.who("deployment-controller")
    ));
    views::events(client, NS, "Deployment", "web").await
}

/// A second kcm-virtual-node with one node, for the tour to delete; killed on drop.
struct ExtraNode(Child);

impl Drop for ExtraNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn node_deletion(client: &Client, roles: &Roles, cluster: &Path) -> anyhow::Result<()> {
    const EXTRA: &str = "demo-extra-1";
    step("a fourth node: a second kcm-virtual-node process registers demo-extra-1");
    let binary = std::env::var_os("KCM_VIRTUAL_NODE_BINARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo().join("target/release/kcm-virtual-node"));
    let log = std::fs::File::create(cluster.join("logs/demo-extra-node.log"))?;
    let child = Command::new(&binary)
        .arg(format!(
            "--kubeconfig={}",
            cluster.join("admin.kubeconfig").display()
        ))
        .args([
            "--nodes=1",
            "--node-name-prefix=demo-extra",
            "--pod-cidr=10.245.0.0/16",
        ])
        .args(["--node-ip-cidr=10.252.0.0/16"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let _extra = ExtraNode(child);
    let nodes: Api<Node> = Api::all(client.clone());
    wait("demo-extra-1 to be Ready", TIMEOUT, || async {
        match nodes.get_opt(EXTRA).await {
            Ok(Some(n)) if testenv::nodes::is_node_ready(&n) => Check::Done(()),
            other => Check::NotYet(format!("{:?}", other.map(|n| n.map(|n| n.status)))),
        }
    })
    .await?;
    views::nodes(client).await?;

    step("kubectl scale deployment/web --replicas=8");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 8 } })),
        )
        .await?;
    rolled_out(client, "web").await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let on_extra = || async {
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .map(|l| {
                l.items
                    .iter()
                    .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(EXTRA))
                    .count()
            })
            .unwrap_or(0)
    };
    views::pods(client, NS, "app=web").await?;
    let placed = on_extra().await;
    say(&format!("kube-scheduler put {placed} of them on {EXTRA}"));

    step(&format!("kubectl delete node {EXTRA}"));
    nodes.delete(EXTRA, &DeleteParams::default()).await?;
    say(&format!(
        "its pods stay bound to a node that is gone until {} collects them (it looks every 20 s and waits {} s before deleting); then {} replaces them",
        roles.who("pod-garbage-collector-controller"),
        POD_GC_QUARANTINE.as_secs(),
        roles.who("replicaset-controller"),
    ));
    let started = tokio::time::Instant::now();
    let last = std::cell::Cell::new(usize::MAX);
    wait(
        "the pods of the deleted node to be collected",
        TIMEOUT,
        || async {
            let left = on_extra().await;
            if left != last.replace(left) {
                println!(
                    "   {:>4.0}s  pods on {EXTRA}: {left}",
                    started.elapsed().as_secs_f64()
                );
            }
            if left == 0 {
                Check::Done(())
            } else {
                Check::NotYet(format!("{left} pods on {EXTRA}"))
            }
        },
    )
    .await?;
    rolled_out(client, "web").await?;
    views::pods(client, NS, "app=web").await
}

async fn namespace_deletion(client: &Client, roles: &Roles) -> anyhow::Result<()> {
    step("kubectl delete namespace demo");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.delete(NS, &DeleteParams::default()).await?;
    say(&format!(
        "{} deletes its content; pods go after their grace period (kcm-virtual-node finishes each deletion):",
        roles.who("namespace-controller")
    ));
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let started = tokio::time::Instant::now();
    let last = std::cell::RefCell::new(String::new());
    wait("namespace demo to be gone", TIMEOUT, || async {
        let count = |n: Result<usize, kube::Error>| n.map_or("?".to_owned(), |n| n.to_string());
        let list = ListParams::default();
        let line = format!(
            "namespace {}; pods {}, replicasets {}, services {}",
            match namespaces.get_opt(NS).await {
                Ok(Some(n)) => n.status.and_then(|s| s.phase).unwrap_or_default(),
                Ok(None) => "gone".into(),
                Err(e) => format!("? ({e})"),
            },
            count(pods.list(&list).await.map(|l| l.items.len())),
            count(sets.list(&list).await.map(|l| l.items.len())),
            count(services.list(&list).await.map(|l| l.items.len())),
        );
        if *last.borrow() != line {
            println!("   {:>4.0}s  {line}", started.elapsed().as_secs_f64());
            last.replace(line.clone());
        }
        if line.starts_with("namespace gone") {
            Check::Done(())
        } else {
            Check::NotYet(line)
        }
    })
    .await
}
