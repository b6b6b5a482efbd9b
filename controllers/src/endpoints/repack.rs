//! The canonical shape of an Endpoints object's subsets (upstream `RepackSubsets`,
//! `SortSubsets`, `LessEndpointAddress` in `pkg/api/v1/endpoints/util.go`).
//!
//! Every (port, address) pair is flattened, addresses deduplicated on (IP, targetRef UID) with
//! the first one seen kept, and "not ready always trumps ready" for the same port. Ports that
//! offer the identical address set (readiness included) form one subset. A subset without
//! ports (a headless Service without ports) uses a sentinel port that never reaches the output.
//!
//! Addresses are sorted by IP string byte-wise, then target UID, as upstream. Upstream orders
//! ports and subsets by the md5 of Go's spew dump, which cannot reasonably be reproduced; here
//! ports are ordered by (port, name, protocol, appProtocol) and subsets by their ports, then
//! their first addresses. Only the order differs, and the no-op check repacks the stored
//! subsets too, so objects written by upstream are not rewritten for their order.

use std::{cmp::Ordering, collections::HashMap};

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset};

/// An [`EndpointPort`] as a map key (the Go struct is comparable; k8s-openapi's is not `Hash`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct PortKey {
    port: i32,
    name: Option<String>,
    protocol: Option<String>,
    app_protocol: Option<String>,
}

impl PortKey {
    /// The sentinel for subsets without ports; real ports are positive.
    const SENTINEL: PortKey = PortKey {
        port: -1,
        name: None,
        protocol: None,
        app_protocol: None,
    };

    fn of(port: &EndpointPort) -> Self {
        Self {
            port: port.port,
            name: port.name.clone(),
            protocol: port.protocol.clone(),
            app_protocol: port.app_protocol.clone(),
        }
    }

    fn to_port(&self) -> EndpointPort {
        EndpointPort {
            name: self.name.clone(),
            port: self.port,
            protocol: self.protocol.clone(),
            app_protocol: self.app_protocol.clone(),
        }
    }
}

fn uid(address: &EndpointAddress) -> Option<&str> {
    address
        .target_ref
        .as_ref()
        .map(|r| r.uid.as_deref().unwrap_or(""))
}

/// `LessEndpointAddress` as an ordering: IP bytes, then target UID (no target first).
pub fn compare_addresses(a: &EndpointAddress, b: &EndpointAddress) -> Ordering {
    a.ip.as_bytes()
        .cmp(b.ip.as_bytes())
        .then_with(|| uid(a).cmp(&uid(b)))
}

/// Addresses seen so far, deduplicated on (IP, UID); values index into `all`.
#[derive(Default)]
struct AddressTable<'a> {
    index: HashMap<(&'a str, Option<&'a str>), usize>,
    all: Vec<&'a EndpointAddress>,
}

impl<'a> AddressTable<'a> {
    fn id(&mut self, address: &'a EndpointAddress) -> usize {
        let key = (address.ip.as_str(), uid(address));
        *self.index.entry(key).or_insert_with(|| {
            self.all.push(address);
            self.all.len() - 1
        })
    }
}

/// The addresses (ids into [`AddressTable`]) offering one port, with their readiness, sorted.
type Members = Vec<(usize, bool)>;

/// `RepackSubsets` followed by `SortSubsets`.
pub fn repack_subsets(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let mut addresses = AddressTable::default();
    // Port → (address id → ready), ports in first-seen order.
    let mut port_index: HashMap<PortKey, usize> = HashMap::new();
    let mut by_port: Vec<(PortKey, HashMap<usize, bool>)> = Vec::new();
    for subset in subsets {
        let ports: Vec<PortKey> = match subset.ports.as_deref() {
            Some(ports) if !ports.is_empty() => ports.iter().map(PortKey::of).collect(),
            _ => vec![PortKey::SENTINEL],
        };
        let listed = subset.addresses.iter().flatten().map(|a| (a, true)).chain(
            subset
                .not_ready_addresses
                .iter()
                .flatten()
                .map(|a| (a, false)),
        );
        let listed: Vec<(usize, bool)> = listed.map(|(a, r)| (addresses.id(a), r)).collect();
        for port in ports {
            let slot = *port_index.entry(port.clone()).or_insert_with(|| {
                by_port.push((port, HashMap::new()));
                by_port.len() - 1
            });
            let set = &mut by_port[slot].1;
            for &(id, ready) in &listed {
                // Not ready always trumps ready.
                let entry = set.entry(id).or_insert(ready);
                *entry = *entry && ready;
            }
        }
    }

    // Group the ports by identical address sets.
    let mut group_index: HashMap<Members, usize> = HashMap::new();
    let mut groups: Vec<(Members, Vec<PortKey>)> = Vec::new();
    for (port, set) in by_port {
        let mut members: Members = set.into_iter().collect();
        members.sort_unstable();
        let slot = *group_index.entry(members.clone()).or_insert_with(|| {
            groups.push((members, Vec::new()));
            groups.len() - 1
        });
        if port.port > 0 {
            groups[slot].1.push(port);
        }
    }

    let mut repacked: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(members, mut ports)| {
            let mut ready: Vec<EndpointAddress> = Vec::new();
            let mut not_ready: Vec<EndpointAddress> = Vec::new();
            for (id, is_ready) in members {
                let address = addresses.all[id].clone();
                if is_ready {
                    ready.push(address);
                } else {
                    not_ready.push(address);
                }
            }
            ready.sort_by(compare_addresses);
            not_ready.sort_by(compare_addresses);
            ports.sort();
            EndpointSubset {
                addresses: non_empty(ready),
                not_ready_addresses: non_empty(not_ready),
                ports: non_empty(ports.iter().map(PortKey::to_port).collect()),
            }
        })
        .collect();
    repacked.sort_by(compare_subsets);
    repacked
}

fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

/// kcm-rs's subset order: by ports, then by first ready and first not-ready address.
fn compare_subsets(a: &EndpointSubset, b: &EndpointSubset) -> Ordering {
    let ports = |s: &EndpointSubset| -> Vec<PortKey> {
        s.ports.iter().flatten().map(PortKey::of).collect()
    };
    let first = |list: &Option<Vec<EndpointAddress>>| -> Option<(String, Option<String>)> {
        list.as_ref()
            .and_then(|l| l.first())
            .map(|a| (a.ip.clone(), uid(a).map(str::to_owned)))
    };
    ports(a)
        .cmp(&ports(b))
        .then_with(|| first(&a.addresses).cmp(&first(&b.addresses)))
        .then_with(|| first(&a.not_ready_addresses).cmp(&first(&b.not_ready_addresses)))
}

#[cfg(test)]
mod tests;
