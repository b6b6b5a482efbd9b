//! Harness of the endpoints-controller integration tests: start kcm-rs or the upstream
//! kube-controller-manager with only `endpoints-controller`, create Services and pods whose
//! status the test sets itself (there is no kubelet), and read Endpoints back in a form both
//! managers can be compared in: subsets and ports as sets, addresses in IP order, pods by name.

use std::{collections::BTreeMap, future::Future, time::Duration};

use anyhow::Context;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Endpoints, Event, Pod, Service};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};
use testenv::{
    Check, KcmRs, TestEnv, TestNamespace, UpstreamKcm, nodes::create_ready_node, wait_until,
};

pub const CONTROLLER: &str = "endpoints-controller";
pub const TIMEOUT: Duration = Duration::from_secs(60);
pub const NODE: &str = "endpoints-n1";
pub const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
pub const MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";

/// Which controller manager runs a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    KcmRs,
    Upstream,
}

/// A running controller manager; stopped on drop.
pub enum Running {
    Ours(KcmRs),
    Upstream(UpstreamKcm),
}

impl Running {
    pub fn log_tail(&self) -> String {
        match self {
            Running::Ours(k) => k.process().log_tail(60),
            Running::Upstream(u) => u.process().log_tail(60),
        }
    }
}

/// One scenario run: its namespace and the manager it starts.
#[derive(Clone)]
pub struct Harness {
    pub env: &'static TestEnv,
    pub ns: TestNamespace,
    pub manager: Manager,
    extra: Vec<String>,
    running: std::sync::Arc<tokio::sync::Mutex<Option<Running>>>,
}

impl Harness {
    /// Starts the manager with `endpoints-controller` only, waiting for its caches. It runs
    /// until the scenario ends.
    pub async fn start(&self) -> anyhow::Result<()> {
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let running = match self.manager {
            Manager::KcmRs => {
                let mut args = vec!["--controllers=endpoints-controller"];
                args.extend(extra);
                Running::Ours(KcmRs::start_synced(self.env, &args).await?)
            }
            Manager::Upstream => Running::Upstream(
                UpstreamKcm::start_with_args(self.env, &[CONTROLLER], &extra).await?,
            ),
        };
        *self.running.lock().await = Some(running);
        Ok(())
    }

    pub fn services(&self) -> Api<Service> {
        self.ns.api()
    }

    pub fn pods(&self) -> Api<Pod> {
        self.ns.api()
    }

    pub fn endpoints(&self) -> Api<Endpoints> {
        self.ns.api()
    }
}

/// Runs `scenario` with kcm-rs, then with upstream, each in a fresh namespace (the scenario
/// starts the manager itself, so it can prepare objects first), and returns both outcomes.
pub async fn with_both<T, F, Fut>(
    prefix: &str,
    extra: &[&str],
    scenario: F,
) -> anyhow::Result<Option<(T, T)>>
where
    F: Fn(Harness) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let Some(env) = TestEnv::get().await else {
        return Ok(None);
    };
    let _controllers = env.controller_lock().await;
    let client = env.admin_client();
    if let Err(e) = create_ready_node(&client, NODE).await
        && !format!("{e:#}").contains("already exists")
    {
        return Err(e);
    }
    let mut outcomes = Vec::new();
    for manager in [Manager::KcmRs, Manager::Upstream] {
        let ns = env.namespace(prefix).await?;
        let harness = Harness {
            env,
            ns: ns.clone(),
            manager,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            running: Default::default(),
        };
        let running = harness.running.clone();
        let outcome = scenario(harness).await;
        let running = running.lock().await.take();
        let outcome = outcome.with_context(|| {
            let log = running
                .as_ref()
                .map_or_else(|| "(not started)".to_owned(), Running::log_tail);
            format!("scenario {prefix} with {manager:?}; controller log:\n{log}")
        })?;
        drop(running);
        // Services left behind would be synced by the next run's manager.
        let _ = ns
            .api::<Service>()
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        outcomes.push(outcome);
    }
    let upstream = outcomes.pop().context("two outcomes")?;
    let ours = outcomes.pop().context("two outcomes")?;
    Ok(Some((ours, upstream)))
}

/// Service `name` selecting `selector` with port `http` 80 → `target` (a number or a name).
pub fn service(name: &str, selector: Option<&[(&str, &str)]>, target: Value) -> Value {
    let mut spec = json!({ "ports": [{ "name": "http", "port": 80, "targetPort": target, "protocol": "TCP" }] });
    if let Some(selector) = selector {
        spec["selector"] = json!(selector.iter().cloned().collect::<BTreeMap<_, _>>());
    }
    json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": name }, "spec": spec })
}

pub async fn create_service(h: &Harness, object: Value) -> anyhow::Result<Service> {
    let service: Service = serde_json::from_value(object)?;
    Ok(h.services()
        .create(&PostParams::default(), &service)
        .await?)
}

pub async fn patch_service(h: &Harness, name: &str, patch: Value) -> anyhow::Result<Service> {
    Ok(h.services()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// A pod bound to [`NODE`] with `labels` and `containers` (JSON), status not yet set.
pub async fn create_pod(
    h: &Harness,
    name: &str,
    labels: &[(&str, &str)],
    spec_extra: Value,
) -> anyhow::Result<Pod> {
    let mut spec = json!({
        "nodeName": NODE,
        "containers": [{ "name": "c", "image": "registry.invalid/app:1" }],
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "labels": labels.iter().cloned().collect::<BTreeMap<_, _>>() },
        "spec": spec,
    }))?;
    Ok(h.pods().create(&PostParams::default(), &pod).await?)
}

/// Sets a pod's status as its kubelet would: Running (or `phase`), `ip` (none: no IP), and a
/// Ready condition with `ready_since` as its lastTransitionTime.
pub async fn set_status(
    h: &Harness,
    name: &str,
    phase: &str,
    ip: Option<&str>,
    ready: bool,
    ready_since: Timestamp,
) -> anyhow::Result<Pod> {
    let mut status = json!({
        "phase": phase,
        "conditions": [{
            "type": "Ready",
            "status": if ready { "True" } else { "False" },
            "lastTransitionTime": ready_since.to_string(),
        }],
    });
    if let Some(ip) = ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{ "ip": ip }]);
    }
    h.pods()
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await
        .with_context(|| format!("setting the status of pod {name}"))
}

/// A pod created and reported Running with `ip`, ready or not, `ready_since` now (whole seconds).
pub async fn running_pod(
    h: &Harness,
    name: &str,
    labels: &[(&str, &str)],
    ip: &str,
    ready: bool,
) -> anyhow::Result<Pod> {
    create_pod(h, name, labels, json!({})).await?;
    set_status(h, name, "Running", Some(ip), ready, now()).await
}

/// Now, in whole seconds (as metav1.Time stores it).
pub fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// One address as both managers must agree on it (the pod's UID differs between runs).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Addr {
    pub ip: String,
    pub pod: Option<String>,
    pub hostname: Option<String>,
    pub node: Option<String>,
}

/// One subset: ports as a set, addresses in the order stored (IP order for both).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subset {
    pub ports: Vec<(Option<String>, i32, Option<String>)>,
    pub ready: Vec<Addr>,
    pub not_ready: Vec<Addr>,
}

/// An Endpoints object as compared: labels, annotations, subsets as a sorted set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub subsets: Vec<Subset>,
}

impl Snapshot {
    pub fn ready_ips(&self) -> Vec<String> {
        self.subsets
            .iter()
            .flat_map(|s| s.ready.iter().map(|a| a.ip.clone()))
            .collect()
    }

    pub fn not_ready_ips(&self) -> Vec<String> {
        self.subsets
            .iter()
            .flat_map(|s| s.not_ready.iter().map(|a| a.ip.clone()))
            .collect()
    }

    pub fn address_count(&self) -> usize {
        self.subsets
            .iter()
            .map(|s| s.ready.len() + s.not_ready.len())
            .sum()
    }
}

pub fn snapshot(endpoints: &Endpoints) -> Snapshot {
    let addrs = |list: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| -> Vec<Addr> {
        list.iter()
            .flatten()
            .map(|a| Addr {
                ip: a.ip.clone(),
                pod: a.target_ref.as_ref().and_then(|r| r.name.clone()),
                hostname: a.hostname.clone(),
                node: a.node_name.clone(),
            })
            .collect()
    };
    let mut subsets: Vec<Subset> = endpoints
        .subsets
        .iter()
        .flatten()
        .map(|s| {
            let mut ports: Vec<_> = s
                .ports
                .iter()
                .flatten()
                .map(|p| (p.name.clone(), p.port, p.protocol.clone()))
                .collect();
            ports.sort();
            Subset {
                ports,
                ready: addrs(&s.addresses),
                not_ready: addrs(&s.not_ready_addresses),
            }
        })
        .collect();
    subsets.sort();
    Snapshot {
        labels: endpoints.labels().clone(),
        annotations: endpoints.annotations().clone(),
        subsets,
    }
}

/// The annotations with the trigger time replaced by what it equals: `service-created`, the
/// named pod's Ready time, or `present`, so runs made at different times compare.
pub fn describe_trigger_time(snapshot: &mut Snapshot, candidates: &[(&str, Timestamp)]) {
    if let Some(value) = snapshot.annotations.get_mut(TRIGGER_TIME) {
        let at: Option<Timestamp> = value.parse().ok();
        let name = candidates
            .iter()
            .find(|(_, t)| Some(*t) == at)
            .map_or("present", |(n, _)| *n);
        *value = name.to_owned();
    }
}

pub async fn get_endpoints(h: &Harness, name: &str) -> anyhow::Result<Option<Endpoints>> {
    Ok(h.endpoints().get_opt(name).await?)
}

/// Waits until Endpoints `name` exist and `condition` holds for their snapshot.
pub async fn wait_endpoints(
    h: &Harness,
    name: &str,
    what: &str,
    condition: impl Fn(&Snapshot) -> bool,
) -> anyhow::Result<Endpoints> {
    Ok(wait_until(TIMEOUT, what, || async {
        match get_endpoints(h, name).await {
            Ok(Some(e)) if condition(&snapshot(&e)) => Check::Done(e),
            Ok(Some(e)) => Check::NotYet(format!("{:?}", snapshot(&e))),
            Ok(None) => Check::NotYet(format!("endpoints {name} do not exist")),
            Err(e) => Check::NotYet(format!("reading endpoints {name}: {e}")),
        }
    })
    .await?)
}

pub async fn wait_gone(h: &Harness, name: &str) -> anyhow::Result<()> {
    wait_until(TIMEOUT, &format!("endpoints {name} deleted"), || async {
        match get_endpoints(h, name).await {
            Ok(None) => Check::Done(()),
            Ok(Some(e)) => Check::NotYet(format!("{:?}", snapshot(&e))),
            Err(e) => Check::NotYet(e.to_string()),
        }
    })
    .await?;
    Ok(())
}

/// `condition` keeps holding for `period` (nothing rewrites the object meanwhile).
pub async fn stays(
    h: &Harness,
    name: &str,
    period: Duration,
    condition: impl Fn(Option<&Endpoints>) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + period;
    while tokio::time::Instant::now() < deadline {
        let current = get_endpoints(h, name).await?;
        anyhow::ensure!(
            condition(current.as_ref()),
            "endpoints {name} changed: {current:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Warning events about objects named `name` in `namespace` with `reason`.
pub async fn warnings(h: &Harness, namespace: &str, name: &str) -> anyhow::Result<Vec<String>> {
    let events: Api<Event> = Api::namespaced(h.ns.client().clone(), namespace);
    Ok(events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(name) && e.type_.as_deref() == Some("Warning")
        })
        .filter(|e| {
            e.involved_object
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == h.ns.name() || ns.is_empty())
        })
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default()
            )
        })
        .collect())
}
