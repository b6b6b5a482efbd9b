//! Rollback through the `deprecated.deployment.rollback.to` annotation (upstream rollback.go;
//! what extensions/v1beta1 `rollbackTo` and old `kubectl rollout undo` wrote). Revision 0 means
//! the previous one. The Deployment takes the ReplicaSet's template (without its hash label)
//! and annotations, and the annotation is removed with a plain update either way; the
//! ReplicaSet becomes the new one on the next sync.

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::PodTemplateSpec,
};
use kcm_shared::events::EventType;

use super::{
    annotations,
    control::DeploymentControl,
    hash::{POD_TEMPLATE_HASH_LABEL, equal_ignore_hash},
    spec,
    sync::{SyncOutcome, Syncer},
};
use crate::runtime::SyncError;

pub const ROLLBACK_DONE: &str = "DeploymentRollback";
pub const ROLLBACK_REVISION_NOT_FOUND: &str = "DeploymentRollbackRevisionNotFound";
pub const ROLLBACK_TEMPLATE_UNCHANGED: &str = "DeploymentRollbackTemplateUnchanged";

/// What a rollback request comes to.
#[derive(Debug, PartialEq)]
pub enum RollbackPlan<'a> {
    /// No such revision; `message` is the warning.
    NotFound(&'static str),
    /// The revision's template is the current one.
    Unchanged,
    /// Take this ReplicaSet's template and annotations; `revision` is the one rolled back to.
    To { rs: &'a ReplicaSet, revision: i64 },
}

/// Decides a rollback to `requested` among `all` ReplicaSets of `d`.
pub fn plan<'a>(d: &Deployment, all: &[&'a ReplicaSet], requested: i64) -> RollbackPlan<'a> {
    let mut revision = requested;
    if revision == 0 {
        revision = annotations::last_revision(all.iter().copied());
        if revision == 0 {
            return RollbackPlan::NotFound("Unable to find last revision.");
        }
    }
    let Some(rs) = all
        .iter()
        .copied()
        .find(|rs| annotations::revision(rs) == Some(revision))
    else {
        return RollbackPlan::NotFound("Unable to find the revision to rollback to.");
    };
    let rs_template = rs.spec.as_ref().and_then(|s| s.template.as_ref());
    match (spec::template(d), rs_template) {
        (Some(current), Some(target)) if equal_ignore_hash(current, target) => {
            RollbackPlan::Unchanged
        }
        _ => RollbackPlan::To { rs, revision },
    }
}

/// `SetFromReplicaSetTemplate`: the ReplicaSet's template without the hash label.
pub fn template_without_hash(rs: &ReplicaSet) -> PodTemplateSpec {
    let mut template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    template
}

impl<C: DeploymentControl> Syncer<C> {
    /// `rollback`.
    pub(super) async fn rollback(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
    ) -> Result<SyncOutcome, SyncError> {
        let (new_rs, old) = self.get_all_and_sync_revision(d, rs_list, true).await?;
        let requested = annotations::rollback_to(d).unwrap_or(0);
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.as_ref()).collect();
        let name = d.metadata.name.clone().unwrap_or_default();
        match plan(d, &all, requested) {
            RollbackPlan::NotFound(message) => {
                self.control.event(
                    d,
                    EventType::Warning,
                    ROLLBACK_REVISION_NOT_FOUND,
                    message.into(),
                );
                self.update_and_clear_rollback_to(d).await?;
            }
            RollbackPlan::Unchanged => {
                self.control.event(
                    d,
                    EventType::Warning,
                    ROLLBACK_TEMPLATE_UNCHANGED,
                    format!(
                        "The rollback revision contains the same template as current deployment {name:?}"
                    ),
                );
                self.update_and_clear_rollback_to(d).await?;
            }
            RollbackPlan::To { rs, revision } => {
                let template = template_without_hash(rs);
                if let Some(s) = d.spec.as_mut() {
                    s.template = template;
                }
                annotations::set_deployment_annotations_to(d, rs);
                self.update_and_clear_rollback_to(d).await?;
                self.control.event(
                    d,
                    EventType::Normal,
                    ROLLBACK_DONE,
                    format!("Rolled back deployment {name:?} to revision {revision}"),
                );
            }
        }
        Ok(SyncOutcome::Done)
    }

    /// `updateDeploymentAndClearRollbackTo`.
    async fn update_and_clear_rollback_to(&self, d: &mut Deployment) -> Result<(), SyncError> {
        annotations::clear_rollback_to(d);
        let written = self.control.update_deployment(d).await?;
        d.metadata.resource_version = written.metadata.resource_version;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
