//! The collector's API calls behind one trait: the pod status patch, the force delete and the
//! live node read. [`KubeGcControl`] talks to the apiserver; the pass ([`super::gc`]) only sees
//! [`GcControl`], so its tests script the answers without a cluster.

use std::future::Future;

use k8s_openapi::api::core::v1::Node;
use kcm_shared::cached_pod::CachedPod;
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::Value;

use crate::toolkit::{ApiFailure, FailureKind};

/// Everything a pass does to the outside world.
pub trait GcControl: Send + Sync + 'static {
    /// A strategic-merge patch of `pods/<name>/status` (upstream `PatchPodStatus`).
    fn patch_pod_status(
        &self,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> impl Future<Output = Result<(), ApiFailure>> + Send;
    /// `DELETE pods/<name>` with `gracePeriodSeconds: 0` and nothing else
    /// (`metav1.NewDeleteOptions(0)`).
    fn force_delete_pod(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), ApiFailure>> + Send;
    /// Whether the node exists, read from the apiserver (`checkIfNodeExists`): NotFound is
    /// `false`, any other failure an error.
    fn node_exists(&self, name: &str) -> impl Future<Output = Result<bool, ApiFailure>> + Send;
}

/// [`GcControl`] against the apiserver.
pub struct KubeGcControl {
    client: Client,
}

impl KubeGcControl {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    fn pods(&self, namespace: &str) -> Api<CachedPod> {
        Api::namespaced(self.client.clone(), namespace)
    }
}

impl GcControl for KubeGcControl {
    async fn patch_pod_status(
        &self,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), ApiFailure> {
        self.pods(namespace)
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await?;
        Ok(())
    }

    async fn force_delete_pod(&self, namespace: &str, name: &str) -> Result<(), ApiFailure> {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        };
        self.pods(namespace).delete(name, &params).await?;
        Ok(())
    }

    async fn node_exists(&self, name: &str) -> Result<bool, ApiFailure> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        match nodes.get_metadata(name).await {
            Ok(_) => Ok(true),
            Err(error) => {
                let failure = ApiFailure::from(error);
                if failure.is(FailureKind::NotFound) {
                    Ok(false)
                } else {
                    Err(failure)
                }
            }
        }
    }
}
