//! One sync of a terminating namespace, step by step as upstream's
//! `namespacedResourcesDeleter.Delete` (reference §3.4):
//!
//! 1. read the namespace live; gone or not being deleted: done;
//! 2. make sure its phase is `Terminating` (retried on conflict);
//! 3. still being deleted, and 4. `spec.finalizers` not empty already, else done;
//! 5. one content pass ([`super::content`]), then write the five conditions if they changed;
//! 6. any error: fail the sync (rate-limited retry), even if content is also still going away;
//!    content still going away: come back in `estimate/2 + 1` s;
//! 7. finalise: `PUT /api/v1/namespaces/<name>/finalize` with every spec finalizer except
//!    `kubernetes`, sorted and deduplicated (retried on conflict);
//! 8. the apiserver, not the controller, removes the namespace once both finalizer lists are
//!    empty.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec};
use kube::{Api, api::PostParams};

use super::{content::ContentDeleter, estimate};
use crate::{
    runtime::{Action, SyncError},
    toolkit::{ApiFailure, Clock, FailureKind},
};

/// `v1.FinalizerKubernetes`: the spec finalizer this controller owns.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";
const TERMINATING: &str = "Terminating";

/// The spec finalizers a namespace keeps once this controller is done: all but `token`,
/// sorted and deduplicated (Go's `sets.String.List()`).
pub fn finalizers_after(finalizers: &[String], token: &str) -> Vec<String> {
    let kept: BTreeSet<&str> = finalizers
        .iter()
        .map(String::as_str)
        .filter(|f| *f != token)
        .collect();
    kept.into_iter().map(str::to_owned).collect()
}

/// `finalized`: nothing left in `spec.finalizers`.
pub fn is_finalized(namespace: &Namespace) -> bool {
    namespace
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_none_or(Vec::is_empty)
}

/// The `ResourcesRemainingError` message.
pub fn remaining_message(estimate: i64) -> String {
    format!(
        "some content remains in the namespace, estimate {estimate} seconds before it is removed"
    )
}

/// Runs [`Self::delete`] for one namespace at a time (the queue makes sure of that).
pub struct NamespaceDeleter {
    namespaces: Api<Namespace>,
    content: ContentDeleter,
    clock: Clock,
    token: String,
}

/// Which write a conflict-retried step makes.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// `updateNamespaceStatusFunc`.
    EnsureTerminating,
    /// `finalizeNamespace`.
    Finalize,
}

impl NamespaceDeleter {
    pub fn new(client: kube::Client, clock: Clock) -> Self {
        Self {
            namespaces: Api::all(client.clone()),
            content: ContentDeleter::new(client, clock.clone()),
            clock,
            token: FINALIZER_KUBERNETES.to_owned(),
        }
    }

    pub fn content(&self) -> &ContentDeleter {
        &self.content
    }

    /// One sync of namespace `name`.
    pub async fn delete(&self, name: &str) -> Result<Action, SyncError> {
        // 1. The cache may lag: other controllers edit terminating namespaces too.
        let Some(namespace) = self.namespaces.get_opt(name).await? else {
            return Ok(Action::Done);
        };
        if namespace.metadata.deletion_timestamp.is_none() {
            return Ok(Action::Done);
        }
        // 2.
        let namespace = match self
            .retry_on_conflict(namespace, Step::EnsureTerminating)
            .await
        {
            Ok(namespace) => namespace,
            Err(failure) if failure.is(FailureKind::NotFound) => return Ok(Action::Done),
            Err(failure) => return Err(failure.into()),
        };
        // 3.
        let Some(deleted_at) = namespace.metadata.deletion_timestamp.clone() else {
            return Ok(Action::Done);
        };
        // 4. Someone else finalised it (or it was created without finalizers).
        if is_finalized(&namespace) {
            return Ok(Action::Done);
        }
        // 5.
        let pass = self.content.delete_all(name, deleted_at.0).await;
        let mut namespace = namespace;
        let status = namespace.status.get_or_insert_with(Default::default);
        if pass.conditions.apply(status, self.clock.now()) {
            match self
                .namespaces
                .replace_status(name, &PostParams::default(), &namespace)
                .await
            {
                // Finalising with the new resourceVersion avoids a certain conflict (upstream
                // finalises with the old one, meets the 409, reads again and retries).
                Ok(updated) => namespace = updated,
                Err(error) => tracing::warn!(
                    namespace = name,
                    error = %ApiFailure::from(error),
                    "Couldn't update status condition for namespace"
                ),
            }
        }
        // 6.
        if let Some(error) = SyncError::aggregate(pass.errors.into_iter().map(Into::into).collect())
        {
            return Err(error);
        }
        if pass.estimate > 0 {
            return Err(SyncError::Requeue {
                after: estimate::requeue_after(pass.estimate),
                reason: remaining_message(pass.estimate),
            });
        }
        // 7. Not found: another controller sharing the token finished first.
        match self.retry_on_conflict(namespace, Step::Finalize).await {
            Ok(_) => Ok(Action::Done),
            Err(failure) if failure.is(FailureKind::NotFound) => Ok(Action::Done),
            Err(failure) => Err(failure.into()),
        }
    }

    /// `retryOnConflictError`: on a conflict read the namespace again and redo the step, unless
    /// it is another namespace by now (same name, new UID).
    async fn retry_on_conflict(
        &self,
        mut namespace: Namespace,
        step: Step,
    ) -> Result<Namespace, ApiFailure> {
        loop {
            let failure = match self.write(&namespace, step).await {
                Ok(updated) => return Ok(updated),
                Err(failure) if failure.is(FailureKind::Conflict) => failure,
                Err(failure) => return Err(failure),
            };
            let name = namespace.metadata.name.clone().unwrap_or_default();
            tracing::debug!(namespace = name, ?step, %failure, "conflict; reading the namespace again");
            let latest = self.namespaces.get(&name).await?;
            if latest.metadata.uid != namespace.metadata.uid {
                return Err(ApiFailure::new(
                    FailureKind::Other,
                    "namespace uid has changed across retries",
                ));
            }
            namespace = latest;
        }
    }

    async fn write(&self, namespace: &Namespace, step: Step) -> Result<Namespace, ApiFailure> {
        let name = namespace.metadata.name.as_deref().unwrap_or_default();
        let pp = PostParams::default();
        match step {
            Step::EnsureTerminating => {
                let phase = namespace.status.as_ref().and_then(|s| s.phase.as_deref());
                if namespace.metadata.deletion_timestamp.is_none() || phase == Some(TERMINATING) {
                    return Ok(namespace.clone());
                }
                let mut updated = namespace.clone();
                updated.status.get_or_insert_with(Default::default).phase =
                    Some(TERMINATING.to_owned());
                Ok(self.namespaces.replace_status(name, &pp, &updated).await?)
            }
            Step::Finalize => {
                let finalizers = namespace
                    .spec
                    .as_ref()
                    .and_then(|s| s.finalizers.as_deref())
                    .unwrap_or_default();
                // Only metadata and spec travel; the finalize subresource ignores status.
                let body = Namespace {
                    metadata: namespace.metadata.clone(),
                    spec: Some(NamespaceSpec {
                        finalizers: Some(finalizers_after(finalizers, &self.token)),
                    }),
                    status: None,
                };
                Ok(self
                    .namespaces
                    .replace_subresource("finalize", name, &pp, &body)
                    .await?)
            }
        }
    }
}

#[cfg(test)]
mod tests;
