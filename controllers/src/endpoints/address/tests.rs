use super::*;
use crate::endpoints::testing::{address, pod, service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

#[test]
fn terminal_ipless_and_deleted_pods_are_left_out() {
    let running = pod("p1", "10.1.0.5", true);
    assert!(should_pod_be_in_endpoints(&running, false));

    let mut done = running.clone();
    done.phase = Some("Succeeded".into());
    assert!(!should_pod_be_in_endpoints(&done, true));
    done.phase = Some("Failed".into());
    assert!(!should_pod_be_in_endpoints(&done, true));

    assert!(!should_pod_be_in_endpoints(&pod("p2", "", true), true));

    let mut deleting = running.clone();
    deleting.deletion_timestamp = Some(jiff::Timestamp::UNIX_EPOCH);
    assert!(!should_pod_be_in_endpoints(&deleting, false));
    assert!(
        should_pod_be_in_endpoints(&deleting, true),
        "publishNotReadyAddresses keeps it"
    );

    // Readiness and a Pending phase do not matter here.
    let mut pending = pod("p3", "10.1.0.6", false);
    pending.phase = Some("Pending".into());
    assert!(should_pod_be_in_endpoints(&pending, false));
}

#[test]
fn hostname_needs_the_service_as_subdomain_in_the_same_namespace() {
    let mut p = pod("p1", "10.1.0.5", true);
    p.hostname = Some("web-0".into());
    assert!(!should_set_hostname(&p, "s", "t"), "no subdomain");
    p.subdomain = Some("s".into());
    assert!(should_set_hostname(&p, "s", "t"));
    assert!(!should_set_hostname(&p, "other", "t"));
    assert!(!should_set_hostname(&p, "s", "elsewhere"));
    p.hostname = Some("".into());
    assert!(!should_set_hostname(&p, "s", "t"));
}

#[test]
fn the_address_names_the_pod_and_its_node() {
    let svc = service(IntOrString::Int(8080));
    let got = pod_address(&svc, &pod("p1", "10.1.0.5", true)).unwrap();
    assert_eq!(got, address("p1", "10.1.0.5"));

    // nodeName is sent even when empty, as upstream's pointer to the spec field.
    let mut unscheduled = pod("p2", "10.1.0.6", true);
    unscheduled.node_name = None;
    assert_eq!(
        pod_address(&svc, &unscheduled)
            .unwrap()
            .node_name
            .as_deref(),
        Some("")
    );
}

#[test]
fn the_first_ip_of_the_service_family_is_chosen() {
    let mut svc = service(IntOrString::Int(8080));
    let mut dual = pod("p1", "10.1.0.5", true);
    dual.pod_ips = vec![
        Box::from("10.1.0.5"),
        Box::from("fd00::5"),
        Box::from("fd00::6"),
    ]
    .into();
    assert_eq!(pod_address(&svc, &dual).unwrap().ip, "10.1.0.5");
    svc.spec.as_mut().unwrap().ip_families = Some(vec!["IPv6".into(), "IPv4".into()]);
    assert_eq!(pod_address(&svc, &dual).unwrap().ip, "fd00::5");

    let v4_only = pod("p2", "10.1.0.7", true);
    assert_eq!(
        pod_address(&svc, &v4_only),
        None,
        "no IPv6 address: skipped"
    );
}

#[test]
fn without_families_the_cluster_ip_or_the_pod_ip_decides() {
    let mut svc = service(IntOrString::Int(8080));
    let spec = svc.spec.as_mut().unwrap();
    spec.ip_families = None;
    spec.cluster_ip = Some("fd00:96::10".into());
    let p = pod("p1", "fd00::5", true);
    assert_eq!(service_ip_family(&svc, &p), IpFamily::V6);
    svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
    assert_eq!(
        service_ip_family(&svc, &p),
        IpFamily::V6,
        "headless: the pod's IP"
    );
    assert_eq!(
        service_ip_family(&svc, &pod("p2", "10.0.0.1", true)),
        IpFamily::V4
    );
}

#[test]
fn ips_are_parsed_loosely_and_written_canonically() {
    assert_eq!(
        parse_ip_sloppy("01.2.3.004"),
        Some("1.2.3.4".parse().unwrap())
    );
    assert_eq!(
        parse_ip_sloppy("::ffff:1.2.3.4"),
        Some("1.2.3.4".parse().unwrap())
    );
    assert_eq!(parse_ip_sloppy("256.1.1.1"), None);
    assert_eq!(parse_ip_sloppy("1.2.3"), None);
    assert_eq!(parse_ip_sloppy("junk"), None);
    let mut svc = service(IntOrString::Int(8080));
    svc.spec.as_mut().unwrap().ip_families = Some(vec!["IPv6".into()]);
    let p = pod("p1", "FD00:0:0::05", true);
    assert_eq!(pod_address(&svc, &p).unwrap().ip, "fd00::5");
}
