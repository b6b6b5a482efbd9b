use super::*;
use crate::endpoints::{
    labels::{CONTROLLER_NAME, LABEL_HEADLESS, LABEL_MANAGED_BY},
    testing::{address, at, labels, pod, port, service, subset, with_port},
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn pods(list: Vec<CachedPod>) -> Vec<Arc<CachedPod>> {
    list.into_iter().map(Arc::new).collect()
}

fn stored(object: Endpoints, rv: &str) -> Endpoints {
    let mut object = object;
    object.metadata.namespace = Some("t".into());
    object.metadata.resource_version = Some(rv.into());
    object
}

fn created(write: Option<Write>) -> Endpoints {
    match write {
        Some(Write::Create(object)) => object,
        other => panic!("expected a create, got {other:?}"),
    }
}

#[test]
fn basic_create_lists_ready_and_not_ready_pods() {
    let mut svc = service(IntOrString::Int(8080));
    svc.metadata.labels = Some(labels(&[("team", "x")]));
    let subsets = desired_subsets(
        &svc,
        &pods(vec![
            pod("p1", "10.1.0.5", true),
            pod("p2", "10.1.0.6", false),
        ]),
    );
    let object = created(plan_write(&svc, None, subsets, Some(at(-100))));
    assert_eq!(object.metadata.name.as_deref(), Some("s"));
    assert_eq!(object.metadata.namespace, None, "as upstream's template");
    assert_eq!(
        object.metadata.labels,
        Some(labels(&[
            ("team", "x"),
            (LABEL_MANAGED_BY, CONTROLLER_NAME)
        ]))
    );
    assert_eq!(
        object.metadata.annotations,
        Some(labels(&[(
            "endpoints.kubernetes.io/last-change-trigger-time",
            "2023-11-14T22:11:40Z"
        )]))
    );
    assert_eq!(
        object.subsets,
        Some(vec![subset(
            vec![address("p1", "10.1.0.5")],
            vec![address("p2", "10.1.0.6")],
            vec![port("http", 8080)]
        )])
    );
}

#[test]
fn no_pods_means_no_subsets_and_publish_not_ready_lists_everyone_as_ready() {
    let mut svc = service(IntOrString::Int(8080));
    assert!(desired_subsets(&svc, &[]).is_empty());
    let object = created(plan_write(&svc, None, Vec::new(), None));
    assert_eq!(object.subsets, None);
    assert_eq!(object.metadata.annotations, None);

    svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    let mut deleting = pod("p2", "10.1.0.6", false);
    deleting.deletion_timestamp = Some(at(1));
    let got = desired_subsets(&svc, &pods(vec![pod("p1", "10.1.0.5", false), deleting]));
    assert_eq!(
        got,
        [subset(
            vec![address("p1", "10.1.0.5"), address("p2", "10.1.0.6")],
            vec![],
            vec![port("http", 8080)]
        )]
    );
}

#[test]
fn headless_services_without_ports_list_bare_addresses() {
    let mut svc = service(IntOrString::Int(8080));
    let spec = svc.spec.as_mut().unwrap();
    spec.cluster_ip = Some("None".into());
    spec.ports = None;
    let got = desired_subsets(&svc, &pods(vec![pod("p1", "10.1.0.5", true)]));
    assert_eq!(
        got,
        [subset(vec![address("p1", "10.1.0.5")], vec![], vec![])]
    );
    let object = created(plan_write(&svc, None, got, None));
    assert_eq!(object.metadata.labels.unwrap()[LABEL_HEADLESS], "");

    // Not headless and no ports: nothing.
    svc.spec.as_mut().unwrap().cluster_ip = Some("10.96.0.1".into());
    assert!(desired_subsets(&svc, &pods(vec![pod("p1", "10.1.0.5", true)])).is_empty());
}

#[test]
fn named_ports_split_pods_into_subsets_and_skip_pods_without_them() {
    let svc = service(IntOrString::String("web".into()));
    let got = desired_subsets(
        &svc,
        &pods(vec![
            with_port(pod("p1", "10.1.0.5", true), "web", 9000, "TCP", false),
            with_port(pod("p2", "10.1.0.6", true), "web", 9001, "TCP", false),
            pod("p3", "10.1.0.7", true),
            with_port(pod("p4", "10.1.0.8", true), "web", 9002, "UDP", false),
            with_port(pod("p5", "10.1.0.9", true), "web", 9000, "TCP", true),
        ]),
    );
    assert_eq!(
        got,
        [
            subset(
                vec![address("p1", "10.1.0.5"), address("p5", "10.1.0.9")],
                vec![],
                vec![port("http", 9000)]
            ),
            subset(
                vec![address("p2", "10.1.0.6")],
                vec![],
                vec![port("http", 9001)]
            ),
        ]
    );
}

#[test]
fn hostnames_are_set_for_the_subdomain_service() {
    let svc = service(IntOrString::Int(8080));
    let mut p = pod("p1", "10.1.0.5", true);
    p.hostname = Some("web-0".into());
    p.subdomain = Some("s".into());
    let got = desired_subsets(&svc, &pods(vec![p]));
    assert_eq!(
        got[0].addresses.as_ref().unwrap()[0].hostname.as_deref(),
        Some("web-0")
    );
}

#[test]
fn an_up_to_date_object_is_not_written_whatever_its_annotations() {
    let svc = service(IntOrString::Int(8080));
    let subsets = desired_subsets(&svc, &pods(vec![pod("p1", "10.1.0.5", true)]));
    let mut current = stored(
        created(plan_write(&svc, None, subsets.clone(), Some(at(1)))),
        "7",
    );
    current
        .metadata
        .annotations
        .get_or_insert_default()
        .insert("user".into(), "note".into());
    // A resourceVersion in the target reference is ignored.
    current.subsets.as_mut().unwrap()[0]
        .addresses
        .as_mut()
        .unwrap()[0]
        .target_ref
        .as_mut()
        .unwrap()
        .resource_version = Some("3".into());
    assert_eq!(
        plan_write(&svc, Some(&current), subsets.clone(), Some(at(2))),
        None
    );

    // Wrong labels: written, keeping the user's annotation, dropping stray labels.
    current
        .metadata
        .labels
        .get_or_insert_default()
        .insert("stray".into(), "x".into());
    let Some(Write::Update(updated)) = plan_write(&svc, Some(&current), subsets, None) else {
        panic!("expected an update");
    };
    assert_eq!(updated.metadata.resource_version.as_deref(), Some("7"));
    assert_eq!(
        updated.metadata.labels,
        Some(labels(&[(LABEL_MANAGED_BY, CONTROLLER_NAME)]))
    );
    assert_eq!(
        updated.metadata.annotations,
        Some(labels(&[("user", "note")])),
        "no trigger time: removed"
    );
}

#[test]
fn stored_subsets_in_another_order_are_repacked_before_comparing() {
    let svc = service(IntOrString::String("web".into()));
    let subsets = desired_subsets(
        &svc,
        &pods(vec![
            with_port(pod("p1", "10.1.0.5", true), "web", 9000, "TCP", false),
            with_port(pod("p2", "10.1.0.6", true), "web", 9001, "TCP", false),
        ]),
    );
    let mut current = stored(created(plan_write(&svc, None, subsets.clone(), None)), "7");
    current.subsets.as_mut().unwrap().reverse();
    assert_eq!(plan_write(&svc, Some(&current), subsets, None), None);
}

#[test]
fn over_capacity_objects_are_truncated_annotated_and_always_rewritten() {
    let svc = service(IntOrString::Int(8080));
    let many: Vec<CachedPod> = (0..1001)
        .map(|i| {
            pod(
                &format!("p{i}"),
                &format!("10.1.{}.{}", i / 250, i % 250 + 1),
                true,
            )
        })
        .collect();
    let subsets = desired_subsets(&svc, &pods(many));
    let object = created(plan_write(&svc, None, subsets.clone(), None));
    assert_eq!(
        object.subsets.as_ref().unwrap()[0]
            .addresses
            .as_ref()
            .unwrap()
            .len(),
        1000
    );
    assert_eq!(
        object.metadata.annotations.as_ref().unwrap()["endpoints.kubernetes.io/over-capacity"],
        "truncated"
    );
    let current = stored(object, "9");
    assert!(matches!(
        plan_write(&svc, Some(&current), subsets, None),
        Some(Write::Update(_))
    ));
    // Back under capacity: the annotation goes.
    let few = desired_subsets(&svc, &pods(vec![pod("p1", "10.1.0.5", true)]));
    let Some(Write::Update(back)) = plan_write(&svc, Some(&current), few, None) else {
        panic!("expected an update");
    };
    assert_eq!(back.metadata.annotations, None);
}

#[test]
fn selectors_and_types() {
    let mut svc = service(IntOrString::Int(8080));
    assert!(selector(&svc).is_some());
    assert!(!is_external_name(&svc));
    svc.spec.as_mut().unwrap().selector = Some(BTreeMap::new());
    assert_eq!(selector(&svc), None, "empty is absent on the wire");
    svc.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
    assert!(is_external_name(&svc));
}
