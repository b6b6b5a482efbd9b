//! The new ReplicaSet and revisions (upstream sync.go `getAllReplicaSetsAndSyncRevision` and
//! `getNewReplicaSet`): the ReplicaSet whose template is the Deployment's is found, its
//! annotations (copied ones, revision, revision history) and `minReadySeconds` are brought up
//! to date and its revision copied to the Deployment; or, where asked, it is created with the
//! next revision, the `pod-template-hash` label and selector, and its first size. A name taken
//! by another template is a hash collision: `status.collisionCount` goes up and the next sync
//! tries another name.

use k8s_openapi::{
    api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kcm_shared::{events::EventType, k8s::new_controller_ref};

use super::{
    annotations, conditions,
    control::DeploymentControl,
    fenceposts, hash, replicas,
    rolling::new_rs_new_replicas,
    spec,
    sync::{SCALING_REPLICA_SET, Syncer, ns_name},
};
use crate::{runtime::SyncError, toolkit::FailureKind};

impl<C: DeploymentControl> Syncer<C> {
    /// `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created if `create` and there is
    /// none) and every old one, with revisions synced.
    pub(super) async fn get_all_and_sync_revision(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), SyncError> {
        let (existing, old) = replicas::split_new_and_old(d, rs_list.clone());
        let new_revision = annotations::max_revision(&old) + 1;
        let new_rs = match existing {
            Some(existing) => Some(
                self.sync_existing_new_rs(d, rs_list, existing, new_revision)
                    .await?,
            ),
            None if create => Some(self.create_new_rs(d, rs_list, &old, new_revision).await?),
            None => None,
        };
        Ok((new_rs, old))
    }

    /// The existing-new-ReplicaSet half of `getNewReplicaSet`.
    async fn sync_existing_new_rs(
        &self,
        d: &mut Deployment,
        rs_list: &mut [ReplicaSet],
        existing: ReplicaSet,
        new_revision: i64,
    ) -> Result<ReplicaSet, SyncError> {
        let mut copy = existing;
        let annotations_changed = annotations::set_new_replica_set_annotations(
            d,
            &mut copy,
            new_revision,
            true,
            annotations::MAX_REVISION_HISTORY_CHARS,
            fenceposts::max_surge(d),
        );
        let min_ready = spec::min_ready_seconds(d);
        let rs_min_ready = copy
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        if annotations_changed || rs_min_ready != min_ready {
            if let Some(s) = copy.spec.as_mut() {
                s.min_ready_seconds = Some(min_ready);
            }
            let updated = self.control.update_replica_set(&copy).await?;
            replace_in(rs_list, &updated);
            return Ok(updated);
        }
        let revision = copy
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(annotations::REVISION))
            .cloned()
            .unwrap_or_default();
        let mut needs_update = annotations::set_deployment_revision(d, &revision);
        let has_progressing = d
            .status
            .as_ref()
            .is_some_and(|s| conditions::get(s, conditions::PROGRESSING).is_some());
        if spec::progress_deadline_seconds(d).is_some() && !has_progressing {
            let condition = conditions::new_condition(
                conditions::PROGRESSING,
                conditions::TRUE,
                conditions::FOUND_NEW_RS,
                format!("Found new replica set {:?}", replicas::name(&copy)),
                self.clock.now(),
            );
            conditions::set(d.status.get_or_insert_with(Default::default), condition);
            needs_update = true;
        }
        if needs_update {
            self.update_status(d).await?;
        }
        Ok(copy)
    }

    /// The creating half of `getNewReplicaSet`.
    async fn create_new_rs(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
        old: &[ReplicaSet],
        new_revision: i64,
    ) -> Result<ReplicaSet, SyncError> {
        let (namespace, d_name) = ns_name(&d.metadata);
        let (namespace, d_name) = (namespace.to_owned(), d_name.to_owned());
        let collision_count = d.status.as_ref().and_then(|s| s.collision_count);
        let mut template = spec::template(d).cloned().unwrap_or_default();
        let pod_hash = hash::compute_hash(&template, collision_count);
        let mut labels = template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        labels.insert(hash::POD_TEMPLATE_HASH_LABEL.to_owned(), pod_hash.clone());
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels = Some(labels.clone());
        let mut selector = spec::selector(d).cloned().unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(hash::POD_TEMPLATE_HASH_LABEL.to_owned(), pod_hash.clone());
        let name = hash::replica_set_name(&d_name, &pod_hash);
        let mut new_rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                owner_references: new_controller_ref(d).map(|r| vec![r]),
                labels: Some(labels),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: Some(spec::min_ready_seconds(d)),
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let count = new_rs_new_replicas(d, replicas::sum_spec(old), 0)
            .map_err(|e| SyncError::Permanent(e.to_string()))?;
        if let Some(s) = new_rs.spec.as_mut() {
            s.replicas = Some(count);
        }
        annotations::set_new_replica_set_annotations(
            d,
            &mut new_rs,
            new_revision,
            false,
            annotations::MAX_REVISION_HISTORY_CHARS,
            fenceposts::max_surge(d),
        );
        let (created, already_existed) = match self
            .control
            .create_replica_set(&namespace, &new_rs)
            .await
        {
            Ok(created) => (created, false),
            Err(e) if e.kind == FailureKind::AlreadyExists => {
                let Some(found) = self.replica_sets.get_namespaced(&namespace, &name) else {
                    return Err(SyncError::Api(e));
                };
                let ours = found.metadata.owner_references.iter().flatten().any(|r| {
                    r.controller == Some(true) && d.metadata.uid.as_deref() == Some(r.uid.as_str())
                });
                let same_template = match (
                    spec::template(d),
                    found.spec.as_ref().and_then(|s| s.template.as_ref()),
                ) {
                    (Some(a), Some(b)) => hash::equal_ignore_hash(a, b),
                    _ => false,
                };
                if !(ours && same_template) {
                    // A hash collision: the next sync computes another name.
                    let status = d.status.get_or_insert_with(Default::default);
                    let before = status.collision_count.unwrap_or(0);
                    status.collision_count = Some(before + 1);
                    match self.update_status(d).await {
                        Ok(()) => tracing::info!(
                            deployment = %format!("{namespace}/{d_name}"),
                            old_collision_count = before,
                            new_collision_count = before + 1,
                            "found a hash collision for deployment - bumping collisionCount to resolve it"
                        ),
                        Err(error) => tracing::debug!(%error, "collisionCount update failed"),
                    }
                    return Err(SyncError::Api(e));
                }
                ((*found).clone(), true)
            }
            Err(e) if e.kind == FailureKind::NamespaceTerminating => return Err(SyncError::Api(e)),
            Err(e) => {
                let message = format!("Failed to create new replica set {name:?}: {}", e.message);
                if spec::progress_deadline_seconds(d).is_some() {
                    let condition = conditions::new_condition(
                        conditions::PROGRESSING,
                        conditions::FALSE,
                        conditions::FAILED_RS_CREATE,
                        message.clone(),
                        self.clock.now(),
                    );
                    conditions::set(d.status.get_or_insert_with(Default::default), condition);
                    if let Err(error) = self.update_status(d).await {
                        tracing::debug!(%error, "status update after a failed creation failed");
                    }
                }
                self.control
                    .event(d, EventType::Warning, conditions::FAILED_RS_CREATE, message);
                return Err(SyncError::Api(e));
            }
        };
        if !already_existed && count > 0 {
            self.control.event(
                d,
                EventType::Normal,
                SCALING_REPLICA_SET,
                format!(
                    "Scaled up replica set {} from 0 to {count}",
                    replicas::name(&created)
                ),
            );
        }
        let mut needs_update = annotations::set_deployment_revision(d, &new_revision.to_string());
        if !already_existed && spec::progress_deadline_seconds(d).is_some() {
            let condition = conditions::new_condition(
                conditions::PROGRESSING,
                conditions::TRUE,
                conditions::NEW_REPLICA_SET,
                format!("Created new replica set {:?}", replicas::name(&created)),
                self.clock.now(),
            );
            conditions::set(d.status.get_or_insert_with(Default::default), condition);
            needs_update = true;
        }
        if !already_existed {
            rs_list.push(created.clone());
        }
        if needs_update {
            self.update_status(d).await?;
        }
        Ok(created)
    }
}

/// Replaces the entry of `rs_list` with `updated`'s UID.
fn replace_in(rs_list: &mut [ReplicaSet], updated: &ReplicaSet) {
    if let Some(slot) = rs_list
        .iter_mut()
        .find(|rs| rs.metadata.uid == updated.metadata.uid)
    {
        *slot = updated.clone();
    }
}

#[cfg(test)]
mod tests;
