//! The Deployment controller's side effects behind one trait: ReplicaSet create, update,
//! delete and patch, the uncached Deployment read, Deployment update and status update, and
//! events (upstream's `RSControlInterface`, clientset and recorder).
//!
//! [`KubeDeploymentControl`] talks to the apiserver; the sync logic only sees
//! [`DeploymentControl`].

use std::future::Future;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kcm_shared::{
    events::{EventRecorder, EventType},
    k8s::object_reference,
};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::Value;

use crate::toolkit::api_error::ApiFailure;

/// Everything a Deployment sync does to the outside world.
pub trait DeploymentControl: Send + Sync + 'static {
    fn create_replica_set(
        &self,
        namespace: &str,
        rs: &ReplicaSet,
    ) -> impl Future<Output = Result<ReplicaSet, ApiFailure>> + Send;
    /// PUTs `rs` (carrying its resourceVersion).
    fn update_replica_set(
        &self,
        rs: &ReplicaSet,
    ) -> impl Future<Output = Result<ReplicaSet, ApiFailure>> + Send;
    fn delete_replica_set(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), ApiFailure>> + Send;
    /// Strategic-merge patch (adoption and release).
    fn patch_replica_set(
        &self,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> impl Future<Output = Result<(), ApiFailure>> + Send;
    /// Reads the Deployment from the apiserver, bypassing the cache.
    fn get_deployment(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Deployment, ApiFailure>> + Send;
    /// PUTs the Deployment (spec and metadata; used by rollback).
    fn update_deployment(
        &self,
        d: &Deployment,
    ) -> impl Future<Output = Result<Deployment, ApiFailure>> + Send;
    /// PUTs the Deployment to `/status` (status and annotations).
    fn update_deployment_status(
        &self,
        d: &Deployment,
    ) -> impl Future<Output = Result<Deployment, ApiFailure>> + Send;
    /// Records an event about `d`; never waits.
    fn event(&self, d: &Deployment, type_: EventType, reason: &str, message: String);
}

/// [`DeploymentControl`] against the apiserver.
pub struct KubeDeploymentControl {
    client: Client,
    recorder: EventRecorder,
}

impl KubeDeploymentControl {
    pub fn new(client: Client, recorder: EventRecorder) -> Self {
        Self { client, recorder }
    }

    fn replica_sets(&self, namespace: &str) -> Api<ReplicaSet> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn deployments(&self, namespace: &str) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), namespace)
    }
}

fn ns_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

impl DeploymentControl for KubeDeploymentControl {
    async fn create_replica_set(
        &self,
        namespace: &str,
        rs: &ReplicaSet,
    ) -> Result<ReplicaSet, ApiFailure> {
        Ok(self
            .replica_sets(namespace)
            .create(&PostParams::default(), rs)
            .await?)
    }

    async fn update_replica_set(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiFailure> {
        let (namespace, name) = ns_name(&rs.metadata);
        Ok(self
            .replica_sets(namespace)
            .replace(name, &PostParams::default(), rs)
            .await?)
    }

    async fn delete_replica_set(&self, namespace: &str, name: &str) -> Result<(), ApiFailure> {
        self.replica_sets(namespace)
            .delete(name, &DeleteParams::default())
            .await?;
        Ok(())
    }

    async fn patch_replica_set(
        &self,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), ApiFailure> {
        self.replica_sets(namespace)
            .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await?;
        Ok(())
    }

    async fn get_deployment(&self, namespace: &str, name: &str) -> Result<Deployment, ApiFailure> {
        Ok(self.deployments(namespace).get(name).await?)
    }

    async fn update_deployment(&self, d: &Deployment) -> Result<Deployment, ApiFailure> {
        let (namespace, name) = ns_name(&d.metadata);
        Ok(self
            .deployments(namespace)
            .replace(name, &PostParams::default(), d)
            .await?)
    }

    async fn update_deployment_status(&self, d: &Deployment) -> Result<Deployment, ApiFailure> {
        let (namespace, name) = ns_name(&d.metadata);
        Ok(self
            .deployments(namespace)
            .replace_status(name, &PostParams::default(), d)
            .await?)
    }

    fn event(&self, d: &Deployment, type_: EventType, reason: &str, message: String) {
        self.recorder
            .event(object_reference(d), type_, reason, message);
    }
}
