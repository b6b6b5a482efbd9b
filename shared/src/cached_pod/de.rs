//! Decoding a [`CachedPod`] straight from a pod's JSON.
//!
//! The raw structs below name only the fields the cache keeps; serde skips the rest of the
//! document without building anything (no `managedFields`, no env, volumes or probes). Strings
//! are borrowed from the response buffer where JSON allows it ([`Str`]) and copied once into
//! their final home: a shared [`intern`]ed string, or the pod's own boxed one.

use std::{borrow::Cow, fmt, sync::Arc};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, Visitor},
};

use super::{CachedPod, PodPort, ReadyCondition, SharedControllerRef};
use crate::intern::intern;

const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// A string borrowed from the input when it has no escapes, owned otherwise.
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

impl Str<'_> {
    fn shared(&self) -> Arc<str> {
        intern(&self.0)
    }

    fn boxed(&self) -> Box<str> {
        Box::from(&*self.0)
    }

    fn timestamp(&self) -> Option<Timestamp> {
        self.0.parse().ok()
    }
}

#[derive(Deserialize)]
struct RawPod<'a> {
    #[serde(borrow, default)]
    metadata: Option<RawMeta<'a>>,
    #[serde(borrow, default)]
    spec: Option<RawSpec<'a>>,
    #[serde(borrow, default)]
    status: Option<RawStatus<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMeta<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    namespace: Option<Str<'a>>,
    #[serde(borrow)]
    uid: Option<Str<'a>>,
    #[serde(borrow)]
    resource_version: Option<Str<'a>>,
    #[serde(default)]
    generation: i64,
    #[serde(borrow, default, deserialize_with = "labels")]
    labels: Vec<(Str<'a>, Str<'a>)>,
    #[serde(borrow, default, deserialize_with = "deletion_cost")]
    annotations: Option<Str<'a>>,
    #[serde(borrow, default)]
    owner_references: Vec<RawOwner<'a>>,
    #[serde(borrow)]
    creation_timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    deletion_timestamp: Option<Str<'a>>,
    deletion_grace_period_seconds: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOwner<'a> {
    #[serde(borrow)]
    api_version: Str<'a>,
    #[serde(borrow)]
    kind: Str<'a>,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    uid: Str<'a>,
    controller: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpec<'a> {
    #[serde(borrow)]
    node_name: Option<Str<'a>>,
    #[serde(borrow)]
    hostname: Option<Str<'a>>,
    #[serde(borrow)]
    subdomain: Option<Str<'a>>,
    #[serde(borrow)]
    restart_policy: Option<Str<'a>>,
    termination_grace_period_seconds: Option<i64>,
    #[serde(borrow, default)]
    containers: Vec<RawContainer<'a>>,
    #[serde(borrow, default)]
    init_containers: Vec<RawContainer<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContainer<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    restart_policy: Option<Str<'a>>,
    #[serde(borrow, default)]
    ports: Vec<RawPort<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPort<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    container_port: i32,
    #[serde(borrow)]
    protocol: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus<'a> {
    #[serde(borrow)]
    phase: Option<Str<'a>>,
    #[serde(borrow)]
    reason: Option<Str<'a>>,
    #[serde(borrow, rename = "podIP")]
    pod_ip: Option<Str<'a>>,
    #[serde(borrow, default, rename = "podIPs")]
    pod_ips: Vec<RawPodIp<'a>>,
    #[serde(borrow, default)]
    conditions: Vec<RawCondition<'a>>,
    #[serde(borrow, default)]
    container_statuses: Vec<RawContainerStatus<'a>>,
    #[serde(borrow, default)]
    init_container_statuses: Vec<RawContainerStatus<'a>>,
}

#[derive(Deserialize)]
struct RawPodIp<'a> {
    #[serde(borrow)]
    ip: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCondition<'a> {
    #[serde(borrow, rename = "type")]
    type_: Str<'a>,
    #[serde(borrow)]
    status: Str<'a>,
    #[serde(borrow)]
    last_transition_time: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContainerStatus<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(default)]
    restart_count: i32,
}

/// A label map as a list of pairs, without building a map.
fn labels<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(Str<'de>, Str<'de>)>, D::Error> {
    struct Pairs;
    impl<'de> Visitor<'de> for Pairs {
        type Value = Vec<(Str<'de>, Str<'de>)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of strings")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(4));
            while let Some(entry) = map.next_entry::<Str<'de>, Str<'de>>()? {
                pairs.push(entry);
            }
            Ok(pairs)
        }
    }
    deserializer.deserialize_any(Pairs)
}

/// Only the deletion-cost annotation; the other values are skipped unread.
fn deletion_cost<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Str<'de>>, D::Error> {
    struct Cost;
    impl<'de> Visitor<'de> for Cost {
        type Value = Option<Str<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of strings")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut cost = None;
            while let Some(key) = map.next_key::<Str<'de>>()? {
                if key.0 == DELETION_COST_ANNOTATION {
                    cost = Some(map.next_value::<Str<'de>>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(cost)
        }
    }
    deserializer.deserialize_any(Cost)
}

impl<'de> Deserialize<'de> for CachedPod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawPod::deserialize(deserializer)?;
        Ok(CachedPod::from_raw(raw))
    }
}

fn shared(s: &Option<Str<'_>>) -> Option<Arc<str>> {
    s.as_ref().map(Str::shared)
}

fn boxed(s: &Option<Str<'_>>) -> Box<str> {
    s.as_ref().map(Str::boxed).unwrap_or_default()
}

impl CachedPod {
    fn from_raw(raw: RawPod<'_>) -> Self {
        let mut pod = CachedPod::default();
        if let Some(meta) = raw.metadata {
            pod.name = meta
                .name
                .as_ref()
                .map_or_else(|| Arc::from(""), |n| Arc::from(&*n.0));
            pod.namespace = meta
                .namespace
                .as_ref()
                .map(Str::shared)
                .unwrap_or_else(|| intern(""));
            pod.uid = boxed(&meta.uid);
            pod.resource_version = boxed(&meta.resource_version);
            pod.generation = meta.generation;
            let mut labels: Vec<(Arc<str>, Arc<str>)> = meta
                .labels
                .iter()
                .map(|(k, v)| (k.shared(), v.shared()))
                .collect();
            labels.sort_by(|a, b| a.0.cmp(&b.0));
            labels.dedup_by(|later, earlier| later.0 == earlier.0);
            pod.labels = labels.into_boxed_slice();
            pod.deletion_cost = meta.annotations.as_ref().map(Str::boxed);
            pod.controller = meta
                .owner_references
                .iter()
                .find(|r| r.controller == Some(true))
                .map(|r| SharedControllerRef {
                    api_version: r.api_version.shared(),
                    kind: r.kind.shared(),
                    name: r.name.shared(),
                    uid: r.uid.shared(),
                });
            pod.creation_timestamp = meta.creation_timestamp.as_ref().and_then(Str::timestamp);
            pod.deletion_timestamp = meta.deletion_timestamp.as_ref().and_then(Str::timestamp);
            pod.deletion_grace_period_seconds = meta.deletion_grace_period_seconds;
            // What kube's watcher reads through `Resource::meta()` before the cache shrinks it.
            pod.meta = Some(Box::new(ObjectMeta {
                name: Some(pod.name.to_string()),
                namespace: Some(pod.namespace.to_string()),
                resource_version: Some(pod.resource_version.to_string()),
                ..ObjectMeta::default()
            }));
        }
        let mut sidecars: Vec<&str> = Vec::new();
        if let Some(spec) = &raw.spec {
            pod.node_name = shared(&spec.node_name).filter(|n| !n.is_empty());
            pod.hostname = spec.hostname.as_ref().map(Str::boxed);
            pod.subdomain = spec.subdomain.as_ref().map(Str::boxed);
            pod.restart_policy = shared(&spec.restart_policy);
            pod.termination_grace_period_seconds = spec.termination_grace_period_seconds;
            let sidecar_containers = spec
                .init_containers
                .iter()
                .filter(|c| c.restart_policy.as_ref().is_some_and(|p| p.0 == "Always"));
            sidecars = sidecar_containers
                .clone()
                .filter_map(|c| c.name.as_ref().map(|n| &*n.0))
                .collect();
            let regular = spec.containers.iter().map(|c| (c, false));
            let ports: Vec<PodPort> = regular
                .chain(sidecar_containers.map(|c| (c, true)))
                .flat_map(|(c, sidecar)| {
                    c.ports.iter().map(move |p| PodPort {
                        name: shared(&p.name).filter(|n| !n.is_empty()),
                        container_port: p.container_port,
                        protocol: p
                            .protocol
                            .as_ref()
                            .map_or_else(|| intern("TCP"), Str::shared),
                        sidecar,
                    })
                })
                .collect();
            pod.ports = ports.into_boxed_slice();
        }
        if let Some(status) = &raw.status {
            pod.phase = shared(&status.phase);
            pod.reason = shared(&status.reason);
            let mut ips: Vec<Box<str>> = status
                .pod_ips
                .iter()
                .filter_map(|ip| ip.ip.as_ref().map(Str::boxed))
                .collect();
            if ips.is_empty()
                && let Some(ip) = status.pod_ip.as_ref().filter(|ip| !ip.0.is_empty())
            {
                ips.push(ip.boxed());
            }
            pod.pod_ips = ips.into_boxed_slice();
            let condition = |type_: &str| {
                status
                    .conditions
                    .iter()
                    .find(|c| c.type_.0 == type_)
                    .map(|c| ReadyCondition {
                        status: c.status.shared(),
                        last_transition_time: c
                            .last_transition_time
                            .as_ref()
                            .and_then(Str::timestamp),
                    })
            };
            pod.ready = condition("Ready");
            pod.disruption_target = condition("DisruptionTarget").map(Box::new);
            pod.max_restarts = status
                .container_statuses
                .iter()
                .map(|c| c.restart_count)
                .max()
                .unwrap_or(0)
                .max(0);
            pod.max_sidecar_restarts = status
                .init_container_statuses
                .iter()
                .filter(|c| c.name.as_ref().is_some_and(|n| sidecars.contains(&&*n.0)))
                .map(|c| c.restart_count)
                .max()
                .unwrap_or(0)
                .max(0);
        }
        pod
    }
}
