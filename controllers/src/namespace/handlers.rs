//! Namespace events → queued keys (upstream `enqueueNamespace`).
//!
//! Only namespaces being deleted are queued, and each five seconds after it is seen
//! (`namespaceDeletionGracePeriod`): HA apiservers need that long to notice the deletion and
//! stop admitting creations, and last-moment creations need it to land in etcd, so the first
//! pass finds them. Adds (including every terminating namespace already there at start-up),
//! updates and the periodic resync all enqueue; deletes do nothing, there is nothing left to do.

use std::{sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::Namespace;
use kcm_shared::{
    informer::{Delta, ObjectKey},
    workqueue::WorkQueue,
};

/// `namespaceDeletionGracePeriod`.
pub const DELETION_GRACE_PERIOD: Duration = Duration::from_secs(5);

/// Enqueues terminating namespaces into `queue`.
pub struct EventHandlers {
    queue: Arc<WorkQueue<ObjectKey>>,
}

impl EventHandlers {
    pub fn new(queue: Arc<WorkQueue<ObjectKey>>) -> Self {
        Self { queue }
    }

    pub fn on_namespace(&self, delta: &Delta<Namespace>) {
        let namespace = match delta {
            Delta::Added { obj, .. } => obj,
            Delta::Updated { new, .. } => new,
            Delta::Deleted { .. } => return,
        };
        if namespace.metadata.deletion_timestamp.is_none() {
            return;
        }
        self.queue.add_after(
            ObjectKey::from_object(namespace.as_ref()),
            DELETION_GRACE_PERIOD,
        );
    }
}

#[cfg(test)]
mod tests;
