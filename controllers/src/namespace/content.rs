//! Deleting everything in a terminating namespace: one content pass (upstream
//! `deleteAllContent` and `deleteAllContentForGroupVersionResource`).
//!
//! A pass discovers the namespaced, deletable resources afresh, deletes pods first and stops
//! there while any pod remains, then deletes every other resource, collecting errors without
//! stopping. It returns the longest estimate of what is still going away, the errors, and the
//! conditions to write. A discovery failure is reported and returned as an error (which keeps
//! the namespace from being finalised) but the resources that were found are still deleted.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{
    conditions::{ConditionUpdater, RemainingContent},
    discovery::{self, DiscoveryFailure, GroupVersionParseError},
    estimate::{self, Leftover},
    metadata::MetadataClient,
    resource::{GroupVersionResource, NamespacedResource},
};
use crate::{
    runtime::SyncError,
    toolkit::{ApiFailure, Clock, FailureKind},
};

/// Why one resource could not be cleared.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error(transparent)]
    Api(#[from] ApiFailure),
    /// Items remain although nothing explains them (no grace period left, no finalizers).
    #[error("unexpected items still remain in namespace: {namespace} for gvr: {gvr}")]
    Unexpected {
        namespace: String,
        gvr: GroupVersionResource,
    },
}

/// Why a pass did not clear the namespace, each as upstream words it.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Discovery(#[from] DiscoveryFailure),
    #[error(transparent)]
    GroupVersion(#[from] GroupVersionParseError),
    #[error("failed to delete pods for namespace: {namespace}, err: {source}")]
    Pods {
        namespace: String,
        #[source]
        source: ContentError,
    },
    #[error(transparent)]
    Content(#[from] ContentError),
}

impl From<PassError> for SyncError {
    /// API failures stay [`SyncError::Api`] (with their cause) so conflicts and not-founds
    /// keep their class; the rest are retried with backoff.
    fn from(error: PassError) -> Self {
        match error {
            PassError::Discovery(DiscoveryFailure::Request(failure))
            | PassError::Content(ContentError::Api(failure)) => SyncError::Api(failure),
            PassError::Pods {
                namespace,
                source: ContentError::Api(failure),
            } => SyncError::api(
                format!("failed to delete pods for namespace: {namespace}, err"),
                failure,
            ),
            other => SyncError::Retry(other.to_string()),
        }
    }
}

/// What one resource left behind (`gvrDeletionMetadata` plus its error).
#[derive(Debug, Default)]
pub struct ResourceOutcome {
    /// Seconds until what remains should be gone; zero when nothing remains.
    pub estimate: i64,
    pub remaining: usize,
    pub finalizers: BTreeMap<String, usize>,
    pub error: Option<ContentError>,
}

impl ResourceOutcome {
    fn failed(estimate: i64, error: impl Into<ContentError>) -> Self {
        Self {
            estimate,
            error: Some(error.into()),
            ..Self::default()
        }
    }
}

/// The result of one pass over a namespace.
#[derive(Debug, Default)]
pub struct ContentPass {
    /// The longest estimate of any resource still going away, in seconds.
    pub estimate: i64,
    pub errors: Vec<PassError>,
    /// The conditions this pass found, to be written to the namespace.
    pub conditions: ConditionUpdater,
}

impl ContentPass {
    fn absorb(
        &mut self,
        gvr: &GroupVersionResource,
        outcome: &ResourceOutcome,
        remaining: &mut RemainingContent,
    ) {
        self.estimate = self.estimate.max(outcome.estimate);
        remaining.add(gvr, outcome.remaining, &outcome.finalizers);
    }
}

/// Deletes namespace content through discovery and the metadata client.
#[derive(Clone)]
pub struct ContentDeleter {
    client: kube::Client,
    metadata: MetadataClient,
    clock: Clock,
}

fn unsupported(failure: &ApiFailure) -> bool {
    // A resource listed by discovery that serves no top-level verbs answers 404, not 405
    // (kubernetes#22413); upstream treats both as "not supported".
    matches!(
        failure.kind,
        FailureKind::MethodNotAllowed | FailureKind::NotFound
    )
}

impl ContentDeleter {
    pub fn new(client: kube::Client, clock: Clock) -> Self {
        Self {
            metadata: MetadataClient::new(client.clone()),
            client,
            clock,
        }
    }

    /// The client discovery runs through.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// One pass over `namespace`, whose deletion started at `deleted_at`.
    pub async fn delete_all(&self, namespace: &str, deleted_at: Timestamp) -> ContentPass {
        tracing::debug!(namespace, "deleting all content");
        let mut pass = ContentPass::default();
        let discovered = discovery::discover(&self.client).await;
        if let Some(failure) = discovered.failure {
            pass.conditions
                .discovery_failed(failure.condition_message());
            pass.errors.push(failure.into());
        }
        let resources = discovery::deletable(&discovered.resources).unwrap_or_else(|error| {
            pass.conditions.group_versions_failed(error.to_string());
            pass.errors.push(error.into());
            Vec::new()
        });

        let mut remaining = RemainingContent::default();
        let pods = GroupVersionResource::pods();
        if let Some(resource) = resources.iter().find(|r| r.gvr.is_pods()) {
            let mut outcome = self.delete_resource(resource, namespace, deleted_at).await;
            pass.absorb(&pods, &outcome, &mut remaining);
            if let Some(error) = outcome.error.take() {
                pass.conditions.delete_content_failed(error.to_string());
                pass.errors.push(PassError::Pods {
                    namespace: namespace.to_owned(),
                    source: error,
                });
            }
            if remaining.remaining_of(&pods) > 0 {
                tracing::debug!(namespace, "pods remain; other content waits for them");
                // Upstream skips this here and reports ContentRemaining as clear while pods
                // remain (kubernetes#138208); kcm-rs reports the pods (see README).
                pass.conditions.content_totals(&remaining);
                return pass;
            }
        }
        for resource in resources.iter().filter(|r| !r.gvr.is_pods()) {
            let mut outcome = self.delete_resource(resource, namespace, deleted_at).await;
            pass.absorb(&resource.gvr, &outcome, &mut remaining);
            if let Some(error) = outcome.error.take() {
                pass.conditions.delete_content_failed(error.to_string());
                pass.errors.push(error.into());
            }
        }
        pass.conditions.content_totals(&remaining);
        tracing::debug!(
            namespace,
            estimate = pass.estimate,
            errors = pass.errors.len(),
            "content pass done"
        );
        pass
    }

    /// Estimate, delete (the collection, else item by item), then verify what is left
    /// (`deleteAllContentForGroupVersionResource`).
    pub async fn delete_resource(
        &self,
        resource: &NamespacedResource,
        namespace: &str,
        deleted_at: Timestamp,
    ) -> ResourceOutcome {
        let gvr = &resource.gvr;
        let estimate = if gvr.is_pods() {
            match self.metadata.pod_graces(namespace).await {
                Ok(pods) => estimate::pod_grace_estimate(&pods),
                Err(failure) => return ResourceOutcome::failed(0, failure),
            }
        } else {
            0
        };
        let estimate = estimate::discount_elapsed(estimate, deleted_at, self.clock.now());

        let mut collection_deleted = false;
        if resource.verbs.delete_collection {
            match self.metadata.delete_collection(gvr, namespace).await {
                Ok(()) => collection_deleted = true,
                Err(failure) if unsupported(&failure) => {
                    tracing::debug!(namespace, %gvr, "deletecollection not supported");
                }
                Err(failure) => return ResourceOutcome::failed(estimate, failure),
            }
        }
        if !collection_deleted && let Err(failure) = self.delete_each(resource, namespace).await {
            return ResourceOutcome::failed(estimate, failure);
        }

        let items = match self.list(resource, namespace).await {
            Ok(Some(items)) => items,
            Ok(None) => {
                return ResourceOutcome {
                    estimate,
                    ..ResourceOutcome::default()
                };
            }
            Err(failure) => return ResourceOutcome::failed(estimate, failure),
        };
        match estimate::assess(estimate, &items) {
            Leftover::Gone => ResourceOutcome::default(),
            Leftover::Waiting {
                estimate,
                remaining,
                finalizers,
            } => ResourceOutcome {
                estimate,
                remaining,
                finalizers,
                error: None,
            },
            Leftover::Unexpected { remaining } => ResourceOutcome {
                estimate,
                remaining,
                finalizers: BTreeMap::new(),
                error: Some(ContentError::Unexpected {
                    namespace: namespace.to_owned(),
                    gvr: gvr.clone(),
                }),
            },
        }
    }

    /// The items of a resource, or `None` when it cannot be listed.
    async fn list(
        &self,
        resource: &NamespacedResource,
        namespace: &str,
    ) -> Result<Option<Vec<super::metadata::ItemMeta>>, ApiFailure> {
        if !resource.verbs.list {
            return Ok(None);
        }
        match self.metadata.list(&resource.gvr, namespace).await {
            Ok(items) => Ok(Some(items)),
            Err(failure) if unsupported(&failure) => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    /// `deleteEachItem`: list, then delete every item; gone or undeletable items are skipped,
    /// any other failure stops the loop.
    async fn delete_each(
        &self,
        resource: &NamespacedResource,
        namespace: &str,
    ) -> Result<(), ApiFailure> {
        let Some(items) = self.list(resource, namespace).await? else {
            return Ok(());
        };
        for item in items {
            match self
                .metadata
                .delete(&resource.gvr, namespace, &item.name)
                .await
            {
                Ok(()) => {}
                Err(failure) if unsupported(&failure) => {}
                Err(failure) => return Err(failure),
            }
        }
        Ok(())
    }
}
