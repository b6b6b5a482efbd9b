//! Every version of a Deployment or of a namespace's ReplicaSets that a watch delivers, for
//! checks that must hold at every step (rolling-update invariants, condition sequences), not
//! only at the end.

use std::{
    collections::BTreeMap,
    fmt::Debug,
    sync::{Arc, Mutex},
};

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::{
    Api, ResourceExt,
    runtime::{WatchStreamExt, watcher},
};
use testenv::TestNamespace;
use tokio::task::JoinHandle;

use crate::support::{reason, rs_spec_replicas};

/// Every version of the watched objects a watch delivers (in the apiserver's order), from its
/// start until dropped.
pub struct Observer<K> {
    seen: Arc<Mutex<Vec<K>>>,
    task: JoinHandle<()>,
}

impl Observer<Deployment> {
    /// Watches Deployment `name`.
    pub async fn deployment(ns: &TestNamespace, name: &str) -> anyhow::Result<Self> {
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        Self::start(ns.api(), config).await
    }

    /// The successive distinct Progressing reasons seen.
    pub fn progressing_reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in self.seen() {
            if let Some(r) = reason(&d, "Progressing")
                && out.last() != Some(&r)
            {
                out.push(r);
            }
        }
        out
    }
}

impl Observer<ReplicaSet> {
    /// Watches every ReplicaSet of the namespace.
    pub async fn replica_sets(ns: &TestNamespace) -> anyhow::Result<Self> {
        Self::start(ns.api(), watcher::Config::default()).await
    }

    /// Σ `spec.replicas` of the ReplicaSets after each change seen (the upstream e2e check of
    /// max surge, `checkRollingUpdateStatus`, sums the ReplicaSets' spec too), with the sizes
    /// (`name=spec.replicas`, resourceVersion) at that point.
    pub fn spec_sums(&self) -> Vec<(i32, String)> {
        let mut latest: BTreeMap<String, i32> = BTreeMap::new();
        self.seen()
            .iter()
            .map(|rs| {
                latest.insert(rs.name_any(), rs_spec_replicas(rs));
                let sizes: Vec<String> = latest.iter().map(|(n, r)| format!("{n}={r}")).collect();
                let rv = rs.resource_version().unwrap_or_default();
                (
                    latest.values().sum(),
                    format!("{} at rv {rv}", sizes.join(" ")),
                )
            })
            .collect()
    }
}

impl<K> Observer<K>
where
    K: kube::Resource + Clone + Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    /// Starts watching and returns once the watch has listed the current state.
    async fn start(api: Api<K>, config: watcher::Config) -> anyhow::Result<Self> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                let mut synced = Some(synced_tx);
                let mut events = watcher(api, config).default_backoff().boxed();
                while let Some(event) = events.next().await {
                    match event {
                        Ok(watcher::Event::InitDone) => {
                            if let Some(tx) = synced.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                            if let Ok(mut seen) = seen.lock() {
                                seen.push(o);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::debug!("observer: {e}"),
                    }
                }
            }
        });
        synced_rx.await.context("the watch ended")?;
        Ok(Self { seen, task })
    }

    /// Every version seen so far, in order.
    pub fn seen(&self) -> Vec<K> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl<K> Drop for Observer<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
