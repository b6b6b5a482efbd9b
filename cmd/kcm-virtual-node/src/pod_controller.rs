//! The pod part: watch the pods bound to this process's nodes and run them through the
//! provider, as a kubelet's pod workers do.
//!
//! One watch covers every node (pods with a `spec.nodeName`, or exactly one node's), and a
//! client-go-style work queue keyed by `namespace/name` serialises the work on each pod while
//! `workers` pods are handled at once. For each pod the controller:
//!
//! * admits it (pod capacity) and asks the [`Provider`] for its next step, writing the status
//!   the step reports (one `pods/status` patch per transition) and requeueing the pod for the
//!   moment its next transition is due;
//! * gives it a pod IP from its node's CIDR when its containers first run;
//! * once it is deleted, waits for its grace period (capped by `max_grace_period`) and then
//!   deletes it with grace period 0, as the kubelet finishes a deletion.
//!
//! The latest pod of each key is kept from watch events and from the responses to our own
//! writes (whichever is newer), so a transition never acts on a status older than its own
//! last write.

use std::{
    collections::{HashMap, HashSet},
    net::Ipv4Addr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kcm_shared::workqueue::WorkQueue;
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams, Preconditions},
    runtime::{WatchStreamExt, watcher},
};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::{
    lifecycle::{self, Observed, Step, Target, deletion_due, elapsed},
    node_set::NodeSet,
    precise::{PreciseTimes, with_precise_times},
    provider::Provider,
    status::{Addresses, status_patch},
};

/// How the pod part runs.
#[derive(Debug, Clone)]
pub struct PodControllerConfig {
    /// Only pods of this namespace (tests); `None` watches every namespace.
    pub namespace: Option<String>,
    /// Pods handled at once.
    pub workers: usize,
    /// A deleted pod's containers get at most this long to stop.
    pub max_grace_period: Duration,
}

/// Counters since start, for progress logs and measurements.
#[derive(Debug, Default)]
pub struct Stats {
    started: AtomicU64,
    finished: AtomicU64,
    deleted: AtomicU64,
    status_writes: AtomicU64,
    write_errors: AtomicU64,
}

/// A snapshot of [`Stats`] plus what is tracked right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Pods whose containers were started for the first time.
    pub started: u64,
    /// Pods that reached Succeeded or Failed.
    pub finished: u64,
    /// Deletions finished (grace period 0).
    pub deleted: u64,
    pub status_writes: u64,
    pub write_errors: u64,
    /// Pods bound to our nodes right now.
    pub tracked: usize,
    /// Of those, the ones whose containers run.
    pub running: usize,
}

#[derive(Debug, Clone)]
struct Tracked {
    pod: Arc<Pod>,
    node: String,
    /// When this process first saw the pod's `deletionTimestamp`.
    deleting_since: Option<Timestamp>,
    /// The IP this node holds for the pod.
    ip: Option<Ipv4Addr>,
    /// Counted in `started` already.
    started: bool,
    /// The times this node reported, before the API server cut them to whole seconds.
    precise: PreciseTimes,
}

/// Runs the pods bound to the nodes of a [`NodeSet`].
pub struct PodController<P> {
    client: Client,
    nodes: Arc<NodeSet>,
    provider: P,
    config: PodControllerConfig,
    store: Mutex<HashMap<String, Tracked>>,
    queue: Arc<WorkQueue<String>>,
    stats: Stats,
}

fn key_of(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

fn resource_version(pod: &Pod) -> Option<u64> {
    pod.metadata.resource_version.as_deref()?.parse().ok()
}

/// Whether `candidate` is at least as new as `current`. resourceVersions are etcd revisions
/// in practice; when one does not parse, the newcomer wins.
fn not_older(candidate: &Pod, current: &Pod) -> bool {
    match (resource_version(candidate), resource_version(current)) {
        (Some(a), Some(b)) => a >= b,
        _ => true,
    }
}

fn reported_ip(pod: &Pod) -> Option<Ipv4Addr> {
    pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok()
}

fn is_running(pod: &Pod) -> bool {
    matches!(
        lifecycle::observe(pod),
        Observed::Running { .. } | Observed::BackOff { .. }
    )
}

impl<P: Provider> PodController<P> {
    /// Must be called inside a tokio runtime (the work queue starts a timer task).
    pub fn new(
        client: Client,
        nodes: Arc<NodeSet>,
        provider: P,
        config: PodControllerConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            nodes,
            provider,
            config,
            store: Mutex::new(HashMap::new()),
            queue: WorkQueue::builder().build(),
            stats: Stats::default(),
        })
    }

    pub fn stats(&self) -> StatsSnapshot {
        let store = self.store.lock();
        let running = store.values().filter(|t| is_running(&t.pod)).count();
        StatsSnapshot {
            started: self.stats.started.load(Ordering::Relaxed),
            finished: self.stats.finished.load(Ordering::Relaxed),
            deleted: self.stats.deleted.load(Ordering::Relaxed),
            status_writes: self.stats.status_writes.load(Ordering::Relaxed),
            write_errors: self.stats.write_errors.load(Ordering::Relaxed),
            tracked: store.len(),
            running,
        }
    }

    /// Stops acting on the pods of a node whose Node object is gone.
    pub fn forget_node(&self, node: &str) {
        let mut store = self.store.lock();
        store.retain(|_, t| t.node != node);
    }

    fn pods_api(&self) -> Api<Pod> {
        match &self.config.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    fn field_selector(&self) -> String {
        match self.nodes.names().as_slice() {
            [only] => format!("spec.nodeName={only}"),
            _ => "spec.nodeName!=".to_owned(),
        }
    }

    /// Watches and works until `cancel`.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let config = watcher::Config::default().fields(&self.field_selector());
        let mut events = watcher(self.pods_api(), config).default_backoff().boxed();
        let mut workers = Vec::new();
        let mut listing: Option<HashSet<String>> = None;
        loop {
            let event = tokio::select! {
                () = cancel.cancelled() => break,
                event = events.next() => event,
            };
            match event {
                None => break,
                Some(Err(e)) => tracing::warn!("pod watch: {e}"),
                Some(Ok(watcher::Event::Init)) => listing = Some(HashSet::new()),
                Some(Ok(watcher::Event::InitApply(pod))) => {
                    if let Some(seen) = listing.as_mut() {
                        seen.insert(key_of(&pod));
                    }
                    self.upsert(pod);
                }
                Some(Ok(watcher::Event::InitDone)) => {
                    if let Some(seen) = listing.take() {
                        self.drop_unlisted(&seen);
                    }
                    // Workers start once every existing pod's IP is reserved.
                    if workers.is_empty() {
                        tracing::info!(
                            pods = self.store.lock().len(),
                            nodes = self.nodes.names().len(),
                            "pod watch synced; starting {} workers",
                            self.config.workers
                        );
                        for _ in 0..self.config.workers.max(1) {
                            workers.push(tokio::spawn(Arc::clone(&self).worker()));
                        }
                    }
                }
                Some(Ok(watcher::Event::Apply(pod))) => self.upsert(pod),
                Some(Ok(watcher::Event::Delete(pod))) => self.remove(&key_of(&pod)),
            }
        }
        self.queue.shut_down();
        for worker in workers {
            let _ = worker.await;
        }
    }

    fn upsert(&self, mut pod: Pod) {
        // Managed fields are most of a stored pod's size and nothing here reads them.
        pod.metadata.managed_fields = None;
        let key = key_of(&pod);
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            return;
        };
        if !self.nodes.is_present(&node) {
            self.remove(&key);
            return;
        }
        let mut store = self.store.lock();
        let same_pod = store
            .get(&key)
            .is_some_and(|t| t.pod.metadata.uid == pod.metadata.uid);
        if same_pod {
            if let Some(t) = store.get_mut(&key) {
                if t.deleting_since.is_none() && pod.metadata.deletion_timestamp.is_some() {
                    t.deleting_since = Some(Timestamp::now());
                }
                if not_older(&pod, &t.pod) {
                    t.pod = Arc::new(pod);
                }
            }
        } else {
            if let Some(old) = store.remove(&key) {
                self.nodes.release(&old.node, &key, old.ip);
            }
            let observed = lifecycle::observe(&pod);
            let holds_resources = !matches!(observed, Observed::Unadmitted | Observed::Finished);
            let ip =
                reported_ip(&pod).filter(|ip| holds_resources && self.nodes.reserve_ip(&node, *ip));
            if holds_resources {
                self.nodes.readmit(&node, &key);
            }
            let tracked = Tracked {
                deleting_since: pod
                    .metadata
                    .deletion_timestamp
                    .as_ref()
                    .map(|_| Timestamp::now()),
                started: is_running(&pod) || observed == Observed::Finished,
                pod: Arc::new(pod),
                node,
                ip,
                precise: PreciseTimes::default(),
            };
            store.insert(key.clone(), tracked);
        }
        drop(store);
        self.queue.add(key);
    }

    fn remove(&self, key: &str) {
        let removed = self.store.lock().remove(key);
        if let Some(t) = removed {
            self.nodes.release(&t.node, key, t.ip);
        }
    }

    fn drop_unlisted(&self, seen: &HashSet<String>) {
        let gone: Vec<String> = self
            .store
            .lock()
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            self.remove(&key);
        }
    }

    async fn worker(self: Arc<Self>) {
        while let Some(key) = self.queue.get_guarded().await {
            match self.sync(&key).await {
                Ok(wake) => {
                    self.queue.forget(&key);
                    if let Some(delay) = wake {
                        self.queue
                            .add_after(key.clone(), delay.max(Duration::from_millis(10)));
                    }
                }
                Err(e) => {
                    self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(pod = %*key, "{e:#}; retrying");
                    self.queue.add_rate_limited(key.clone());
                }
            }
        }
    }

    /// One round for one pod; returns when to look again.
    async fn sync(&self, key: &str) -> anyhow::Result<Option<Duration>> {
        let Some(tracked) = self.store.lock().get(key).cloned() else {
            return Ok(None);
        };
        if !self.nodes.is_present(&tracked.node) {
            return Ok(None);
        }
        let refined = with_precise_times(&tracked.pod, tracked.precise);
        let pod = refined.as_ref().unwrap_or(tracked.pod.as_ref());
        let now = Timestamp::now();
        if let Some(since) = tracked.deleting_since {
            let due = deletion_due(pod, since, self.config.max_grace_period);
            if now < due {
                return Ok(Some(elapsed(now, due)));
            }
            self.finish_deletion(pod).await?;
            return Ok(None);
        }

        let unadmitted = lifecycle::observe(pod) == Observed::Unadmitted;
        let mut step = self
            .provider
            .step(pod, now)
            .unwrap_or_else(|rejection| Step {
                report: Some(Target::Rejected {
                    reason: rejection.reason,
                    message: rejection.message,
                }),
                wake_at: None,
            });
        if unadmitted
            && matches!(step.report, Some(ref t) if !matches!(t, Target::Rejected { .. }))
            && let Err(rejection) = self.nodes.admit(&tracked.node, key)
        {
            step = Step {
                report: Some(Target::Rejected {
                    reason: rejection.reason,
                    message: rejection.message,
                }),
                wake_at: None,
            };
        }
        let wake = step.wake_at.map(|w| elapsed(now, w));
        let Some(target) = step.report else {
            return Ok(wake);
        };
        match self.report(key, &tracked, pod, &target, now).await? {
            Reported::Done => Ok(wake),
            Reported::RetryAfter(d) => Ok(Some(d)),
        }
    }

    async fn report(
        &self,
        key: &str,
        tracked: &Tracked,
        pod: &Pod,
        target: &Target,
        now: Timestamp,
    ) -> anyhow::Result<Reported> {
        let node = tracked.node.as_str();
        let Some(host_ip) = self.nodes.host_ip(node) else {
            return Ok(Reported::Done);
        };
        let mut allocated = None;
        let pod_ip = match target {
            Target::Running { .. } | Target::BackOff { .. } => {
                match reported_ip(pod).or(tracked.ip) {
                    Some(ip) => Some(ip),
                    None => match self.nodes.allocate_ip(node) {
                        Some(ip) => {
                            allocated = Some(ip);
                            Some(ip)
                        }
                        None => {
                            tracing::warn!(
                                pod = key,
                                node,
                                "no free pod IP in the node's CIDR; retrying in 5s"
                            );
                            return Ok(Reported::RetryAfter(Duration::from_secs(5)));
                        }
                    },
                }
            }
            Target::Finished { .. } => reported_ip(pod),
            Target::Pending | Target::Rejected { .. } => None,
        };
        let addresses = Addresses {
            host_ip: host_ip.to_string(),
            pod_ip: pod_ip.map(|ip| ip.to_string()),
        };
        let patch = status_patch(pod, target, &addresses, now);
        let (namespace, name) = key.split_once('/').unwrap_or(("", key));
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        self.stats.status_writes.fetch_add(1, Ordering::Relaxed);
        let updated = match pods
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            Ok(updated) => updated,
            Err(kube::Error::Api(s)) if s.is_not_found() => {
                if let Some(ip) = allocated {
                    self.nodes.release_ip(node, ip);
                }
                return Ok(Reported::Done);
            }
            Err(e) => {
                if let Some(ip) = allocated {
                    self.nodes.release_ip(node, ip);
                }
                return Err(anyhow::Error::new(e).context(format!("reporting pod {key}")));
            }
        };
        let terminal = matches!(target, Target::Finished { .. } | Target::Rejected { .. });
        let first_start = matches!(target, Target::Running { .. }) && !tracked.started;
        if first_start {
            self.stats.started.fetch_add(1, Ordering::Relaxed);
        }
        if terminal {
            self.stats.finished.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(pod = key, ?target, "reported");
        let mut store = self.store.lock();
        match store.get_mut(key) {
            Some(t) if t.pod.metadata.uid == updated.metadata.uid => {
                if allocated.is_some() {
                    t.ip = allocated;
                }
                t.started |= first_start;
                t.precise = t.precise.after_report(pod, target, now);
                let mut updated = updated;
                updated.metadata.managed_fields = None;
                if not_older(&updated, &t.pod) {
                    t.pod = Arc::new(updated);
                }
                if terminal {
                    let ip = t.ip.take();
                    drop(store);
                    self.nodes.release(node, key, ip);
                }
            }
            // Gone or replaced while we wrote: what we allocated is nobody's.
            _ => {
                drop(store);
                if let Some(ip) = allocated {
                    self.nodes.release_ip(node, ip);
                }
            }
        }
        Ok(Reported::Done)
    }

    async fn finish_deletion(&self, pod: &Pod) -> anyhow::Result<()> {
        let key = key_of(pod);
        let (namespace, name) = key.split_once('/').unwrap_or(("", key.as_str()));
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: pod.metadata.uid.clone().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match Api::<Pod>::namespaced(self.client.clone(), namespace)
            .delete(name, &params)
            .await
        {
            Ok(_) => {
                self.stats.deleted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(pod = key, "finished the deletion");
                Ok(())
            }
            // Already gone, or a new pod took the name: nothing left to do for this one.
            Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("deleting pod {key}"))),
        }
    }
}

enum Reported {
    Done,
    RetryAfter(Duration),
}

#[cfg(test)]
mod tests;
