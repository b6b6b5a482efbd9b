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

/// `v1.NamespaceTerminatingCause`: the namespace is being deleted, so creations fail.
const NAMESPACE_TERMINATING_CAUSE: &str = "NamespaceTerminating";

/// The classes of API failure the controller treats differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    NotFound,
    /// 422, e.g. a release patch whose UID precondition no longer holds.
    Invalid,
    /// A creation refused because the namespace is terminating.
    NamespaceTerminating,
    Other,
}

/// An API call that failed. `message` is what Go's `err.Error()` prints for an API status
/// error (the status message), which upstream puts into events and conditions.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiFailure {
    pub kind: FailureKind,
    pub message: String,
}

impl ApiFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<kube::Error> for ApiFailure {
    fn from(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => {
                let terminating = status
                    .details
                    .iter()
                    .flat_map(|d| d.causes.iter())
                    .any(|c| c.reason == NAMESPACE_TERMINATING_CAUSE);
                let kind = if terminating {
                    FailureKind::NamespaceTerminating
                } else if status.is_not_found() {
                    FailureKind::NotFound
                } else if status.is_invalid() {
                    FailureKind::Invalid
                } else {
                    FailureKind::Other
                };
                let message = if status.message.is_empty() {
                    format!("{} ({})", status.reason, status.code)
                } else {
                    status.message
                };
                ApiFailure::new(kind, message)
            }
            other => ApiFailure::new(FailureKind::Other, other.to_string()),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::{
        Status,
        response::{StatusCause, StatusDetails},
    };

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status {
            code,
            reason: reason.into(),
            message: message.into(),
            ..Status::failure(message, reason)
        }))
    }

    #[test]
    fn api_errors_are_classified_and_keep_the_status_message() {
        let not_found = ApiFailure::from(api_error(404, "NotFound", "pods \"p\" not found"));
        assert_eq!(
            not_found,
            ApiFailure::new(FailureKind::NotFound, "pods \"p\" not found")
        );
        let invalid = ApiFailure::from(api_error(422, "Invalid", "bad uid"));
        assert_eq!(invalid.kind, FailureKind::Invalid);
        let quota = ApiFailure::from(api_error(
            403,
            "Forbidden",
            "pods \"web-x\" is forbidden: exceeded quota: q",
        ));
        assert_eq!(quota.kind, FailureKind::Other);
        assert_eq!(
            quota.to_string(),
            "pods \"web-x\" is forbidden: exceeded quota: q"
        );
    }

    #[test]
    fn namespace_terminating_is_recognised_by_its_cause() {
        let mut status = Status::failure("namespace ns is being terminated", "Forbidden");
        status.code = 403;
        status.details = Some(StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: vec![StatusCause {
                reason: NAMESPACE_TERMINATING_CAUSE.into(),
                message: "namespace ns is being terminated".into(),
                field: "metadata.namespace".into(),
            }],
            retry_after_seconds: 0,
        });
        let failure = ApiFailure::from(kube::Error::Api(Box::new(status)));
        assert_eq!(failure.kind, FailureKind::NamespaceTerminating);
    }
}
