use super::*;
use crate::endpoints::testing::{labels, service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

#[test]
fn labels_are_correct_only_with_managed_by_and_exactly_the_service_labels() {
    let svc = labels(&[("team", "x")]);
    let good = labels(&[("team", "x"), (LABEL_MANAGED_BY, CONTROLLER_NAME)]);
    assert!(labels_correct(Some(&good), Some(&svc)));
    let headless = labels(&[
        ("team", "x"),
        (LABEL_MANAGED_BY, CONTROLLER_NAME),
        (LABEL_HEADLESS, ""),
    ]);
    assert!(labels_correct(Some(&headless), Some(&svc)));
    assert!(
        !labels_correct(Some(&labels(&[("team", "x")])), Some(&svc)),
        "no managed-by"
    );
    let wrong_manager = labels(&[("team", "x"), (LABEL_MANAGED_BY, "someone")]);
    assert!(!labels_correct(Some(&wrong_manager), Some(&svc)));
    let extra = labels(&[
        ("team", "x"),
        ("more", "y"),
        (LABEL_MANAGED_BY, CONTROLLER_NAME),
    ]);
    assert!(!labels_correct(Some(&extra), Some(&svc)));
    let missing = labels(&[(LABEL_MANAGED_BY, CONTROLLER_NAME)]);
    assert!(!labels_correct(Some(&missing), Some(&svc)));
    assert!(labels_correct(Some(&missing), None));
}

#[test]
fn written_labels_follow_the_service_and_its_cluster_ip() {
    let mut svc = service(IntOrString::Int(8080));
    svc.metadata.labels = Some(labels(&[("team", "x"), (LABEL_HEADLESS, "")]));
    assert_eq!(
        endpoints_labels(&svc),
        labels(&[("team", "x"), (LABEL_MANAGED_BY, CONTROLLER_NAME)]),
        "a Service with a cluster IP loses the headless label"
    );
    svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
    assert!(!is_service_ip_set(&svc));
    assert_eq!(
        endpoints_labels(&svc),
        labels(&[
            ("team", "x"),
            (LABEL_HEADLESS, ""),
            (LABEL_MANAGED_BY, CONTROLLER_NAME)
        ])
    );
    svc.spec.as_mut().unwrap().cluster_ip = None;
    assert!(
        !is_service_ip_set(&svc),
        "an empty cluster IP counts as unset"
    );
}
