//! Ownership lookups through the informer caches (upstream `resolveControllerRef`,
//! `GetPodReplicaSets` / `GetReplicaSetsForDeployment`-style "owners selecting an orphan", and
//! `FilterPodsByOwner` / `FilterReplicaSetsByOwner` with orphans included).
//!
//! Everything goes through the [`INDEX_CONTROLLER_UID`] index (objects by the UID of their
//! controller, orphans under their namespace's orphan key) or the namespace index, so no
//! lookup scans the cluster.

use std::sync::Arc;

use kcm_shared::{
    informer::{INDEX_CONTROLLER_UID, Lister, orphan_index_key},
    meta::{ControllerRef, ObjectMetaRead},
};

use super::selector::{InvalidSelector, ObjectSelector};

/// `resolveControllerRef`: the owner a controller reference points to, if it is of kind `O`
/// and still the same object (names can be reused; UIDs cannot).
pub fn resolve_controller_ref<O: ObjectMetaRead>(
    owners: &Lister<O>,
    namespace: &str,
    reference: ControllerRef<'_>,
) -> Option<Arc<O>> {
    if reference.kind != O::kind(&()) {
        return None;
    }
    owners
        .get_namespaced(namespace, reference.name)
        .filter(|owner| owner.meta_uid() == Some(reference.uid))
}

/// Owners in `obj`'s namespace whose non-empty selector matches it: the controllers an orphan
/// should wake so one of them can adopt it. `selector` converts an owner's selector; owners
/// whose selector is invalid are skipped (their own sync reports it).
pub fn owners_selecting<O, T>(
    owners: &Lister<O>,
    obj: &T,
    selector: impl Fn(&O) -> Result<ObjectSelector, InvalidSelector>,
) -> Vec<Arc<O>>
where
    O: ObjectMetaRead,
    T: ObjectMetaRead,
{
    let namespace = obj.meta_namespace().unwrap_or_default();
    owners
        .list_namespace(namespace)
        .into_iter()
        .filter(|owner| selector(owner).is_ok_and(|s| s.matches_orphan(obj.meta_labels())))
        .collect()
}

/// Objects of `namespace` whose controller has `owner_uid` (whatever their labels, so stale ones
/// can be released) plus the orphans of that namespace that `selector` matches: the candidates
/// an owner claims from.
pub fn owned_and_selected_orphans<T: ObjectMetaRead>(
    objects: &Lister<T>,
    namespace: &str,
    owner_uid: &str,
    selector: &ObjectSelector,
) -> Vec<Arc<T>> {
    let mut candidates: Vec<Arc<T>> = objects
        .by_index(INDEX_CONTROLLER_UID, owner_uid)
        .into_iter()
        .filter(|obj| obj.meta_namespace() == Some(namespace))
        .collect();
    candidates.extend(
        objects
            .by_index(INDEX_CONTROLLER_UID, &orphan_index_key(namespace))
            .into_iter()
            .filter(|obj| selector.matches(obj.meta_labels())),
    );
    candidates
}

/// Objects (of any namespace) controlled by the owner with `owner_uid`.
pub fn controlled_by<T: ObjectMetaRead>(objects: &Lister<T>, owner_uid: &str) -> Vec<Arc<T>> {
    objects.by_index(INDEX_CONTROLLER_UID, owner_uid)
}

#[cfg(test)]
mod tests;
