//! Reading one's own writes before acting again (upstream `pkg/controller/util/consistency`,
//! KEP-5647, gate `StaleControllerConsistencyReplicaSet`, beta and on since v1.36).
//!
//! A controller that has just created a pod or written its owner's status can be woken by an
//! unrelated event before its informers have delivered those writes. Syncing then works from
//! a cache that does not show them: the status PUT carries an old resourceVersion and fails
//! with a conflict, and counts can be wrong. So each write's resourceVersion is recorded per
//! owner ([`ConsistencyStore::wrote_at`]), and a sync first checks that every cache has taken
//! in a version at least as new ([`ConsistencyStore::ensure_ready`]); if not, it is retried
//! with the queue's backoff without any API call. Once ready, the owner's record is dropped.

use std::collections::HashMap;

use kcm_shared::informer::{Lister, ObjectKey};
use parking_lot::Mutex;

/// An API resource whose cache a controller reads, as upstream's `schema.GroupResource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupResource {
    pub group: &'static str,
    pub resource: &'static str,
}

impl GroupResource {
    pub const PODS: Self = Self {
        group: "",
        resource: "pods",
    };
    pub const REPLICA_SETS: Self = Self {
        group: "apps",
        resource: "replicasets",
    };
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// How fresh one cache is: the newest resourceVersion it has taken in.
type ReadVersion = Box<dyn Fn() -> Option<u64> + Send + Sync>;

/// A sync that must wait: `resource`'s cache has read up to `read`, the owner wrote `wrote`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "read version: {read} is not as new as written version: {wrote} for group resource {resource}"
)]
pub struct StaleCache {
    pub resource: GroupResource,
    pub read: u64,
    pub wrote: u64,
}

/// What one owner (by namespace/name, for the UID it had) wrote last, per resource.
struct OwnerRecord {
    uid: String,
    wrote: HashMap<GroupResource, u64>,
}

/// Upstream `RealConsistencyStore`.
pub struct ConsistencyStore {
    caches: Vec<(GroupResource, ReadVersion)>,
    writes: Mutex<HashMap<ObjectKey, OwnerRecord>>,
}

impl ConsistencyStore {
    pub fn new() -> Self {
        Self {
            caches: Vec::new(),
            writes: Mutex::new(HashMap::new()),
        }
    }

    /// Checks writes to `resource` against the cache behind `lister`.
    #[must_use]
    pub fn reading<K>(mut self, resource: GroupResource, lister: Lister<K>) -> Self
    where
        K: kcm_shared::meta::ObjectMetaRead + Send + Sync + 'static,
    {
        self.caches.push((
            resource,
            Box::new(move || lister.last_sync_resource_version()),
        ));
        self
    }

    /// Checks writes to `resource` against any source of the newest version read.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn reading_from(
        mut self,
        resource: GroupResource,
        read: impl Fn() -> Option<u64> + Send + Sync + 'static,
    ) -> Self {
        self.caches.push((resource, Box::new(read)));
        self
    }

    /// Records that `owner` (with `owner_uid`) wrote `resource` at `resource_version`, keeping
    /// the newest. A record of an earlier owner of the same name (another UID) is replaced.
    /// Versions that are not etcd's decimal counters cannot be compared and are not recorded.
    pub fn wrote_at(
        &self,
        owner: &ObjectKey,
        owner_uid: &str,
        resource: GroupResource,
        resource_version: Option<&str>,
    ) {
        let Some(rv) = resource_version.and_then(|rv| rv.parse::<u64>().ok()) else {
            return;
        };
        let mut writes = self.writes.lock();
        let record = writes.entry(owner.clone()).or_insert_with(|| OwnerRecord {
            uid: owner_uid.to_owned(),
            wrote: HashMap::new(),
        });
        if record.uid != owner_uid {
            record.uid = owner_uid.to_owned();
            record.wrote.clear();
        }
        let newest = record.wrote.entry(resource).or_insert(rv);
        *newest = (*newest).max(rv);
    }

    /// Forgets `owner`'s record if it is for `owner_uid`, or whatever it is for when `None`.
    pub fn clear(&self, owner: &ObjectKey, owner_uid: Option<&str>) {
        let mut writes = self.writes.lock();
        if writes
            .get(owner)
            .is_some_and(|record| owner_uid.is_none_or(|uid| record.uid == uid))
        {
            writes.remove(owner);
        }
    }

    /// `Ok` when every cache has read at least what `owner` last wrote to it (and then the
    /// record is dropped); otherwise the first lagging cache, in registration order. A cache
    /// that has read nothing yet, or a resource without a cache, does not hold the sync up, as
    /// upstream.
    pub fn ensure_ready(&self, owner: &ObjectKey) -> Result<(), StaleCache> {
        let mut writes = self.writes.lock();
        let Some(record) = writes.get(owner) else {
            return Ok(());
        };
        // In the order the caches were registered, so the error names the same one each time.
        for (resource, read) in &self.caches {
            let Some(&wrote) = record.wrote.get(resource) else {
                continue;
            };
            let Some(read) = read() else { continue };
            if read < wrote {
                return Err(StaleCache {
                    resource: *resource,
                    read,
                    wrote,
                });
            }
        }
        writes.remove(owner);
        Ok(())
    }

    /// Owners with a pending record.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.writes.lock().len()
    }
}

impl Default for ConsistencyStore {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
