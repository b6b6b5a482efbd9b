//! The endpoints controller's side effects behind one trait: Endpoints create, update and
//! delete, and events (the clientset and recorder upstream's controller holds).
//!
//! [`KubeEndpointsControl`] talks to the apiserver; the sync's tests script the answers.

use std::future::Future;

use k8s_openapi::api::core::v1::Endpoints;
use kcm_shared::{
    events::{EventRecorder, EventType},
    k8s::object_reference,
};
use kube::{
    Api, Client,
    api::{DeleteParams, PostParams},
};

use crate::toolkit::api_error::ApiFailure;

/// Everything a sync does to the outside world.
pub trait EndpointsControl: Send + Sync + 'static {
    /// POSTs `endpoints` into `namespace`.
    fn create(
        &self,
        namespace: &str,
        endpoints: &Endpoints,
    ) -> impl Future<Output = Result<Endpoints, ApiFailure>> + Send;
    /// PUTs `endpoints` (carrying the cached resourceVersion) into `namespace`.
    fn update(
        &self,
        namespace: &str,
        endpoints: &Endpoints,
    ) -> impl Future<Output = Result<Endpoints, ApiFailure>> + Send;
    /// DELETEs Endpoints `name` with default options.
    fn delete(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), ApiFailure>> + Send;
    /// Records an event about `endpoints`; never waits.
    fn event(&self, endpoints: &Endpoints, type_: EventType, reason: &str, message: String);
}

/// [`EndpointsControl`] against the apiserver.
pub struct KubeEndpointsControl {
    client: Client,
    recorder: EventRecorder,
}

impl KubeEndpointsControl {
    pub fn new(client: Client, recorder: EventRecorder) -> Self {
        Self { client, recorder }
    }

    fn api(&self, namespace: &str) -> Api<Endpoints> {
        Api::namespaced(self.client.clone(), namespace)
    }
}

impl EndpointsControl for KubeEndpointsControl {
    async fn create(
        &self,
        namespace: &str,
        endpoints: &Endpoints,
    ) -> Result<Endpoints, ApiFailure> {
        Ok(self
            .api(namespace)
            .create(&PostParams::default(), endpoints)
            .await?)
    }

    async fn update(
        &self,
        namespace: &str,
        endpoints: &Endpoints,
    ) -> Result<Endpoints, ApiFailure> {
        let name = endpoints.metadata.name.as_deref().unwrap_or_default();
        Ok(self
            .api(namespace)
            .replace(name, &PostParams::default(), endpoints)
            .await?)
    }

    async fn delete(&self, namespace: &str, name: &str) -> Result<(), ApiFailure> {
        self.api(namespace)
            .delete(name, &DeleteParams::default())
            .await?;
        Ok(())
    }

    fn event(&self, endpoints: &Endpoints, type_: EventType, reason: &str, message: String) {
        self.recorder
            .event(object_reference(endpoints), type_, reason, message);
    }
}
