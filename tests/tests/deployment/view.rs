//! What the two managers are compared on: a [`View`] of one Deployment and every ReplicaSet of
//! its namespace (counts, conditions, annotations, events), with the one normalisation,
//! [`Hashes`], applied; and the events read back.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::Event,
};
use kube::{ResourceExt, api::ListParams};
use testenv::{Check, TestNamespace, wait::wait_until};

use crate::support::{
    HASH_LABEL, REVISION, TIMEOUT, annotation, controller_of, hash_of, image_of, observed,
    replica_sets,
};

/// The one normalisation of a comparison: each `pod-template-hash` value becomes `H<n>`, `n`
/// counting ReplicaSets in creation order (then first revision, image and name for ties).
#[derive(Debug, Default)]
pub struct Hashes {
    by_value: Vec<(String, String)>,
}

impl Hashes {
    pub fn of(replica_sets: &[ReplicaSet]) -> Self {
        let first_revision = |rs: &ReplicaSet| {
            let meta = &rs.metadata;
            annotation(meta, "deployment.kubernetes.io/revision-history")
                .and_then(|h| h.split(',').next().map(str::to_owned))
                .or_else(|| annotation(meta, REVISION))
                .and_then(|r| r.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let mut ordered: Vec<&ReplicaSet> = replica_sets
            .iter()
            .filter(|rs| hash_of(rs).is_some())
            .collect();
        ordered.sort_by_key(|rs| {
            (
                rs.metadata.creation_timestamp.clone().map(|t| t.0),
                first_revision(rs),
                image_of(rs),
                rs.name_any(),
            )
        });
        let mut by_value: Vec<(String, String)> = Vec::new();
        for rs in ordered {
            let value = hash_of(rs).unwrap_or_default().to_owned();
            if !by_value.iter().any(|(v, _)| *v == value) {
                let label = format!("H{}", by_value.len() + 1);
                by_value.push((value, label));
            }
        }
        Self { by_value }
    }

    /// The label of a hash value (unknown values are kept, so a difference shows).
    pub fn label(&self, value: &str) -> String {
        self.by_value
            .iter()
            .find(|(v, _)| v == value)
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| value.to_owned())
    }

    /// `text` with every `-<hash>` (as in `d-<hash>`, `d-<hash>-xxxxx`) made `-<label>`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, label) in &self.by_value {
            out = out.replace(&format!("-{value}"), &format!("-{label}"));
        }
        out
    }
}

/// Status counts of a Deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub unavailable: i32,
    pub terminating: Option<i32>,
    pub collisions: Option<i32>,
}

pub fn counts(d: &Deployment) -> Counts {
    let s = d.status.clone().unwrap_or_default();
    Counts {
        replicas: s.replicas.unwrap_or(0),
        updated: s.updated_replicas.unwrap_or(0),
        ready: s.ready_replicas.unwrap_or(0),
        available: s.available_replicas.unwrap_or(0),
        unavailable: s.unavailable_replicas.unwrap_or(0),
        terminating: s.terminating_replicas,
        collisions: s.collision_count,
    }
}

/// `(replicas, updated, ready, available, unavailable)`.
pub fn five(d: &Deployment) -> (i32, i32, i32, i32, i32) {
    let c = counts(d);
    (c.replicas, c.updated, c.ready, c.available, c.unavailable)
}

/// A condition as compared: type, status, reason, message (hash-normalised).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cond {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// A ReplicaSet as compared.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RsView {
    /// `H<n>` (see [`Hashes`]).
    pub hash: String,
    /// The name, hash-normalised (`d-H1`).
    pub name: String,
    /// Name of the controlling owner and whether it blocks owner deletion.
    pub controller: Option<(String, String, bool)>,
    pub owner_refs: usize,
    /// Every annotation (revision, revision-history, desired-replicas, max-replicas, copies).
    pub annotations: BTreeMap<String, String>,
    pub spec_replicas: i32,
    pub min_ready_seconds: i32,
    pub status: (i32, i32, i32),
    pub image: String,
    /// Labels, selector and template labels carry the same hash, and the name is `<owner>-<hash>`.
    pub hash_consistent: bool,
    pub conditions: Vec<Cond>,
}

/// Everything about one Deployment and its namespace that both managers must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub generation_observed: bool,
    pub annotations: BTreeMap<String, String>,
    pub counts: Counts,
    pub conditions: Vec<Cond>,
    pub replica_sets: Vec<RsView>,
    /// Events about the Deployment: type, reason, message (hash-normalised), once each.
    pub events: BTreeSet<(String, String, String)>,
}

impl View {
    /// The view of the ReplicaSet labelled `hash` (`H1`, ...).
    pub fn rs(&self, hash: &str) -> &RsView {
        self.replica_sets
            .iter()
            .find(|r| r.hash == hash)
            .unwrap_or_else(|| panic!("no replica set {hash} in {self:#?}"))
    }

    /// `(image, spec.replicas)` of every ReplicaSet, by image.
    pub fn by_image(&self) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = self
            .replica_sets
            .iter()
            .map(|r| (r.image.clone(), r.spec_replicas))
            .collect();
        out.sort();
        out
    }

    /// The view of the ReplicaSet running `image`.
    pub fn rs_of(&self, image: &str) -> &RsView {
        self.replica_sets
            .iter()
            .find(|r| r.image == image)
            .unwrap_or_else(|| panic!("no replica set of {image} in {self:#?}"))
    }

    /// `(hash label, spec.replicas)` of every ReplicaSet.
    pub fn sizes(&self) -> Vec<(String, i32)> {
        self.replica_sets
            .iter()
            .map(|r| (r.hash.clone(), r.spec_replicas))
            .collect()
    }

    pub fn condition(&self, type_: &str) -> Option<&Cond> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Messages of the events with `reason`.
    pub fn messages(&self, reason: &str) -> BTreeSet<String> {
        self.events
            .iter()
            .filter(|(_, r, _)| r == reason)
            .map(|(_, _, m)| m.clone())
            .collect()
    }
}

fn rs_view(rs: &ReplicaSet, hashes: &Hashes) -> RsView {
    let meta = &rs.metadata;
    let hash = hash_of(rs).unwrap_or_default().to_owned();
    let spec = rs.spec.clone().unwrap_or_default();
    let selector_hash = spec
        .selector
        .match_labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL).cloned());
    let template_hash = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref())
        .and_then(|l| l.get(HASH_LABEL).cloned());
    let controller = controller_of(meta);
    let owner = controller.map(|c| c.name.clone()).unwrap_or_default();
    let status = rs.status.clone().unwrap_or_default();
    RsView {
        hash: hashes.label(&hash),
        name: hashes.apply(&rs.name_any()),
        controller: controller.map(|c| {
            (
                c.kind.clone(),
                c.name.clone(),
                c.block_owner_deletion == Some(true),
            )
        }),
        owner_refs: meta.owner_references.as_ref().map_or(0, Vec::len),
        annotations: meta.annotations.clone().unwrap_or_default(),
        spec_replicas: spec.replicas.unwrap_or(1),
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        status: (
            status.replicas,
            status.ready_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
        ),
        image: image_of(rs),
        hash_consistent: !hash.is_empty()
            && selector_hash.as_deref() == Some(hash.as_str())
            && template_hash.as_deref() == Some(hash.as_str())
            && (owner.is_empty() || rs.name_any().ends_with(&format!("-{hash}")))
            && hash.chars().all(|c| "456789bcdf".contains(c))
            && hash.len() <= 10,
        conditions: status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .map(|c| Cond {
                type_: c.type_,
                status: c.status,
                reason: c.reason.unwrap_or_default(),
                message: hashes.apply(&c.message.unwrap_or_default()),
            })
            .collect(),
    }
}

/// The [`View`] of Deployment `name` and every ReplicaSet of the namespace, right now.
pub async fn view(ns: &TestNamespace, name: &str) -> anyhow::Result<View> {
    view_knowing(ns, name, &[]).await
}

/// Like [`view`], naming also the hashes of `gone` (ReplicaSets seen earlier and deleted since,
/// which events still mention), e.g. from an [`Observer`].
pub async fn view_knowing(
    ns: &TestNamespace,
    name: &str,
    gone: &[ReplicaSet],
) -> anyhow::Result<View> {
    let d = ns.api::<Deployment>().get(name).await?;
    let list = replica_sets(ns).await?;
    let mut known: BTreeMap<String, ReplicaSet> = BTreeMap::new();
    for rs in gone.iter().chain(&list) {
        known.insert(rs.uid().unwrap_or_default(), rs.clone());
    }
    let known: Vec<ReplicaSet> = known.into_values().collect();
    let hashes = Hashes::of(&known);
    let mut replica_sets: Vec<RsView> = list.iter().map(|rs| rs_view(rs, &hashes)).collect();
    replica_sets.sort();
    let mut conditions: Vec<Cond> = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| Cond {
            type_: c.type_,
            status: c.status,
            reason: c.reason.unwrap_or_default(),
            message: hashes.apply(&c.message.unwrap_or_default()),
        })
        .collect();
    conditions.sort();
    let events = events_about(ns, "Deployment", name)
        .await?
        .into_iter()
        .map(|e| (e.type_, e.reason, hashes.apply(&e.message)))
        .collect();
    Ok(View {
        generation_observed: observed(&d),
        annotations: d.metadata.annotations.clone().unwrap_or_default(),
        counts: counts(&d),
        conditions,
        replica_sets,
        events,
    })
}

/// One event as read back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeenEvent {
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub component: String,
}

pub async fn events_about(
    ns: &TestNamespace,
    kind: &str,
    name: &str,
) -> anyhow::Result<Vec<SeenEvent>> {
    let events = ns.api::<Event>().list(&ListParams::default()).await?.items;
    let mut seen: Vec<SeenEvent> = events
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(name)
                && e.involved_object.kind.as_deref() == Some(kind)
        })
        .map(|e| SeenEvent {
            type_: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            component: e.source.and_then(|s| s.component).unwrap_or_default(),
        })
        .collect();
    seen.sort();
    Ok(seen)
}

/// Waits until an event about Deployment `name` with `reason` (and a message containing
/// `needle`) exists; returns it.
pub async fn wait_event(
    ns: &TestNamespace,
    name: &str,
    reason: &str,
    needle: &str,
) -> anyhow::Result<SeenEvent> {
    let what = format!("a {reason} event about {name} saying {needle:?}");
    Ok(wait_until(TIMEOUT, &what, || async {
        match events_about(ns, "Deployment", name).await {
            Ok(events) => match events
                .iter()
                .find(|e| e.reason == reason && e.message.contains(needle))
            {
                Some(e) => Check::Done(e.clone()),
                None => Check::NotYet(format!("{events:#?}")),
            },
            Err(e) => Check::NotYet(format!("listing events failed: {e}")),
        }
    })
    .await?)
}
