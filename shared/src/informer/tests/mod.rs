//! Behaviour tests of the informer machinery, all without a cluster: informers are scripted
//! through `process_event` / `run_stream`, and the factory talks to an in-process fake
//! apiserver.

mod concurrency;
mod delivery;
mod factory;
mod resync;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference};
use kube::ResourceExt;
use parking_lot::Mutex;

use super::{Delta, ObjectKey};

/// A pod carrying managedFields, so every test also checks they never reach a handler.
fn pod(ns: &str, name: &str, rv: &str) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.namespace = Some(ns.into());
    pod.metadata.name = Some(name.into());
    pod.metadata.resource_version = Some(rv.into());
    pod.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
        manager: Some("kubectl".into()),
        ..Default::default()
    }]);
    pod
}

fn on_node(mut pod: Pod, node: &str) -> Pod {
    pod.spec = Some(PodSpec {
        node_name: Some(node.into()),
        ..Default::default()
    });
    pod
}

fn owned_by(mut pod: Pod, uid: &str) -> Pod {
    pod.metadata.owner_references = Some(vec![OwnerReference {
        uid: uid.into(),
        controller: Some(true),
        ..Default::default()
    }]);
    pod
}

/// One line per delta, e.g. `add ns/a@1 initial`, `update ns/a@1->2`, `delete ns/b@1 tombstone`.
fn describe<K: kube::Resource>(delta: &Delta<K>) -> String {
    let at = |obj: &Arc<K>| {
        format!(
            "{}@{}",
            ObjectKey::from_object(obj.as_ref()),
            obj.meta().resource_version.as_deref().unwrap_or("")
        )
    };
    match delta {
        Delta::Added { obj, initial_list } => {
            format!(
                "add {}{}",
                at(obj),
                if *initial_list { " initial" } else { "" }
            )
        }
        Delta::Updated { old, new } => format!(
            "update {}->{}",
            at(old),
            new.meta().resource_version.as_deref().unwrap_or("")
        ),
        Delta::Deleted {
            obj,
            final_state_unknown,
        } => format!(
            "delete {}{}",
            at(obj),
            if *final_state_unknown {
                " tombstone"
            } else {
                ""
            }
        ),
    }
}

/// A handler that remembers every delta it was given and fails the test if any object in it
/// still has managedFields.
#[derive(Clone, Default)]
struct Recorder {
    deltas: Arc<Mutex<Vec<Delta<Pod>>>>,
}

impl Recorder {
    fn handler(&self) -> impl Fn(&Delta<Pod>) + Send + Sync + 'static {
        let deltas = Arc::clone(&self.deltas);
        move |delta: &Delta<Pod>| {
            let objects: Vec<&Arc<Pod>> = match delta {
                Delta::Updated { old, new } => vec![old, new],
                Delta::Added { obj, .. } | Delta::Deleted { obj, .. } => vec![obj],
            };
            for obj in objects {
                assert!(
                    obj.managed_fields().is_empty(),
                    "managedFields reached a handler"
                );
            }
            deltas.lock().push(delta.clone());
        }
    }

    fn lines(&self) -> Vec<String> {
        self.deltas.lock().iter().map(describe).collect()
    }

    fn take(&self) -> Vec<String> {
        let lines = self.lines();
        self.deltas.lock().clear();
        lines
    }
}
