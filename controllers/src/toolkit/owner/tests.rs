use super::*;
use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kcm_shared::cached_pod::CachedPod;
use kcm_shared::informer::Informer;
use kcm_shared::meta::ControllerRef;
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
    let reference = |kind: &'static str, name: &'static str, uid: &'static str| ControllerRef {
        api_version: "apps/v1",
        kind,
        name,
        uid,
    };
    assert!(
        resolve_controller_ref(&lister, "ns", reference("ReplicaSet", "web", "uid-1")).is_some()
    );
    assert!(
        resolve_controller_ref(&lister, "ns", reference("ReplicaSet", "web", "uid-2")).is_none()
    );
    assert!(
        resolve_controller_ref(&lister, "ns", reference("Deployment", "web", "uid-1")).is_none()
    );
    assert!(
        resolve_controller_ref(&lister, "other", reference("ReplicaSet", "web", "uid-1")).is_none()
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
        CachedPod::from_pod(&Pod {
            metadata: meta_of(
                "owned",
                "ns",
                "a",
                &[("app", "x")],
                Some(("ReplicaSet", "web", "u1")),
            ),
            ..Default::default()
        })
        .unwrap(),
        CachedPod::from_pod(&Pod {
            metadata: meta_of("orphan", "ns", "b", &[("app", "web")], None),
            ..Default::default()
        })
        .unwrap(),
        CachedPod::from_pod(&Pod {
            metadata: meta_of("unselected", "ns", "c", &[("app", "db")], None),
            ..Default::default()
        })
        .unwrap(),
        CachedPod::from_pod(&Pod {
            metadata: meta_of("elsewhere", "other", "d", &[("app", "web")], None),
            ..Default::default()
        })
        .unwrap(),
        CachedPod::from_pod(&Pod {
            metadata: meta_of(
                "theirs",
                "ns",
                "e",
                &[("app", "web")],
                Some(("ReplicaSet", "x", "u9")),
            ),
            ..Default::default()
        })
        .unwrap(),
    ]);
    let selector = ObjectSelector::from_map(Some(
        &[("app".to_string(), "web".to_string())]
            .into_iter()
            .collect(),
    ));
    let mut names: Vec<_> = owned_and_selected_orphans(&pods.lister(), "ns", "u1", &selector)
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["orphan".to_string(), "owned".to_string()]);
    assert_eq!(controlled_by(&pods.lister(), "u9").len(), 1);
}
