//! The controller's side effects behind one trait: pod create/delete/patch, the uncached owner
//! read, the status write and events (upstream `PodControlInterface` plus the clientset and
//! recorder the ReplicaSet controller holds).
//!
//! [`KubeReplicaControl`] talks to the apiserver. The sync logic only sees [`ReplicaControl`],
//! so its tests script API answers without a cluster, as upstream's tests use `FakePodControl`.

use std::{future::Future, marker::PhantomData};

use k8s_openapi::api::core::v1::Pod;
use kcm_shared::{
    events::{EventRecorder, EventType},
    k8s::object_reference,
};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::Value;

use super::kind::ReplicaKind;
use crate::toolkit::api_error::ApiFailure;

/// Everything a sync does to the outside world.
pub trait ReplicaControl<K>: Send + Sync + 'static {
    /// Creates `pod` in `namespace`; returns the created pod (with its generated name).
    fn create_pod(
        &self,
        namespace: &str,
        pod: &Pod,
    ) -> impl Future<Output = Result<Pod, ApiFailure>> + Send;
    /// Deletes a pod with default options (no grace period override, no preconditions).
    fn delete_pod(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), ApiFailure>> + Send;
    /// Applies a strategic-merge patch to a pod (adoption and release).
    fn patch_pod(
        &self,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> impl Future<Output = Result<(), ApiFailure>> + Send;
    /// Reads the owner from the apiserver, bypassing the cache.
    fn get_owner(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<K, ApiFailure>> + Send;
    /// PUTs `owner` (carrying the new status and its resourceVersion) to `/status`.
    fn update_status(&self, owner: &K) -> impl Future<Output = Result<K, ApiFailure>> + Send;
    /// Records an event about `owner`; never waits.
    fn event(&self, owner: &K, type_: EventType, reason: &str, message: String);
}

/// [`ReplicaControl`] against the apiserver, reporting events through `recorder`.
pub struct KubeReplicaControl<K> {
    client: Client,
    recorder: EventRecorder,
    kind: PhantomData<fn() -> K>,
}

impl<K> KubeReplicaControl<K> {
    pub fn new(client: Client, recorder: EventRecorder) -> Self {
        Self {
            client,
            recorder,
            kind: PhantomData,
        }
    }
}

impl<K: ReplicaKind> KubeReplicaControl<K> {
    fn owners(&self, namespace: &str) -> Api<K> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }
}

impl<K: ReplicaKind> ReplicaControl<K> for KubeReplicaControl<K> {
    async fn create_pod(&self, namespace: &str, pod: &Pod) -> Result<Pod, ApiFailure> {
        Ok(self
            .pods(namespace)
            .create(&PostParams::default(), pod)
            .await?)
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> Result<(), ApiFailure> {
        self.pods(namespace)
            .delete(name, &DeleteParams::default())
            .await?;
        Ok(())
    }

    async fn patch_pod(
        &self,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), ApiFailure> {
        self.pods(namespace)
            .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await?;
        Ok(())
    }

    async fn get_owner(&self, namespace: &str, name: &str) -> Result<K, ApiFailure> {
        Ok(self.owners(namespace).get(name).await?)
    }

    async fn update_status(&self, owner: &K) -> Result<K, ApiFailure> {
        let meta = owner.meta();
        let namespace = meta.namespace.as_deref().unwrap_or_default();
        let name = meta.name.as_deref().unwrap_or_default();
        Ok(self
            .owners(namespace)
            .replace_status(name, &PostParams::default(), owner)
            .await?)
    }

    fn event(&self, owner: &K, type_: EventType, reason: &str, message: String) {
        self.recorder
            .event(object_reference(owner), type_, reason, message);
    }
}
