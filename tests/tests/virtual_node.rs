//! `kcm-virtual-node` against the real API server (and, where a test says so, the real
//! kube-scheduler and controllers): nodes register and renew their Leases, pods follow their
//! annotations, graceful deletion takes its grace period, a Deployment scheduled by
//! kube-scheduler becomes available, an unready pod leaves its Service's Endpoints, and
//! `make up` / `make down` leave nothing behind.
//!
//! Each test runs its own `kcm-virtual-node` process with its own node name prefix. Tests that
//! start a scheduler or controllers hold the controller lock (they act on every namespace) and
//! pin their pods to their own nodes with a node selector.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::Ipv4Addr,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::Context;
use k8s_openapi::api::{
    apps::v1::Deployment,
    coordination::v1::Lease,
    core::v1::{Endpoints, Node, Pod, Service},
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, PostParams},
};
use serde_json::json;
use testenv::{
    Check, KcmRs, TestEnv, UpstreamKcm,
    cluster::{KubeScheduler, VirtualNode, virtual_node_binary, wait_for_ready_nodes},
    kcm_rs_binary,
    pods::is_pod_ready,
    wait::{wait_for_deletion, wait_for_object, wait_until},
};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A node name prefix unique to one test run (node names are cluster-wide).
fn prefix(ns: &str) -> String {
    format!("vn-{}", ns.rsplit('-').next().unwrap_or(ns).to_lowercase())
}

fn pod(name: &str, node: &str, annotations: serde_json::Value) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "annotations": annotations, "labels": { "app": name } },
        "spec": {
            "nodeName": node,
            "containers": [{ "name": "main", "image": "registry.invalid/app:1" }],
        },
    }))?)
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

#[tokio::test]
async fn nodes_register_ready_and_renew_their_leases() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let ns = env.namespace("vn-lease").await?;
    let prefix = prefix(ns.name());
    let vn = VirtualNode::start(
        env,
        &prefix,
        2,
        &["--node-lease-duration=4s", "--node-labels=zone=test"],
    )
    .await?;
    let client = env.admin_client();
    wait_for_ready_nodes(&client, vn.names(), TIMEOUT).await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    for (i, name) in vn.names().iter().enumerate() {
        let node = nodes.get(name).await?;
        assert_eq!(node.labels().get("zone").map(String::as_str), Some("test"));
        let spec = node.spec.clone().unwrap_or_default();
        assert_eq!(spec.pod_cidr, Some(format!("10.244.{i}.0/24")));

        let renew_time = |lease: &Lease| {
            lease
                .spec
                .as_ref()
                .and_then(|s| s.renew_time.clone())
                .map(|t| t.0)
        };
        let first = wait_for_object(&leases, name, TIMEOUT, "the node lease", |l| {
            renew_time(l).is_some()
        })
        .await?;
        let spec = first.spec.clone().unwrap_or_default();
        assert_eq!(spec.holder_identity.as_deref(), Some(name.as_str()));
        assert_eq!(spec.lease_duration_seconds, Some(4));
        let owner = &first.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Node", node.uid().unwrap_or_default().as_str())
        );
        // Renewed every second (a quarter of 4 s): two renewals within a few seconds.
        let mut last = renew_time(&first);
        for renewal in 1..=2 {
            let renewed =
                wait_for_object(&leases, name, Duration::from_secs(10), "a renewal", |l| {
                    renew_time(l) > last
                })
                .await
                .with_context(|| format!("renewal {renewal} of {name}"))?;
            last = renew_time(&renewed);
        }
    }
    vn.delete_nodes(&client).await
}

#[tokio::test]
async fn annotations_script_each_pod_lifecycle() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let ns = env.namespace("vn-annotations").await?;
    let prefix = prefix(ns.name());
    let vn = VirtualNode::start(env, &prefix, 1, &["--restart-backoff=1s"]).await?;
    let node = vn.names()[0].clone();
    let pods: Api<Pod> = ns.api();
    let create = |p: Pod| {
        let pods = pods.clone();
        async move { pods.create(&PostParams::default(), &p).await }
    };
    let started = Instant::now();
    create(pod(
        "slow",
        &node,
        json!({ "kcm-virtual-node.io/start-delay": "2s" }),
    )?)
    .await?;
    create(pod(
        "never",
        &node,
        json!({ "kcm-virtual-node.io/never-ready": "true" }),
    )?)
    .await?;
    create(pod(
        "typo",
        &node,
        json!({ "kcm-virtual-node.io/ready-after": "soon" }),
    )?)
    .await?;
    let mut job = pod(
        "job",
        &node,
        json!({ "kcm-virtual-node.io/exit-after": "1s" }),
    )?;
    if let Some(s) = job.spec.as_mut() {
        s.restart_policy = Some("Never".into());
    }
    create(job).await?;
    let crash = pod(
        "crash",
        &node,
        json!({ "kcm-virtual-node.io/exit-after": "500ms", "kcm-virtual-node.io/exit-code": "2" }),
    )?;
    create(crash).await?;
    let mut deadline = pod("deadline", &node, json!({}))?;
    if let Some(s) = deadline.spec.as_mut() {
        s.active_deadline_seconds = Some(2);
    }
    create(deadline).await?;

    // start-delay: Pending first, Running and Ready after about 2 s.
    let pending =
        wait_for_object(&pods, "slow", TIMEOUT, "Pending", |p| phase(p) == "Pending").await?;
    assert!(!is_pod_ready(&pending));
    wait_for_object(&pods, "slow", TIMEOUT, "Ready", is_pod_ready).await?;
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );

    let typo =
        wait_for_object(&pods, "typo", TIMEOUT, "rejected", |p| phase(p) == "Failed").await?;
    let status = typo.status.unwrap_or_default();
    assert_eq!(status.reason.as_deref(), Some("InvalidAnnotation"));
    assert!(
        status
            .message
            .unwrap_or_default()
            .contains("kcm-virtual-node.io/ready-after")
    );

    wait_for_object(&pods, "job", TIMEOUT, "Succeeded", |p| {
        phase(p) == "Succeeded"
    })
    .await?;
    let crash = wait_for_object(&pods, "crash", TIMEOUT, "two restarts", |p| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| cs[0].restart_count >= 2)
    })
    .await?;
    assert_eq!(
        phase(&crash),
        "Running",
        "restartPolicy Always keeps it Running"
    );
    let deadline = wait_for_object(&pods, "deadline", TIMEOUT, "Failed", |p| {
        phase(p) == "Failed"
    })
    .await?;
    assert_eq!(
        deadline.status.unwrap_or_default().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    let never = pods.get("never").await?;
    assert_eq!(phase(&never), "Running");
    assert!(!is_pod_ready(&never), "never-ready pods are never Ready");
    vn.delete_nodes(ns.client()).await
}

#[tokio::test]
async fn deleted_pods_stay_terminating_for_their_grace_period_up_to_the_cap() -> anyhow::Result<()>
{
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let ns = env.namespace("vn-grace").await?;
    let prefix = prefix(ns.name());
    let vn = VirtualNode::start(env, &prefix, 1, &["--max-grace-period=8s"]).await?;
    let node = vn.names()[0].clone();
    let pods: Api<Pod> = ns.api();
    for (name, grace) in [("five", 5), ("sixty", 60)] {
        let mut p = pod(name, &node, json!({}))?;
        if let Some(s) = p.spec.as_mut() {
            s.termination_grace_period_seconds = Some(grace);
        }
        pods.create(&PostParams::default(), &p).await?;
        wait_for_object(&pods, name, TIMEOUT, "Ready", is_pod_ready).await?;
    }
    let deleted_at = Instant::now();
    for name in ["five", "sixty"] {
        pods.delete(name, &DeleteParams::default()).await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for name in ["five", "sixty"] {
        let p = pods.get(name).await?;
        assert!(
            p.metadata.deletion_timestamp.is_some(),
            "{name} is Terminating at 3 s"
        );
    }
    wait_for_deletion(&pods, "five", TIMEOUT).await?;
    let five = deleted_at.elapsed();
    wait_for_deletion(&pods, "sixty", TIMEOUT).await?;
    let sixty = deleted_at.elapsed();
    assert!(
        (Duration::from_millis(4500)..Duration::from_secs(8)).contains(&five),
        "5 s grace period took {five:?}"
    );
    assert!(
        (Duration::from_millis(7500)..Duration::from_secs(12)).contains(&sixty),
        "60 s grace period capped at 8 s took {sixty:?}"
    );
    vn.delete_nodes(ns.client()).await
}

#[tokio::test]
async fn a_deleted_node_stops_running_pods() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let ns = env.namespace("vn-gone").await?;
    let prefix = prefix(ns.name());
    let vn = VirtualNode::start(env, &prefix, 2, &[]).await?;
    let client = env.admin_client();
    wait_for_ready_nodes(&client, vn.names(), TIMEOUT).await?;
    let (kept, gone) = (vn.names()[0].clone(), vn.names()[1].clone());
    Api::<Node>::all(client.clone())
        .delete(&gone, &DeleteParams::default())
        .await?;
    let mut vn = vn;
    vn.process_mut()
        .wait_for_log("the Node object was deleted", TIMEOUT)
        .await?;
    let pods: Api<Pod> = ns.api();
    pods.create(&PostParams::default(), &pod("orphan", &gone, json!({}))?)
        .await?;
    pods.create(&PostParams::default(), &pod("runs", &kept, json!({}))?)
        .await?;
    wait_for_object(&pods, "runs", TIMEOUT, "Ready", is_pod_ready).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let orphan = pods.get("orphan").await?;
    assert_eq!(
        orphan.status.and_then(|s| s.start_time),
        None,
        "nobody runs it"
    );
    vn.delete_nodes(&client).await
}

/// The endpoints controller: kcm-rs's once it implements one, upstream's until then.
async fn endpoints_controller(
    env: &TestEnv,
) -> anyhow::Result<(Option<KcmRs>, Option<UpstreamKcm>)> {
    let listed = Command::new(kcm_rs_binary()?)
        .arg("--list-implemented-controllers")
        .output()?;
    let implemented = String::from_utf8_lossy(&listed.stdout).contains("endpoints-controller");
    if implemented {
        let kcm = KcmRs::start_synced(env, &["--controllers=endpoints-controller"]).await?;
        Ok((Some(kcm), None))
    } else {
        Ok((
            None,
            Some(UpstreamKcm::start(env, &["endpoints-controller"]).await?),
        ))
    }
}

#[tokio::test]
async fn a_pod_that_becomes_unready_drops_out_of_its_service_endpoints() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    let ns = env.namespace("vn-endpoints").await?;
    let prefix = prefix(ns.name());
    let vn = VirtualNode::start(env, &prefix, 1, &[]).await?;
    let node = vn.names()[0].clone();
    let _endpoints_controller = endpoints_controller(env).await?;

    let service: Service = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": { "selector": { "tier": "web" }, "ports": [{ "port": 80, "targetPort": 8080 }] },
    }))?;
    ns.api::<Service>()
        .create(&PostParams::default(), &service)
        .await?;
    let pods: Api<Pod> = ns.api();
    for (name, annotations) in [
        ("steady", json!({})),
        (
            "flaky",
            json!({ "kcm-virtual-node.io/unready-after": "4s" }),
        ),
    ] {
        let mut p = pod(name, &node, annotations)?;
        p.labels_mut().insert("tier".into(), "web".into());
        pods.create(&PostParams::default(), &p).await?;
    }
    let ip = |name: &str| {
        let pods = pods.clone();
        let name = name.to_owned();
        async move {
            let p = wait_for_object(&pods, &name, TIMEOUT, "a pod IP", |p| {
                p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some()
            })
            .await?;
            anyhow::Ok(p.status.and_then(|s| s.pod_ip).unwrap_or_default())
        }
    };
    let (steady, flaky) = (ip("steady").await?, ip("flaky").await?);
    let endpoints: Api<Endpoints> = ns.api();
    let addresses = |e: &Endpoints, ready: bool| -> BTreeSet<String> {
        e.subsets
            .iter()
            .flatten()
            .flat_map(|s| {
                if ready {
                    s.addresses.clone()
                } else {
                    s.not_ready_addresses.clone()
                }
            })
            .flatten()
            .map(|a| a.ip)
            .collect()
    };
    let both = BTreeSet::from([steady.clone(), flaky.clone()]);
    wait_for_object(
        &endpoints,
        "web",
        TIMEOUT,
        "both pods ready in the Endpoints",
        |e| addresses(e, true) == both,
    )
    .await?;
    let dropped = wait_for_object(&endpoints, "web", TIMEOUT, "the flaky pod not ready", |e| {
        addresses(e, false).contains(&flaky)
    })
    .await?;
    assert_eq!(addresses(&dropped, true), BTreeSet::from([steady]));
    let flaky_pod = pods.get("flaky").await?;
    assert_eq!(phase(&flaky_pod), "Running", "unready, still running");
    vn.delete_nodes(ns.client()).await
}

#[tokio::test]
async fn a_deployment_scheduled_by_kube_scheduler_becomes_available() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    let ns = env.namespace("vn-deploy").await?;
    let prefix = prefix(ns.name());
    let group = format!("kcm-test={prefix}");
    let vn = VirtualNode::start(env, &prefix, 3, &[&format!("--node-labels={group}")]).await?;
    let client = env.admin_client();
    wait_for_ready_nodes(&client, vn.names(), TIMEOUT).await?;
    let _scheduler = KubeScheduler::start(env).await?;
    // As `make up` splits them: upstream's deployment controller, kcm-rs's ReplicaSets.
    let _deployments = UpstreamKcm::start(env, &["deployment-controller"]).await?;
    let _replicasets = KcmRs::start_synced(env, &["--controllers=replicaset-controller"]).await?;

    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 50,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": {
                    "labels": { "app": "web" },
                    "annotations": { "kcm-virtual-node.io/ready-after": "1s" },
                },
                "spec": {
                    "nodeSelector": { "kcm-test": prefix },
                    "containers": [{ "name": "web", "image": "registry.invalid/web:1" }],
                },
            },
        },
    }))?;
    let deployments: Api<Deployment> = ns.api();
    let started = Instant::now();
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    wait_for_object(
        &deployments,
        "web",
        Duration::from_secs(180),
        "50 available replicas",
        |d| {
            d.status
                .as_ref()
                .is_some_and(|s| s.available_replicas == Some(50) && s.updated_replicas == Some(50))
        },
    )
    .await?;
    let took = started.elapsed();

    let pods = ns.api::<Pod>().list(&ListParams::default()).await?.items;
    assert_eq!(pods.len(), 50);
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    let mut ips = BTreeSet::new();
    for p in &pods {
        let node = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        assert!(vn.names().contains(&node), "{} on {node}", p.name_any());
        let scheduled = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "PodScheduled" && c.status == "True")
            });
        assert!(scheduled, "{} has PodScheduled", p.name_any());
        let ip: Ipv4Addr = p
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .unwrap_or_default()
            .parse()
            .with_context(|| format!("pod IP of {}", p.name_any()))?;
        let index = vn
            .names()
            .iter()
            .position(|n| *n == node)
            .unwrap_or_default();
        assert_eq!(
            ip.octets()[..3],
            [10, 244, index as u8],
            "{ip} is in {node}'s CIDR"
        );
        assert!(ips.insert(ip), "{ip} handed out twice");
        *per_node.entry(node).or_default() += 1;
    }
    assert_eq!(
        per_node.len(),
        3,
        "the scheduler spread the pods: {per_node:?}"
    );
    eprintln!("50 replicas available after {took:?}, per node {per_node:?}");
    vn.delete_nodes(&client).await
}

#[tokio::test]
async fn make_up_and_make_down_leave_no_process_behind() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    // Not for the shared control plane, but heavy: keep other timing-sensitive tests apart.
    let _controllers = env.controller_lock().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/env/cluster.sh");
    let dir = std::env::temp_dir().join(format!("kcm-cluster-test-{}", std::process::id()));
    let cluster = |verb: &str| {
        let mut command = Command::new("bash");
        command
            .arg(script)
            .arg(verb)
            .arg(&dir)
            .env("K8S_BIN_DIR", env.bin_dir())
            .env("KCM_RS_BINARY", kcm_rs_binary()?)
            .env("KCM_VIRTUAL_NODE_BINARY", virtual_node_binary()?);
        anyhow::Ok(command)
    };
    let up = tokio::task::spawn_blocking({
        let mut command = cluster("up")?;
        move || command.output()
    })
    .await??;
    let run_dir = dir.join("run");
    let recorded: Vec<(String, u32)> = std::fs::read_dir(&run_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e
                        .file_name()
                        .to_string_lossy()
                        .trim_end_matches(".pid")
                        .to_owned();
                    let pid = std::fs::read_to_string(e.path())
                        .ok()?
                        .split_whitespace()
                        .next()?
                        .parse()
                        .ok()?;
                    Some((name, pid))
                })
                .collect()
        })
        .unwrap_or_default();
    let result = async {
        anyhow::ensure!(
            up.status.success(),
            "cluster.sh up failed:\n{}\n{}",
            String::from_utf8_lossy(&up.stdout),
            String::from_utf8_lossy(&up.stderr)
        );
        let printed = String::from_utf8_lossy(&up.stdout);
        assert!(printed.contains("export KUBECONFIG="), "{printed}");
        assert!(printed.contains("kubectl get pods -w"), "{printed}");
        let names: BTreeSet<&str> = recorded.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "etcd",
            "kube-apiserver",
            "kube-scheduler",
            "kcm-rs",
            "kube-controller-manager",
            "kcm-virtual-node",
        ] {
            assert!(names.contains(expected), "{expected} recorded: {names:?}");
        }
        let again = cluster("up")?.output()?;
        assert!(!again.status.success(), "a second up must fail");
        let message = String::from_utf8_lossy(&again.stderr);
        assert!(message.contains("already running"), "{message}");
        assert!(message.contains(&dir.display().to_string()), "{message}");
        anyhow::Ok(())
    }
    .await;
    let down = cluster("down")?.output()?;
    result?;
    anyhow::ensure!(
        down.status.success(),
        "cluster.sh down failed: {}",
        String::from_utf8_lossy(&down.stderr)
    );
    // Exited processes may linger a moment as zombies until their reaper collects them.
    wait_until(
        Duration::from_secs(10),
        "every cluster process to be gone",
        || async {
            let alive: Vec<&(String, u32)> = recorded
                .iter()
                .filter(|(_, pid)| {
                    std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .ok()
                        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
                        .unwrap_or(false)
                })
                .collect();
            if alive.is_empty() {
                Check::Done(())
            } else {
                Check::NotYet(format!("still running: {alive:?}"))
            }
        },
    )
    .await?;
    let left: Vec<_> = std::fs::read_dir(&run_dir)
        .map(|e| e.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "pid records left: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
