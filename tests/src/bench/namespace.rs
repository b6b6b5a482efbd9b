//! Workload `namespace`: one namespace holding N objects of ten kinds (one a CRD) deleted,
//! with the namespace controller; also its floor (see [`super::floor`]): the same deletion
//! done by a tight client.
//!
//! The ten kinds: unscheduled Pods (removed at once, so pods-first costs one extra pass of
//! nothing), ConfigMaps, Secrets, ServiceAccounts, Events, Leases, Roles, RoleBindings,
//! Deployments with 0 replicas and Widgets of a namespaced CRD. The harness creates them
//! before the clock starts, starts it at the namespace's DELETE and stops it when a GET of
//! the namespace returns 404. That includes the controller's 5 s grace before it starts
//! (upstream's `namespaceDeletionGracePeriod`, kcm-rs alike); the floor has none. The
//! namespace controller multiplies `--kube-api-qps`/`--kube-api-burst` by 20 and 100, in
//! both. Upstream's metadata client always speaks protobuf, whatever
//! `--kube-api-content-type` says; kcm-rs speaks JSON. Progress: objects left (ten lists of
//! one item and their `remainingItemCount`, every 500 ms).

use std::time::Duration;

use anyhow::{Context as _, bail};
use k8s_openapi::{
    api::core::v1::Namespace,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, PostParams},
    core::{ApiResource, DynamicObject, GroupVersionKind},
};
use serde_json::{Value, json};

use super::{
    Contender, Context, Limits, Section, finish,
    flags::Flags,
    for_all, measure,
    plane::ControlPlane,
    report::{Measurement, Role},
    steady_rss,
};
use crate::{Check, wait_until};

pub const NAME: &str = "namespace";
const NAMESPACE: &str = "bench-namespace";
pub const CONTROLLERS: [&str; 1] = ["namespace-controller"];
const WORKER_FLAGS: [&str; 1] = ["concurrent-namespace-syncs"];
/// Creations the harness keeps in flight.
const CREATE_CONCURRENCY: usize = 32;

#[derive(Debug, Clone)]
pub struct Settings {
    pub objects: usize,
    pub limits: Limits,
    pub timeout: Duration,
    pub settle: Duration,
}

impl Settings {
    pub fn from_flags(f: &Flags, quick: bool) -> anyhow::Result<Self> {
        Ok(Self {
            objects: f.get("namespace-objects", if quick { 500 } else { 5000 })?,
            limits: super::limits(f, 20.0, 30, 10)?,
            timeout: Duration::from_secs(f.get("timeout", 900)?),
            settle: Duration::from_secs(f.get("settle", 5)?),
        })
    }

    pub fn heading(&self, limits: &Limits) -> String {
        format!(
            "One namespace, {} objects over {} kinds (one a CRD), deleted; `--kube-api-qps={} \
             --kube-api-burst={}`, {} workers; wall time from DELETE to 404.",
            self.objects,
            KINDS.len(),
            limits.qps,
            limits.burst,
            limits.workers
        )
    }
}

/// One of the ten kinds: `(apiVersion, kind, plural)` and how to build item `i`.
pub struct Kind {
    api_version: &'static str,
    kind: &'static str,
    plural: &'static str,
    body: fn(usize) -> Value,
}

fn containers() -> Value {
    json!([{ "name": "c", "image": "registry.invalid/never-pulled:1" }])
}

pub const KINDS: [Kind; 10] = [
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

pub fn api(client: &Client, kind: &Kind) -> Api<DynamicObject> {
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
pub async fn install_crd(client: &Client) -> anyhow::Result<()> {
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
pub async fn fill(client: &Client, objects: usize) -> anyhow::Result<()> {
    let namespace: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": NAMESPACE } }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    let started = std::time::Instant::now();
    for_all(0..objects, CREATE_CONCURRENCY, |n| async move {
        let kind = &KINDS[n % KINDS.len()];
        let index = n / KINDS.len();
        let mut body = (kind.body)(index);
        body["apiVersion"] = json!(kind.api_version);
        body["kind"] = json!(kind.kind);
        body["metadata"] = json!({ "name": format!("o-{index}") });
        let object: DynamicObject = serde_json::from_value(body)?;
        api(client, kind)
            .create(&PostParams::default(), &object)
            .await
            .with_context(|| format!("creating {} o-{index}", kind.plural))?;
        Ok(())
    })
    .await?;
    tracing::info!(
        "  created {objects} objects in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Objects of the ten kinds left in the namespace.
pub async fn left(client: &Client) -> anyhow::Result<usize> {
    let mut total = 0;
    for kind in &KINDS {
        let list = api(client, kind)
            .list_metadata(&ListParams::default().limit(1))
            .await?;
        let rest = list.metadata.remaining_item_count.unwrap_or(0);
        total += list.items.len() + usize::try_from(rest).unwrap_or(0);
    }
    Ok(total)
}

/// The floor's deletion, by `admin` (so the audit log counts it): what the namespace
/// controller does, without its grace period, discovery or checks. DELETE the namespace,
/// `deletecollection` every kind at once, then finalize as soon as nothing is left.
async fn floor_delete(admin: &Client) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .delete(NAMESPACE, &DeleteParams::default())
        .await?;
    for_all(KINDS.iter(), KINDS.len(), |kind| async move {
        api(admin, kind)
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .with_context(|| format!("deletecollection {}", kind.plural))?;
        Ok(())
    })
    .await?;
    while left(admin).await? > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut namespace = namespaces.get(NAMESPACE).await?;
    if let Some(spec) = namespace.spec.as_mut() {
        spec.finalizers = Some(Vec::new());
    }
    namespaces
        .replace_subresource("finalize", NAMESPACE, &PostParams::default(), &namespace)
        .await
        .context("finalizing the namespace")?;
    Ok(())
}

/// Samples the objects left until a GET of the namespace returns 404.
async fn until_gone(
    harness: &Client,
    recorder: &mut measure::Recorder,
    mut controller: Option<&mut crate::ManagedProcess>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(harness.clone());
    loop {
        if namespaces.get_opt(NAMESPACE).await?.is_none() {
            recorder.sample(0.0);
            return Ok(());
        }
        match left(harness).await {
            Ok(n) => recorder.sample(n as f64),
            Err(e) => tracing::info!("  counting objects: {e}"),
        }
        if let Some(p) = controller.as_deref_mut() {
            measure::check_running(p)?;
        }
        if recorder.elapsed() > timeout {
            bail!("not gone after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One run on a fresh control plane in `dir`: by `contender` with `limits`, or by the floor
/// client when `contender` is `None`.
pub async fn run_one(
    contender: Option<&Contender>,
    s: &Settings,
    limits: &Limits,
    variant: &str,
    bin_dir: &std::path::Path,
    dir: std::path::PathBuf,
) -> anyhow::Result<Measurement> {
    let plane = ControlPlane::up(dir, bin_dir)?;
    let admin = plane.client("admin.kubeconfig").await?;
    let harness = plane.harness_client().await?;
    install_crd(&harness).await?;
    let mut controller = match contender {
        Some(c) => Some(
            c.start_synced(&plane, &CONTROLLERS, limits, &WORKER_FLAGS, &[])
                .await?,
        ),
        None => None,
    };
    fill(&harness, s.objects).await?;
    let pid = controller.as_ref().map(crate::ManagedProcess::pid);
    let (label, role) = match contender {
        Some(c) => (c.label.as_str(), c.role()),
        None => ("floor: tight client", Role::Floor),
    };
    let mut m = Measurement::new(NAME, variant, label, role);
    let namespaces: Api<Namespace> = Api::all(harness.clone());
    let audit = plane.audit();
    let mut recorder = measure::Recorder::start(pid);
    recorder.sample(s.objects as f64);
    match controller.as_mut() {
        Some(p) => {
            namespaces
                .delete(NAMESPACE, &DeleteParams::default())
                .await?;
            until_gone(&harness, &mut recorder, Some(p), s.timeout).await?;
        }
        None => {
            tokio::try_join!(
                floor_delete(&admin),
                until_gone(&harness, &mut recorder, None, s.timeout)
            )?;
        }
    }
    finish(&mut m, recorder, pid, &audit)?;
    anyhow::ensure!(left(&harness).await? == 0, "objects left behind");
    if let (Some(pid), Some(p)) = (pid, controller.as_mut()) {
        m.steady_rss_mb = Some(steady_rss(pid, s.settle).await?);
        p.terminate(Duration::from_secs(15)).await?;
    }
    Ok(m)
}

pub async fn run(ctx: &Context, s: &Settings) -> Section {
    let mut section = Section::new(NAME, s.heading(&s.limits));
    section
        .run_contenders(ctx, &CONTROLLERS, "", |c, dir| async move {
            run_one(Some(&c), s, &s.limits, "", &ctx.bin_dir, dir).await
        })
        .await;
    section.progress_chart(
        NAME,
        None,
        &format!("namespace: {} objects deleted", s.objects),
        "objects left in the namespace",
    );
    section
}
