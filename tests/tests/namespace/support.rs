//! Harness of the namespace-controller integration tests: start kcm-rs or the upstream
//! kube-controller-manager with only `namespace-controller`, create namespaces that are
//! cleaned up whatever happens, delete them, and read back their conditions and finalizers.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
    core::{ApiResource, DynamicObject, GroupVersionKind},
};
use serde_json::{Value, json};
use testenv::{Check, KcmRs, TestEnv, UpstreamKcm, namespace::TEST_NAMESPACE_LABEL, wait_until};
use tokio::sync::Mutex;

pub const CONTROLLER: &str = "namespace-controller";
/// How long a scenario waits for a namespace to go, or a condition to show.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Which controller manager runs a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    KcmRs,
    Upstream,
}

enum Running {
    Ours(KcmRs),
    Upstream(UpstreamKcm),
}

impl Running {
    fn log_tail(&self) -> String {
        match self {
            Running::Ours(k) => k.process().log_tail(60),
            Running::Upstream(u) => u.process().log_tail(60),
        }
    }
}

/// One scenario's view of the cluster and of the controller manager running it.
#[derive(Clone)]
pub struct Harness {
    pub env: &'static TestEnv,
    pub manager: Manager,
    running: Arc<Mutex<Option<Running>>>,
    created: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    pub fn client(&self) -> Client {
        self.env.admin_client()
    }

    pub fn namespaces(&self) -> Api<Namespace> {
        Api::all(self.client())
    }

    /// Starts the controller manager (again), waiting until its caches are synced.
    pub async fn start(&self) -> anyhow::Result<()> {
        let args = [format!("--controllers={CONTROLLER}")];
        let running = match self.manager {
            Manager::KcmRs => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                Running::Ours(KcmRs::start_synced(self.env, &args).await?)
            }
            Manager::Upstream => {
                Running::Upstream(UpstreamKcm::start_with_args(self.env, &[CONTROLLER], &[]).await?)
            }
        };
        *self.running.lock().await = Some(running);
        Ok(())
    }

    /// Stops it (SIGTERM, then kill).
    pub async fn stop(&self) -> anyhow::Result<()> {
        let running = self.running.lock().await.take();
        match running {
            Some(Running::Ours(mut k)) => {
                k.process_mut().terminate(Duration::from_secs(10)).await?;
            }
            Some(Running::Upstream(mut u)) => {
                u.process_mut().terminate(Duration::from_secs(10)).await?;
            }
            None => {}
        }
        Ok(())
    }

    async fn log_tail(&self) -> String {
        match &*self.running.lock().await {
            Some(running) => running.log_tail(),
            None => "(not running)".to_owned(),
        }
    }

    /// Creates namespace `<prefix>-<random>` with extra spec finalizers (the apiserver adds
    /// `kubernetes`) and metadata finalizers; it is removed after the scenario either way.
    pub async fn namespace(
        &self,
        prefix: &str,
        spec_finalizers: &[&str],
        metadata_finalizers: &[&str],
    ) -> anyhow::Result<String> {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let name = format!("{prefix}-{suffix}");
        let mut object = json!({
            "metadata": { "name": name, "labels": { TEST_NAMESPACE_LABEL: "true" } },
        });
        if !spec_finalizers.is_empty() {
            object["spec"] = json!({ "finalizers": spec_finalizers });
        }
        if !metadata_finalizers.is_empty() {
            object["metadata"]["finalizers"] = json!(metadata_finalizers);
        }
        let namespace: Namespace = serde_json::from_value(object)?;
        self.namespaces()
            .create(&PostParams::default(), &namespace)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        self.created.lock().await.push(name.clone());
        Ok(name)
    }

    pub async fn delete_namespace(&self, name: &str) -> anyhow::Result<()> {
        self.namespaces()
            .delete(name, &DeleteParams::default())
            .await
            .with_context(|| format!("deleting namespace {name}"))?;
        Ok(())
    }

    pub async fn get(&self, name: &str) -> anyhow::Result<Option<Namespace>> {
        Ok(self.namespaces().get_opt(name).await?)
    }

    /// Waits until namespace `name` is gone; returns how long that took.
    pub async fn wait_gone(&self, name: &str, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let api = self.namespaces();
        testenv::wait_for_deletion(&api, name, timeout).await?;
        Ok(start.elapsed())
    }

    /// Waits until the namespace's conditions satisfy `check`; returns them.
    pub async fn wait_conditions(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&[Condition]) -> bool,
    ) -> anyhow::Result<Vec<Condition>> {
        let namespaces = self.namespaces();
        Ok(wait_until(TIMEOUT, what, || async {
            match namespaces.get_opt(name).await {
                Ok(Some(ns)) => {
                    let conditions = conditions(&ns);
                    if check(&conditions) {
                        Check::Done(conditions)
                    } else {
                        Check::NotYet(format!("{conditions:#?}"))
                    }
                }
                Ok(None) => Check::NotYet(format!("{name} is gone")),
                Err(e) => Check::NotYet(format!("reading {name}: {e}")),
            }
        })
        .await?)
    }

    /// `PUT /api/v1/namespaces/<name>/finalize` with these spec finalizers.
    pub async fn finalize(&self, name: &str, finalizers: &[&str]) -> anyhow::Result<()> {
        let namespaces = self.namespaces();
        let mut ns = namespaces.get(name).await?;
        ns.spec.get_or_insert_with(Default::default).finalizers =
            Some(finalizers.iter().map(|f| (*f).to_owned()).collect());
        namespaces
            .replace_subresource::<Namespace>("finalize", name, &PostParams::default(), &ns)
            .await
            .with_context(|| format!("finalizing {name}"))?;
        Ok(())
    }

    /// Removes whatever the scenario left: every namespace it created is released at once
    /// (metadata finalizers dropped, spec finalizers emptied), so the next scenario's
    /// controller does not find it terminating.
    async fn clean_up(&self) -> anyhow::Result<()> {
        let namespaces = self.namespaces();
        for name in self.created.lock().await.drain(..) {
            let Some(ns) = namespaces.get_opt(&name).await? else {
                continue;
            };
            if ns
                .metadata
                .finalizers
                .as_ref()
                .is_some_and(|f| !f.is_empty())
            {
                let patch = json!({ "metadata": { "finalizers": null } });
                namespaces
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
            if ns.metadata.deletion_timestamp.is_none() {
                namespaces.delete(&name, &DeleteParams::default()).await?;
            }
            if namespaces.get_opt(&name).await?.is_some() {
                self.finalize(&name, &[]).await?;
            }
            wait_for_gone(&namespaces, &name).await?;
        }
        Ok(())
    }
}

async fn wait_for_gone(namespaces: &Api<Namespace>, name: &str) -> anyhow::Result<()> {
    testenv::wait_for_deletion(namespaces, name, Duration::from_secs(20)).await?;
    Ok(())
}

/// Runs `scenario` with kcm-rs, then with upstream, and returns both outcomes (`None` when
/// there is no test environment). Each run starts its own controller manager and ends with
/// every namespace it created gone.
pub async fn with_both<T, F, Fut>(scenario: F) -> anyhow::Result<Option<(T, T)>>
where
    F: Fn(Harness) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let Some(env) = TestEnv::get().await else {
        return Ok(None);
    };
    let _controllers = env.controller_lock().await;
    let mut outcomes = Vec::new();
    for manager in [Manager::KcmRs, Manager::Upstream] {
        let harness = Harness {
            env,
            manager,
            running: Arc::default(),
            created: Arc::default(),
        };
        harness.start().await?;
        let outcome = scenario(harness.clone()).await;
        let log = harness.log_tail().await;
        let cleaned = harness.clean_up().await;
        harness.stop().await?;
        let outcome = outcome
            .with_context(|| format!("scenario with {manager:?}; controller log:\n{log}"))?;
        cleaned.context("cleaning up after the scenario")?;
        outcomes.push(outcome);
    }
    let upstream = outcomes.pop().context("two outcomes")?;
    let ours = outcomes.pop().context("two outcomes")?;
    Ok(Some((ours, upstream)))
}

/// One status condition as the tests compare them; the namespace name in a message is
/// replaced by `<ns>` so runs in different namespaces compare equal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Condition {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Condition {
    pub fn new(type_: &str, status: &str, reason: &str, message: &str) -> Self {
        Self {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }
}

pub fn conditions(ns: &Namespace) -> Vec<Condition> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    ns.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .map(|c| Condition {
            type_: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone().unwrap_or_default(),
            message: c.message.clone().unwrap_or_default().replace(&name, "<ns>"),
        })
        .collect()
}

/// The condition of `type_` among `conditions`.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The five conditions of a namespace whose content is all gone (reference §3.5).
pub fn all_clear() -> Vec<Condition> {
    vec![
        Condition::new(
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered",
        ),
        Condition::new(
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        Condition::new(
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        Condition::new(
            "NamespaceContentRemaining",
            "False",
            "ContentRemoved",
            "All content successfully removed",
        ),
        Condition::new(
            "NamespaceFinalizersRemaining",
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished",
        ),
    ]
}

pub fn spec_finalizers(ns: &Namespace) -> Vec<String> {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default()
}

/// An `Api` for any namespaced kind, to create objects from JSON.
pub fn dynamic(
    client: &Client,
    namespace: &str,
    api_version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// Creates an object from JSON (`apiVersion`, `kind`, `metadata.name` and the rest).
pub async fn create(
    client: &Client,
    namespace: &str,
    plural: &str,
    object: Value,
) -> anyhow::Result<()> {
    let api_version = object["apiVersion"]
        .as_str()
        .context("apiVersion")?
        .to_owned();
    let kind = object["kind"].as_str().context("kind")?.to_owned();
    let api = dynamic(client, namespace, &api_version, &kind, plural);
    let object: DynamicObject = serde_json::from_value(object)?;
    api.create(&PostParams::default(), &object)
        .await
        .with_context(|| format!("creating a {kind} in {namespace}"))?;
    Ok(())
}

/// Drops every metadata finalizer of one object.
pub async fn remove_finalizers(
    client: &Client,
    namespace: &str,
    api_version: &str,
    kind: &str,
    plural: &str,
    name: &str,
) -> anyhow::Result<()> {
    let api = dynamic(client, namespace, api_version, kind, plural);
    let patch = json!({ "metadata": { "finalizers": null } });
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("removing the finalizers of {plural}/{name}"))?;
    Ok(())
}

/// How many objects of a kind a namespace holds.
pub async fn count(
    client: &Client,
    namespace: &str,
    api_version: &str,
    kind: &str,
    plural: &str,
) -> anyhow::Result<usize> {
    let api = dynamic(client, namespace, api_version, kind, plural);
    Ok(api.list_metadata(&ListParams::default()).await?.items.len())
}

/// Counts per plural, for outcomes.
pub type Counts = BTreeMap<String, usize>;
