//! At most 1000 addresses per Endpoints object (upstream `truncateEndpoints`,
//! `capacityAnnotationSetCorrectly`).
//!
//! Ready addresses are kept first: if there are more than 1000 of them, 1000 survive spread
//! over the subsets in proportion to each subset's ready count and every not-ready address
//! goes; otherwise every ready address stays and the remaining room is shared by the not-ready
//! ones in the same way. Each subset keeps a prefix of its sorted list, so with one subset the
//! survivors are the lowest IP strings. The object then carries
//! `endpoints.kubernetes.io/over-capacity: truncated`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointSubset};

/// `maxCapacity`.
pub const MAX_CAPACITY: usize = 1000;
/// `v1.EndpointsOverCapacity`.
pub const ANNOTATION_OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Its value (`truncated`).
pub const TRUNCATED: &str = "truncated";

fn count(addresses: &Option<Vec<EndpointAddress>>) -> usize {
    addresses.as_ref().map_or(0, Vec::len)
}

/// Ready plus not-ready addresses over all subsets.
pub fn address_count(subsets: &[EndpointSubset]) -> usize {
    subsets
        .iter()
        .map(|s| count(&s.addresses) + count(&s.not_ready_addresses))
        .sum()
}

/// `capacityAnnotationSetCorrectly`: the stored object holds at most 1000 addresses and no
/// over-capacity annotation (an over-capacity Service therefore never passes the no-op check).
pub fn capacity_annotation_set_correctly(
    annotations: Option<&BTreeMap<String, String>>,
    subsets: &[EndpointSubset],
) -> bool {
    address_count(subsets) <= MAX_CAPACITY
        && !annotations.is_some_and(|a| a.contains_key(ANNOTATION_OVER_CAPACITY))
}

/// `truncateEndpoints`: cuts `subsets` down to [`MAX_CAPACITY`] addresses; true if it did.
pub fn truncate_subsets(subsets: &mut [EndpointSubset]) -> bool {
    let total_ready: usize = subsets.iter().map(|s| count(&s.addresses)).sum();
    let total_not_ready: usize = subsets.iter().map(|s| count(&s.not_ready_addresses)).sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut can_be_added = max;
    for subset in subsets.iter_mut() {
        let in_subset = if truncate_ready {
            count(&subset.addresses)
        } else {
            count(&subset.not_ready_addresses)
        };
        // Upstream computes this in float64; the counts are far below 2^52.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let share = ((in_subset as f64 / total as f64) * max as f64).ceil() as usize;
        let to_be_added = share.min(can_be_added);
        if truncate_ready {
            keep_prefix(&mut subset.addresses, to_be_added);
            // Upstream sets an empty list, which is not serialised.
            subset.not_ready_addresses = None;
            can_be_added -= count(&subset.addresses);
        } else {
            keep_prefix(&mut subset.not_ready_addresses, to_be_added);
            can_be_added -= count(&subset.not_ready_addresses);
        }
    }
    true
}

fn keep_prefix(addresses: &mut Option<Vec<EndpointAddress>>, keep: usize) {
    if let Some(list) = addresses {
        list.truncate(keep);
        if list.is_empty() {
            *addresses = None;
        }
    }
}

#[cfg(test)]
mod tests;
