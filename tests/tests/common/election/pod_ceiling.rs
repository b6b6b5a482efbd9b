//! Watches the pods of one namespace and records every moment there were more than a
//! ReplicaSet should have: the symptom of two leaders running its controller at once.
//!
//! While a ReplicaSet scales from `a` to `b` replicas, up to `max(a, b)` pods are fine (a
//! scale-down deletes the extra pods only after the update). Once `b` pods have been seen the
//! ceiling drops to `b`. The ceiling is moved by the watch task itself, in the order events
//! arrive, so a late event is never judged against a later step. [`replica_set`] builds the
//! ReplicaSet to watch.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::{
    api::{
        apps::v1::{ReplicaSet, ReplicaSetSpec},
        core::v1::{Container, Pod, PodSpec, PodTemplateSpec},
    },
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use kube::{
    Api, ResourceExt,
    api::ObjectMeta,
    runtime::{WatchStreamExt, watcher},
};
use parking_lot::Mutex;
use testenv::{Check, wait_until};
use tokio::task::JoinHandle;

#[derive(Debug, Default)]
struct State {
    /// Pods that exist and are not being deleted.
    live: BTreeSet<String>,
    /// A relist in progress.
    relisting: Option<BTreeSet<String>>,
    target: usize,
    ceiling: usize,
    most: usize,
    violations: Vec<String>,
}

impl State {
    fn scaling_to(&mut self, replicas: usize) {
        self.ceiling = self.target.max(replicas);
        self.target = replicas;
    }

    fn judge(&mut self) {
        let count = self.live.len();
        self.most = self.most.max(count);
        if count == self.target {
            self.ceiling = self.target;
        }
        if count > self.ceiling {
            self.violations.push(format!(
                "{count} pods while scaling to {} (allowed {}) at {}",
                self.target,
                self.ceiling,
                jiff::Timestamp::now()
            ));
        }
    }
}

/// The watch and what it saw; stops on drop.
pub struct PodCeiling {
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl PodCeiling {
    /// Starts watching `pods` with `replicas` as the initial target.
    pub fn start(pods: Api<Pod>, replicas: usize) -> Self {
        let state = Arc::new(Mutex::new(State {
            target: replicas,
            ceiling: replicas,
            ..State::default()
        }));
        let watched = state.clone();
        let task = tokio::spawn(async move {
            let mut events = watcher(pods, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(event) = events.next().await {
                let Ok(event) = event else { continue };
                let mut state = watched.lock();
                match event {
                    watcher::Event::Init => state.relisting = Some(BTreeSet::new()),
                    watcher::Event::InitApply(pod) => {
                        if pod.metadata.deletion_timestamp.is_none()
                            && let Some(relisting) = state.relisting.as_mut()
                        {
                            relisting.insert(pod.name_any());
                        }
                    }
                    watcher::Event::InitDone => {
                        state.live = state.relisting.take().unwrap_or_default();
                        state.judge();
                    }
                    watcher::Event::Apply(pod) => {
                        if pod.metadata.deletion_timestamp.is_none() {
                            state.live.insert(pod.name_any());
                        } else {
                            state.live.remove(&pod.name_any());
                        }
                        state.judge();
                    }
                    watcher::Event::Delete(pod) => {
                        state.live.remove(&pod.name_any());
                        state.judge();
                    }
                }
            }
        });
        Self { state, task }
    }

    /// Call before changing `spec.replicas` from the current target to `replicas`.
    pub fn scaling_to(&self, replicas: usize) {
        self.state.lock().scaling_to(replicas);
    }

    /// Waits until the watch has seen exactly the target number of pods.
    pub async fn wait_for_target(&self, timeout: Duration) -> anyhow::Result<()> {
        wait_until(timeout, "the pod count to reach the target", || async {
            let state = self.state.lock();
            if state.live.len() == state.target && state.ceiling == state.target {
                Check::Done(())
            } else {
                Check::NotYet(format!(
                    "{} pods, target {}",
                    state.live.len(),
                    state.target
                ))
            }
        })
        .await?;
        Ok(())
    }

    /// Every moment there were more pods than allowed.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().violations.clone()
    }

    /// The most pods seen at once.
    pub fn most(&self) -> usize {
        self.state.lock().most
    }
}

impl Drop for PodCeiling {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A ReplicaSet `name` of `replicas` pods labelled `app=<name>` that never start.
pub fn replica_set(name: &str, replicas: i32) -> ReplicaSet {
    let labels = BTreeMap::from([("app".to_owned(), name.to_owned())]);
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "main".into(),
                        image: Some("registry.invalid/never-pulled:1".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            }),
            ..ReplicaSetSpec::default()
        }),
        ..ReplicaSet::default()
    }
}

#[test]
fn the_ceiling_follows_the_scaling_steps() {
    let mut state = State {
        target: 2,
        ceiling: 2,
        ..State::default()
    };
    let set = |state: &mut State, count: usize| {
        state.live = (0..count).map(|i| format!("pod-{i}")).collect();
        state.judge();
    };
    set(&mut state, 2);
    // Scaling up: more than the old size is fine, more than the new one is not.
    state.scaling_to(4);
    set(&mut state, 4);
    assert!(state.violations.is_empty());
    set(&mut state, 5);
    assert_eq!(state.violations.len(), 1);
    // Scaling down from 4 to 1: 4 pods are fine until the target has been reached once.
    state.violations.clear();
    state.scaling_to(1);
    set(&mut state, 4);
    set(&mut state, 1);
    assert!(state.violations.is_empty());
    set(&mut state, 2);
    assert_eq!(state.violations.len(), 1, "{:?}", state.violations);
    assert_eq!(state.most, 5);
}
