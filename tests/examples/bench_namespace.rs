//! Benchmark: how long the namespace controller of kcm-rs and of the upstream
//! kube-controller-manager take to empty and remove a namespace holding N objects of ten kinds
//! (one a CRD), and what each process costs in CPU and memory while doing it.
//!
//! ```text
//! cargo run -p kcm-tests --example bench_namespace -- [--key=value ...] [CONTENDER ...]
//!   CONTENDER  upstream | upstream-protobuf | debug | release | PATH-to-a-kcm-rs-binary
//!              (default: upstream, debug, and release when target/release/kcm-rs exists)
//!   --objects=5000 (spread evenly over the ten kinds) --qps=20 --burst=30 --timeout=600
//! ```
//!
//! The ten kinds: unscheduled Pods (removed at once, so pods-first costs one extra pass of
//! nothing), ConfigMaps, Secrets, ServiceAccounts, Events, Leases, Roles, RoleBindings,
//! Deployments with 0 replicas and Widgets of a namespaced CRD. The harness creates them
//! (outside the measured window, through an identity outside APF's exempt level), starts
//! the clock at the namespace's DELETE and stops it when a GET of the namespace returns 404.
//! Contenders run one after the other, each on its own fresh etcd + kube-apiserver
//! ([`testenv::bench`]), with the same `--kube-api-qps`/`--kube-api-burst` (the namespace
//! controller multiplies them by 20 and 100, in both) and the admin identity.
//!
//! Columns: *gone* is the time from DELETE to 404 (at least the controller's 5 s
//! `namespaceDeletionGracePeriod`). *CPU run* is the controller's utime+stime in that window;
//! *CPU total* and *peak RSS* (`VmHWM`) include start-up and the informer's list. *requests*
//! are the APF-exempt requests the apiserver dispatched in the window (the controller's, plus
//! a few of the apiserver's own). Upstream's metadata client always speaks protobuf, whatever
//! `--kube-api-content-type` says; kcm-rs speaks JSON.
//!
//! Each run leaves `target/bench-namespace/<n>/`: the control plane's logs, the controller's
//! log under `processes/`, and the apiserver's `/metrics` before and after the window.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::{
    api::core::v1::Namespace,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client,
    api::{DeleteParams, PostParams},
    core::{ApiResource, DynamicObject, GroupVersionKind},
};
use serde_json::{Value, json};
use testenv::{
    Check, ManagedProcess,
    bench::{self, Contender, ControlPlane, flag},
    process::ProcessState,
    wait_until,
};
use tokio::time::Instant;

const FLAGS: &str = "objects qps burst timeout";
const NAMESPACE: &str = "bench-namespace";
/// How many creations the harness keeps in flight.
const CREATE_CONCURRENCY: usize = 32;

#[derive(Debug)]
struct Settings {
    objects: usize,
    qps: String,
    burst: u32,
    timeout: Duration,
}

/// What one contender achieved.
#[derive(Debug)]
struct Outcome {
    label: String,
    gone: Duration,
    cpu_run: f64,
    cpu_total: f64,
    peak_rss_mb: f64,
    requests: f64,
}

/// One of the ten kinds: `(apiVersion, kind, plural)` and how to build item `i`.
struct Kind {
    api_version: &'static str,
    kind: &'static str,
    plural: &'static str,
    body: fn(usize) -> Value,
}

fn containers() -> Value {
    json!([{ "name": "c", "image": "registry.invalid/never-pulled:1" }])
}

const KINDS: [Kind; 10] = [
    Kind {
        api_version: "v1",
        kind: "Pod",
        plural: "pods",
        body: |_| json!({ "spec": { "containers": containers() } }),
    },
    Kind {
        api_version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        body: |i| json!({ "data": { "index": i.to_string() } }),
    },
    Kind {
        api_version: "v1",
        kind: "Secret",
        plural: "secrets",
        body: |i| json!({ "stringData": { "index": i.to_string() } }),
    },
    Kind {
        api_version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        body: |_| json!({}),
    },
    Kind {
        api_version: "v1",
        kind: "Event",
        plural: "events",
        body: |i| {
            json!({
                "involvedObject": { "kind": "ConfigMap", "name": format!("o-{i}"), "namespace": NAMESPACE },
                "reason": "Bench", "message": "m", "type": "Normal",
            })
        },
    },
    Kind {
        api_version: "coordination.k8s.io/v1",
        kind: "Lease",
        plural: "leases",
        body: |_| json!({ "spec": { "holderIdentity": "bench" } }),
    },
    Kind {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        plural: "roles",
        body: |_| json!({ "rules": [{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"] }] }),
    },
    Kind {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        body: |_| {
            json!({
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "o-0" },
                "subjects": [{ "kind": "ServiceAccount", "name": "o-0", "namespace": NAMESPACE }],
            })
        },
    },
    Kind {
        api_version: "apps/v1",
        kind: "Deployment",
        plural: "deployments",
        body: |i| {
            let app = format!("d-{i}");
            json!({ "spec": { "replicas": 0, "selector": { "matchLabels": { "app": app } },
                "template": { "metadata": { "labels": { "app": app } },
                    "spec": { "containers": containers() } } } })
        },
    },
    Kind {
        api_version: "example.com/v1",
        kind: "Widget",
        plural: "widgets",
        body: |i| json!({ "spec": { "index": i } }),
    },
];

fn parse_args() -> anyhow::Result<(Settings, PathBuf, Vec<Contender>)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    bench::check_flags(&args, FLAGS)?;
    let settings = Settings {
        objects: flag(&args, "objects", 5000)?,
        qps: flag(&args, "qps", 20.0_f32)?.to_string(),
        burst: flag(&args, "burst", 30)?,
        timeout: Duration::from_secs(flag(&args, "timeout", 600)?),
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

fn api(client: &Client, kind: &Kind) -> Api<DynamicObject> {
    let (group, version) = kind
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", kind.api_version));
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind.kind),
        kind.plural,
    );
    Api::namespaced_with(client.clone(), NAMESPACE, &resource)
}

/// The CRD behind the Widgets, served before anything is created.
async fn install_crd(client: &Client) -> anyhow::Result<()> {
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": { "name": "widgets.example.com" },
        "spec": {
            "group": "example.com",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget" },
            "scope": "Namespaced",
            "versions": [{ "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true } } }],
        },
    }))?;
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd)
        .await?;
    let widgets = api(client, &KINDS[9]);
    wait_until(Duration::from_secs(60), "widgets served", || async {
        match widgets.list_metadata(&Default::default()).await {
            Ok(_) => Check::Done(()),
            Err(e) => Check::NotYet(e.to_string()),
        }
    })
    .await?;
    Ok(())
}

/// The namespace and `objects` objects in it, spread over the ten kinds.
async fn fill(client: &Client, objects: usize) -> anyhow::Result<()> {
    let namespace: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": NAMESPACE } }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    let started = Instant::now();
    futures::stream::iter(0..objects)
        .map(|n| {
            let kind = &KINDS[n % KINDS.len()];
            let index = n / KINDS.len();
            let api = api(client, kind);
            async move {
                let mut body = (kind.body)(index);
                body["apiVersion"] = json!(kind.api_version);
                body["kind"] = json!(kind.kind);
                body["metadata"] = json!({ "name": format!("o-{index}") });
                let object: DynamicObject = serde_json::from_value(body)?;
                api.create(&PostParams::default(), &object)
                    .await
                    .with_context(|| format!("creating {} o-{index}", kind.plural))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_for_each(|()| async { Ok(()) })
        .await?;
    eprintln!(
        "  created {objects} objects in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn run(
    c: &Contender,
    s: &Settings,
    bin_dir: &std::path::Path,
    dir: PathBuf,
) -> anyhow::Result<Outcome> {
    let plane = ControlPlane::up(dir, bin_dir)?;
    let admin = plane.client("admin.kubeconfig").await?;
    let harness = plane.harness_client().await?;
    install_crd(&harness).await?;

    let mut command = c.command(plane.dir());
    command.args([
        "--controllers=namespace-controller".to_owned(),
        format!("--kube-api-qps={}", s.qps),
        format!("--kube-api-burst={}", s.burst),
    ]);
    let name = c.process_name();
    let mut controller = ManagedProcess::spawn_in(&plane.dir().join("processes"), name, command)?;
    controller
        .wait_for_log("Caches are synced", Duration::from_secs(60))
        .await?;
    fill(&harness, s.objects).await?;

    let (pid, ticks) = (controller.pid(), bench::clock_ticks());
    let before = bench::apiserver_metrics(&admin, &plane.dir().join("metrics-before.txt")).await?;
    let cpu_before = bench::cpu_seconds(pid, ticks)?;
    let namespaces: Api<Namespace> = Api::all(harness.clone());
    eprintln!("{}: deleting the namespace", c.label);
    let start = Instant::now();
    namespaces
        .delete(NAMESPACE, &DeleteParams::default())
        .await?;
    let gone = loop {
        match namespaces.get_opt(NAMESPACE).await {
            Ok(None) => break start.elapsed(),
            Ok(Some(_)) => {}
            Err(e) => eprintln!("  reading the namespace: {e}"),
        }
        if let ProcessState::Exited(status) = controller.state() {
            bail!("{name} exited ({status}):\n{}", controller.log_tail(30));
        }
        if start.elapsed() > s.timeout {
            bail!(
                "not gone after {:?}; see {}",
                s.timeout,
                controller.log_path().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let cpu_total = bench::cpu_seconds(pid, ticks)?;
    let peak_rss_mb = bench::peak_rss_mb(pid)?;
    let after = bench::apiserver_metrics(&admin, &plane.dir().join("metrics-after.txt")).await?;
    controller.terminate(Duration::from_secs(15)).await?;
    for kind in &KINDS {
        let left = api(&harness, kind)
            .list_metadata(&Default::default())
            .await?;
        anyhow::ensure!(
            left.items.is_empty(),
            "{} {} left behind",
            left.items.len(),
            kind.plural
        );
    }
    Ok(Outcome {
        label: c.label.clone(),
        gone,
        cpu_run: cpu_total - cpu_before,
        cpu_total,
        peak_rss_mb,
        requests: bench::exempt_requests(&after) - bench::exempt_requests(&before),
    })
}

fn print_table(s: &Settings, outcomes: &[Outcome]) {
    println!(
        "\nOne namespace, {} objects over {} kinds (one a CRD); --kube-api-qps={} --kube-api-burst={}",
        s.objects,
        KINDS.len(),
        s.qps,
        s.burst
    );
    let header = "gone (s)|CPU run s|CPU total s|peak RSS (MB)|requests";
    let rows: Vec<(String, Vec<String>)> = outcomes
        .iter()
        .map(|o| {
            let cells = vec![
                format!("{:.2}", o.gone.as_secs_f64()),
                format!("{:.2}", o.cpu_run),
                format!("{:.2}", o.cpu_total),
                format!("{:.1}", o.peak_rss_mb),
                o.requests.to_string(),
            ];
            (o.label.clone(), cells)
        })
        .collect();
    print!("{}", bench::table(header, &rows));
    println!("(columns explained at the top of tests/examples/bench_namespace.rs)");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (settings, bin_dir, contenders) = parse_args()?;
    let root = bench::target_dir().join("bench-namespace");
    let (outcomes, failed) = bench::run_each(
        &contenders,
        &root,
        |i, dir| run(&contenders[i], &settings, &bin_dir, dir),
        |o| format!("gone after {:.2}s", o.gone.as_secs_f64()),
    )
    .await;
    print_table(&settings, &outcomes);
    anyhow::ensure!(failed == 0, "{failed} contender(s) failed");
    Ok(())
}
