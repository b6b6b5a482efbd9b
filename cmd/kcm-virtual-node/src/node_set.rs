//! The nodes this process runs, as the pod part sees them: address, pod CIDR and its
//! allocator, pod capacity, and whether the Node still exists.
//!
//! The node part (registration, heartbeats) and the pod part share one [`NodeSet`]; when a
//! Node object is deleted the node part marks it gone here, and the pod part stops acting
//! on its pods (a kubelet whose Node was deleted does not run pods for it either).

use std::{
    collections::{HashMap, HashSet},
    net::Ipv4Addr,
};

use parking_lot::Mutex;

use crate::ipam::{Allocator, Cidr};

/// One node's identity as the pod part needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub internal_ip: Ipv4Addr,
    pub pod_cidr: Cidr,
    /// `status.capacity.pods`; `None` admits any number (test nodes).
    pub max_pods: Option<usize>,
}

#[derive(Debug)]
struct Entry {
    info: NodeInfo,
    allocator: Allocator,
    /// Pods admitted and not yet finished or gone, by key.
    admitted: HashSet<String>,
    present: bool,
}

/// Why a pod was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `status.reason`, e.g. `OutOfpods`.
    pub reason: String,
    pub message: String,
}

/// The nodes of this process.
#[derive(Debug, Default)]
pub struct NodeSet {
    entries: Mutex<HashMap<String, Entry>>,
}

impl NodeSet {
    pub fn new(nodes: impl IntoIterator<Item = NodeInfo>) -> Self {
        let entries = nodes
            .into_iter()
            .map(|info| {
                let entry = Entry {
                    allocator: Allocator::new(info.pod_cidr),
                    admitted: HashSet::new(),
                    present: true,
                    info: info.clone(),
                };
                (info.name, entry)
            })
            .collect();
        Self {
            entries: Mutex::new(entries),
        }
    }

    /// The names of all nodes, present or not, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.entries.lock().keys().cloned().collect();
        names.sort();
        names
    }

    /// Whether `node` is one of ours and its Node object exists.
    pub fn is_present(&self, node: &str) -> bool {
        self.entries.lock().get(node).is_some_and(|e| e.present)
    }

    /// Marks a node's Node object as deleted; returns false if it was not ours or already gone.
    pub fn mark_gone(&self, node: &str) -> bool {
        let mut entries = self.entries.lock();
        match entries.get_mut(node) {
            Some(e) if e.present => {
                e.present = false;
                e.admitted.clear();
                true
            }
            _ => false,
        }
    }

    pub fn host_ip(&self, node: &str) -> Option<Ipv4Addr> {
        self.entries.lock().get(node).map(|e| e.info.internal_ip)
    }

    /// Admits pod `key` to `node` unless the node already runs `max_pods` pods. Admitting a
    /// pod twice is a no-op.
    pub fn admit(&self, node: &str, key: &str) -> Result<(), Rejection> {
        let mut entries = self.entries.lock();
        let Some(e) = entries.get_mut(node) else {
            return Err(Rejection {
                reason: "NodeNotFound".to_owned(),
                message: format!("node {node} is not run by this virtual node"),
            });
        };
        if e.admitted.contains(key) {
            return Ok(());
        }
        if let Some(max) = e.info.max_pods
            && e.admitted.len() >= max
        {
            return Err(Rejection {
                reason: "OutOfpods".to_owned(),
                message: format!(
                    "Node didn't have enough resource: pods, requested: 1, used: {}, capacity: {max}",
                    e.admitted.len()
                ),
            });
        }
        e.admitted.insert(key.to_owned());
        Ok(())
    }

    /// Counts an already running pod (found after a restart) against its node's capacity.
    pub fn readmit(&self, node: &str, key: &str) {
        if let Some(e) = self.entries.lock().get_mut(node) {
            e.admitted.insert(key.to_owned());
        }
    }

    /// A free pod IP on `node`.
    pub fn allocate_ip(&self, node: &str) -> Option<Ipv4Addr> {
        self.entries.lock().get_mut(node)?.allocator.allocate()
    }

    /// Marks `ip` as used on `node` (a pod reported it before a restart).
    pub fn reserve_ip(&self, node: &str, ip: Ipv4Addr) -> bool {
        self.entries
            .lock()
            .get_mut(node)
            .is_some_and(|e| e.allocator.reserve(ip))
    }

    /// Frees what pod `key` held on `node`: its admission and its IP.
    pub fn release(&self, node: &str, key: &str, ip: Option<Ipv4Addr>) {
        if let Some(e) = self.entries.lock().get_mut(node) {
            e.admitted.remove(key);
            if let Some(ip) = ip {
                e.allocator.release(ip);
            }
        }
    }

    /// Returns an address that no pod ended up using.
    pub fn release_ip(&self, node: &str, ip: Ipv4Addr) {
        if let Some(e) = self.entries.lock().get_mut(node) {
            e.allocator.release(ip);
        }
    }

    /// Pods admitted on `node` and not yet released.
    pub fn admitted(&self, node: &str) -> usize {
        self.entries
            .lock()
            .get(node)
            .map_or(0, |e| e.admitted.len())
    }
}

#[cfg(test)]
mod tests;
