//! Which pods a Service's Endpoints list, and the address each one gets (upstream
//! `ShouldPodBeInEndpoints`, `podToEndpointAddressForService`, `ShouldSetHostname`).
//!
//! A pod is listed when it is not terminal, has an IP and, unless the Service publishes
//! not-ready addresses, is not being deleted. Its address is the first pod IP of the Service's
//! IP family, in canonical form; the target reference names the pod without an apiVersion or
//! resourceVersion, and `nodeName` is always present, even when empty, as upstream sends it.

use std::net::{IpAddr, Ipv4Addr};

use k8s_openapi::api::core::v1::{EndpointAddress, ObjectReference, Service};
use kcm_shared::cached_pod::CachedPod;

/// `clusterIP: None`: a headless Service.
pub const CLUSTER_IP_NONE: &str = "None";

/// The IP family an address is chosen from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    V4,
    V6,
}

/// `ShouldPodBeInEndpoints`: terminal pods and pods without an IP never are; a pod being
/// deleted only when `include_terminating` (the Service's `publishNotReadyAddresses`).
pub fn should_pod_be_in_endpoints(pod: &CachedPod, include_terminating: bool) -> bool {
    if pod.is_terminal() || pod.pod_ips.is_empty() {
        return false;
    }
    include_terminating || pod.deletion_timestamp.is_none()
}

/// `ShouldSetHostname`: the pod names a hostname and its subdomain is this Service.
pub fn should_set_hostname(pod: &CachedPod, service_name: &str, service_namespace: &str) -> bool {
    pod.hostname.as_deref().is_some_and(|h| !h.is_empty())
        && pod.subdomain.as_deref().unwrap_or("") == service_name
        && service_namespace == &*pod.namespace
}

/// `utilnet.ParseIPSloppy`: an IP address, also accepting IPv4 octets with leading zeros
/// (read as decimal, as Go's parser did before 1.17). IPv4-mapped IPv6 addresses are IPv4, as
/// Go's `net.IP` treats them.
pub fn parse_ip_sloppy(text: &str) -> Option<IpAddr> {
    let ip = match text.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => IpAddr::V4(parse_ipv4_leading_zeros(text)?),
    };
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

fn parse_ipv4_leading_zeros(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut fields = text.split('.');
    for octet in &mut octets {
        let field = fields.next()?;
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = u8::try_from(field.parse::<u32>().ok()?).ok()?;
    }
    fields.next().is_none().then_some(Ipv4Addr::from(octets))
}

fn family_of(text: &str) -> Option<IpFamily> {
    parse_ip_sloppy(text).map(|ip| match ip {
        IpAddr::V4(_) => IpFamily::V4,
        IpAddr::V6(_) => IpFamily::V6,
    })
}

/// The family addresses are chosen from: `spec.ipFamilies[0]`; without families (an old
/// object) the ClusterIP's family, or for a headless Service the pod's first IP's; IPv4 when
/// nothing says otherwise.
pub fn service_ip_family(service: &Service, pod: &CachedPod) -> IpFamily {
    let spec = service.spec.as_ref();
    if let Some(first) = spec
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first())
    {
        return if first == "IPv6" {
            IpFamily::V6
        } else {
            IpFamily::V4
        };
    }
    let cluster_ip = spec.and_then(|s| s.cluster_ip.as_deref()).unwrap_or("");
    let decisive = if !cluster_ip.is_empty() && cluster_ip != CLUSTER_IP_NONE {
        cluster_ip
    } else {
        pod.pod_ips.first().map_or("", |ip| &**ip)
    };
    family_of(decisive).unwrap_or(IpFamily::V4)
}

/// `podToEndpointAddressForService`: the pod's address for this Service, or `None` when the
/// pod has no IP of the Service's family (upstream logs that at V(2) and skips the pod).
pub fn pod_address(service: &Service, pod: &CachedPod) -> Option<EndpointAddress> {
    let family = service_ip_family(service, pod);
    let ip = pod
        .pod_ips
        .iter()
        .filter_map(|ip| parse_ip_sloppy(ip))
        .find(|ip| match family {
            IpFamily::V6 => ip.is_ipv6(),
            IpFamily::V4 => ip.is_ipv4(),
        })?;
    Some(EndpointAddress {
        ip: ip.to_string(),
        node_name: Some(pod.node_name().to_owned()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".to_owned()),
            namespace: Some(pod.namespace.to_string()),
            name: Some(pod.name.to_string()),
            uid: Some(pod.uid.to_string()).filter(|uid| !uid.is_empty()),
            ..ObjectReference::default()
        }),
        hostname: None,
    })
}

#[cfg(test)]
mod tests;
