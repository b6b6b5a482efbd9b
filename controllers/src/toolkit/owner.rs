//! Ownership lookups through the informer caches (upstream `resolveControllerRef`,
//! `GetPodReplicaSets` / `GetReplicaSetsForDeployment`-style "owners selecting an orphan", and
//! `FilterPodsByOwner` / `FilterReplicaSetsByOwner` with orphans included).
//!
//! Everything goes through the [`INDEX_CONTROLLER_UID`] index (objects by the UID of their
//! controller, orphans under their namespace's orphan key) or the namespace index, so no
//! lookup scans the cluster.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kcm_shared::informer::{INDEX_CONTROLLER_UID, Lister, orphan_index_key};
use kube::Resource;

use super::selector::{InvalidSelector, ObjectSelector};

/// `resolveControllerRef`: the owner a controller reference points to, if it is of kind `O`
/// and still the same object (names can be reused; UIDs cannot).
pub fn resolve_controller_ref<O: Resource<DynamicType = ()>>(
    owners: &Lister<O>,
    namespace: &str,
    reference: &OwnerReference,
) -> Option<Arc<O>> {
    if reference.kind != O::kind(&()) {
        return None;
    }
    owners
        .get_namespaced(namespace, &reference.name)
        .filter(|owner| owner.meta().uid.as_deref() == Some(reference.uid.as_str()))
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
    O: Resource<DynamicType = ()>,
    T: Resource,
{
    let meta = obj.meta();
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    owners
        .list_namespace(namespace)
        .into_iter()
        .filter(|owner| selector(owner).is_ok_and(|s| s.matches_orphan(meta.labels.as_ref())))
        .collect()
}

/// Objects of `namespace` whose controller has `owner_uid` (whatever their labels, so stale ones
/// can be released) plus the orphans of that namespace that `selector` matches: the candidates
/// an owner claims from.
pub fn owned_and_selected_orphans<T: Resource<DynamicType = ()>>(
    objects: &Lister<T>,
    namespace: &str,
    owner_uid: &str,
    selector: &ObjectSelector,
) -> Vec<Arc<T>> {
    let mut candidates: Vec<Arc<T>> = objects
        .by_index(INDEX_CONTROLLER_UID, owner_uid)
        .into_iter()
        .filter(|obj| obj.meta().namespace.as_deref() == Some(namespace))
        .collect();
    candidates.extend(
        objects
            .by_index(INDEX_CONTROLLER_UID, &orphan_index_key(namespace))
            .into_iter()
            .filter(|obj| selector.matches(obj.meta().labels.as_ref())),
    );
    candidates
}

/// Objects (of any namespace) controlled by the owner with `owner_uid`.
pub fn controlled_by<T: Resource<DynamicType = ()>>(
    objects: &Lister<T>,
    owner_uid: &str,
) -> Vec<Arc<T>> {
    objects.by_index(INDEX_CONTROLLER_UID, owner_uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::Pod};
    use kcm_shared::informer::Informer;
    use kube::runtime::watcher::Event;
    use std::{collections::BTreeMap, time::Duration};

    fn meta_of(
        name: &str,
        namespace: &str,
        uid: &str,
        labels: &[(&str, &str)],
        controller: Option<(&str, &str, &str)>,
    ) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            uid: Some(uid.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            owner_references: controller.map(|(kind, name, uid)| {
                vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: kind.into(),
                    name: name.into(),
                    uid: uid.into(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]
            }),
            ..Default::default()
        }
    }

    fn rs(name: &str, uid: &str, selector: &[(&str, &str)]) -> ReplicaSet {
        let mut rs = ReplicaSet {
            metadata: meta_of(name, "ns", uid, &[], None),
            ..Default::default()
        };
        rs.spec = Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
            selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_labels: Some(
                    selector
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                match_expressions: None,
            },
            ..Default::default()
        });
        rs
    }

    fn rs_selector(rs: &ReplicaSet) -> Result<ObjectSelector, InvalidSelector> {
        ObjectSelector::from_label_selector(rs.spec.as_ref().map(|s| &s.selector))
    }

    fn informer<K: kcm_shared::informer::InformerType>(objects: Vec<K>) -> Informer<K> {
        let informer = Informer::detached(Duration::ZERO);
        informer.process_event(Event::Init);
        for obj in objects {
            informer.process_event(Event::InitApply(obj));
        }
        informer.process_event(Event::InitDone);
        informer
    }

    #[tokio::test]
    async fn references_resolve_only_to_the_same_kind_name_and_uid() {
        let owners = informer(vec![rs("web", "uid-1", &[("app", "web")])]);
        let lister = owners.lister();
        let reference = |kind: &str, name: &str, uid: &str| OwnerReference {
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            ..Default::default()
        };
        assert!(
            resolve_controller_ref(&lister, "ns", &reference("ReplicaSet", "web", "uid-1"))
                .is_some()
        );
        assert!(
            resolve_controller_ref(&lister, "ns", &reference("ReplicaSet", "web", "uid-2"))
                .is_none()
        );
        assert!(
            resolve_controller_ref(&lister, "ns", &reference("Deployment", "web", "uid-1"))
                .is_none()
        );
        assert!(
            resolve_controller_ref(&lister, "other", &reference("ReplicaSet", "web", "uid-1"))
                .is_none()
        );
    }

    #[tokio::test]
    async fn orphans_wake_owners_with_matching_non_empty_selectors() {
        let owners = informer(vec![
            rs("web", "u1", &[("app", "web")]),
            rs("all", "u2", &[]),
            rs("db", "u3", &[("app", "db")]),
        ]);
        let orphan = Pod {
            metadata: meta_of("p", "ns", "p1", &[("app", "web")], None),
            ..Default::default()
        };
        let found = owners_selecting(&owners.lister(), &orphan, rs_selector);
        let names: Vec<_> = found
            .iter()
            .map(|o| o.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, vec!["web".to_string()]);
    }

    #[tokio::test]
    async fn candidates_are_owned_objects_plus_selected_orphans_of_the_namespace() {
        let pods = informer(vec![
            Pod {
                metadata: meta_of(
                    "owned",
                    "ns",
                    "a",
                    &[("app", "x")],
                    Some(("ReplicaSet", "web", "u1")),
                ),
                ..Default::default()
            },
            Pod {
                metadata: meta_of("orphan", "ns", "b", &[("app", "web")], None),
                ..Default::default()
            },
            Pod {
                metadata: meta_of("unselected", "ns", "c", &[("app", "db")], None),
                ..Default::default()
            },
            Pod {
                metadata: meta_of("elsewhere", "other", "d", &[("app", "web")], None),
                ..Default::default()
            },
            Pod {
                metadata: meta_of(
                    "theirs",
                    "ns",
                    "e",
                    &[("app", "web")],
                    Some(("ReplicaSet", "x", "u9")),
                ),
                ..Default::default()
            },
        ]);
        let selector = ObjectSelector::Matching([("app", "web")].into_iter().collect());
        let mut names: Vec<_> = owned_and_selected_orphans(&pods.lister(), "ns", "u1", &selector)
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, vec!["orphan".to_string(), "owned".to_string()]);
        assert_eq!(controlled_by(&pods.lister(), "u9").len(), 1);
    }
}
