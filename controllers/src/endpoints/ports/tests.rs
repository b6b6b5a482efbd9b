use super::*;
use crate::endpoints::testing::{pod, service_port, with_port};

#[test]
fn a_numeric_target_port_is_used_even_if_undeclared() {
    let p = pod("p1", "10.1.0.5", true);
    let port = service_port("http", 80, IntOrString::Int(1234), "TCP");
    assert_eq!(find_port(&p, &port), Some(1234));
}

#[test]
fn a_named_target_port_matches_name_and_protocol() {
    let port = service_port("http", 80, IntOrString::String("web".into()), "TCP");
    let p = with_port(pod("p1", "10.1.0.5", true), "web", 9000, "TCP", false);
    assert_eq!(find_port(&p, &port), Some(9000));

    let udp = with_port(pod("p2", "10.1.0.6", true), "web", 9000, "UDP", false);
    assert_eq!(find_port(&udp, &port), None, "protocol mismatch");

    let other = with_port(pod("p3", "10.1.0.7", true), "metrics", 9100, "TCP", false);
    assert_eq!(find_port(&other, &port), None);
}

#[test]
fn sidecars_are_searched_after_the_containers() {
    let port = service_port("http", 80, IntOrString::String("web".into()), "TCP");
    let sidecar = with_port(pod("p1", "10.1.0.5", true), "web", 9500, "TCP", true);
    assert_eq!(find_port(&sidecar, &port), Some(9500));
    let both = with_port(sidecar, "web", 9000, "TCP", false);
    // CachedPod lists the containers' ports before the sidecars'; the builder appends, so
    // rebuild in that order to check the container wins.
    let mut ordered = both.clone();
    ordered.ports = both.ports.iter().rev().cloned().collect();
    assert_eq!(find_port(&ordered, &port), Some(9000));
}

#[test]
fn the_endpoint_port_carries_the_service_port_fields() {
    let mut port = service_port("http", 80, IntOrString::Int(8080), "TCP");
    port.app_protocol = Some("h2c".into());
    assert_eq!(
        endpoint_port(&port, 8080),
        EndpointPort {
            name: Some("http".into()),
            port: 8080,
            protocol: Some("TCP".into()),
            app_protocol: Some("h2c".into()),
        }
    );
    port.name = Some(String::new());
    assert_eq!(
        endpoint_port(&port, 8080).name,
        None,
        "empty names are omitted"
    );
}
