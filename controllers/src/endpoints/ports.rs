//! Target-port resolution (upstream `endpointslice.FindPort` and
//! `endpointPortFromServicePort`).
//!
//! A numeric `targetPort` is used as it is, declared by a container or not. A named one is
//! looked up by name *and* protocol, first across the regular containers, then across the
//! sidecars (init containers with `restartPolicy: Always`); when no port matches, only that
//! Service port is left out for that pod.

use k8s_openapi::{
    api::core::v1::{EndpointPort, ServicePort},
    apimachinery::pkg::util::intstr::IntOrString,
};
use kcm_shared::cached_pod::CachedPod;

/// The protocol the apiserver defaults a Service port to.
pub const DEFAULT_PROTOCOL: &str = "TCP";

/// The Service port's protocol, `TCP` when unset (as the apiserver defaults it).
pub fn service_port_protocol(port: &ServicePort) -> &str {
    port.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL)
}

/// `FindPort`: the pod's port number for `port`, or `None` when a named target port is not
/// declared with the Service port's protocol by any container or sidecar.
pub fn find_port(pod: &CachedPod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        Some(IntOrString::Int(number)) => Some(*number),
        Some(IntOrString::String(name)) => {
            let protocol = service_port_protocol(port);
            // CachedPod keeps the regular containers' ports first, then the sidecars'.
            pod.ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name.as_str()) && &*p.protocol == protocol)
                .map(|p| p.container_port)
        }
        // The apiserver defaults targetPort to the port; only hand-built objects lack it.
        None => Some(port.port),
    }
}

/// `endpointPortFromServicePort`: the Service port's name, protocol and appProtocol with the
/// resolved number.
pub fn endpoint_port(port: &ServicePort, number: i32) -> EndpointPort {
    EndpointPort {
        name: port.name.clone().filter(|n| !n.is_empty()),
        port: number,
        protocol: port.protocol.clone(),
        app_protocol: port.app_protocol.clone(),
    }
}

#[cfg(test)]
mod tests;
