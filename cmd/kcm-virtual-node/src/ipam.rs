//! Pod IPs: one IPv4 CIDR per node, carved from the cluster's pod CIDR, and a per-node
//! allocator handing out its addresses.
//!
//! Node `i` (0-based) gets the `i`-th subnet of size `--node-cidr-mask-size`, as the
//! kube-controller-manager's node-ipam controller would, and publishes it as `spec.podCIDR`.
//! Addresses are reused once a pod is gone; a restarted virtual node first reserves the IPs its
//! pods already report, so no address is ever handed out twice.

use std::{collections::BTreeSet, fmt, net::Ipv4Addr, str::FromStr};

/// An IPv4 network, `a.b.c.d/len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    base: u32,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{input:?} is not an IPv4 CIDR such as 10.244.0.0/16")]
    Syntax { input: String },
    #[error("{input:?} has host bits set; did you mean {suggestion}?")]
    HostBits { input: String, suggestion: String },
    #[error("cannot give {nodes} nodes a /{mask} each from {cidr}: it holds {available}")]
    TooSmall {
        cidr: String,
        mask: u8,
        nodes: usize,
        available: u64,
    },
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(input: &str) -> Result<Self, CidrError> {
        let syntax = || CidrError::Syntax {
            input: input.to_owned(),
        };
        let (addr, prefix) = input.trim().split_once('/').ok_or_else(syntax)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| syntax())?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(syntax)?;
        let base = u32::from(addr);
        let cidr = Cidr {
            base: base & mask(prefix),
            prefix,
        };
        if cidr.base != base {
            return Err(CidrError::HostBits {
                input: input.to_owned(),
                suggestion: cidr.to_string(),
            });
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl Cidr {
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The number of addresses in the network.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The `index`-th subnet of prefix length `prefix`, one per node.
    pub fn subnets(&self, prefix: u8, count: usize) -> Result<Vec<Cidr>, CidrError> {
        let available = if prefix < self.prefix || prefix > 32 {
            0
        } else {
            1u64 << (prefix - self.prefix)
        };
        if (count as u64) > available {
            return Err(CidrError::TooSmall {
                cidr: self.to_string(),
                mask: prefix,
                nodes: count,
                available,
            });
        }
        let step = 1u64 << (32 - u32::from(prefix));
        Ok((0..count as u64)
            .map(|i| Cidr {
                // Fits: i < available, so base + i * step stays inside the network.
                base: self.base + (i * step) as u32,
                prefix,
            })
            .collect())
    }

    /// The `n`-th address (0 is the network address).
    pub fn nth(&self, n: u64) -> Option<Ipv4Addr> {
        (n < self.size()).then(|| Ipv4Addr::from(self.base + n as u32))
    }

    fn offset_of(&self, ip: Ipv4Addr) -> Option<u64> {
        let ip = u32::from(ip);
        (ip & mask(self.prefix) == self.base).then(|| u64::from(ip - self.base))
    }
}

/// Hands out the usable addresses of one node's CIDR (not the network or broadcast address).
#[derive(Debug)]
pub struct Allocator {
    cidr: Cidr,
    used: BTreeSet<u64>,
    /// Where the search for a free address starts: round robin, so a freed address is not
    /// reused at once (a stale Endpoints entry would point at the new pod).
    cursor: u64,
}

impl Allocator {
    pub fn new(cidr: Cidr) -> Self {
        Self {
            cidr,
            used: BTreeSet::new(),
            cursor: 1,
        }
    }

    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    fn usable(&self) -> std::ops::Range<u64> {
        if self.cidr.size() <= 2 {
            0..self.cidr.size()
        } else {
            1..self.cidr.size() - 1
        }
    }

    /// A free address, or `None` when the CIDR is exhausted.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let usable = self.usable();
        let span = usable.end - usable.start;
        for i in 0..span {
            let candidate = usable.start + (self.cursor - usable.start + i) % span;
            if self.used.insert(candidate) {
                self.cursor = candidate + 1;
                if self.cursor >= usable.end {
                    self.cursor = usable.start;
                }
                return self.cidr.nth(candidate);
            }
        }
        None
    }

    /// Marks an address as taken (it was handed out before a restart). False when it is not
    /// in this node's CIDR.
    pub fn reserve(&mut self, ip: Ipv4Addr) -> bool {
        match self.cidr.offset_of(ip) {
            Some(offset) => {
                self.used.insert(offset);
                true
            }
            None => false,
        }
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(offset) = self.cidr.offset_of(ip) {
            self.used.remove(&offset);
        }
    }

    pub fn in_use(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests;
