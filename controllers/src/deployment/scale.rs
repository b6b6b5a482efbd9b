//! Scaling a Deployment that has several active ReplicaSets: the extra (or missing) replicas
//! are spread over them in proportion to their size (upstream sync.go `scale` and util
//! `GetReplicaSetProportion`, `getReplicaSetFraction`).
//!
//! Each ReplicaSet's base is its share of the `max-replicas` annotation it was last scaled
//! for; rounding leftovers go to the first ReplicaSet in the scaling order (the largest, newer
//! first when adding, older first when removing).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::{annotations, fenceposts, replicas, spec};

/// `getReplicaSetFraction`: how many replicas `rs` gains (or loses) when the Deployment goes
/// from the size its `max-replicas` annotation records to `spec.replicas + maxSurge`.
pub fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    let size = replicas::spec_replicas(rs);
    let want = spec::replicas(d);
    if want == 0 {
        return -size;
    }
    let max_now = want + fenceposts::max_surge(d);
    let max_before = match annotations::max_replicas(rs) {
        Some(n) if n != 0 => n,
        _ => {
            let status_replicas = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            if status_replicas == 0 {
                return 0;
            }
            status_replicas
        }
    };
    let scaled = (i64::from(size) * i64::from(max_now)) as f64 / f64::from(max_before);
    scaled.round() as i32 - size
}

/// `GetReplicaSetProportion`: the fraction, capped by what is left to add (or remove).
pub fn replica_set_proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if replicas::spec_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// The proportional part of `scale` for a RollingUpdate Deployment: the new size of each of
/// the `active` ReplicaSets, in the order they are to be written (each is written even when
/// its size stays, to refresh its annotations). Returns `(index into active, new size)`.
pub fn proportional_sizes(d: &Deployment, active: &[&ReplicaSet]) -> Vec<(usize, i32)> {
    let want = spec::replicas(d);
    let allowed = if want > 0 {
        want + fenceposts::max_surge(d)
    } else {
        0
    };
    let to_add = allowed - replicas::sum_spec(active.iter().copied());
    let mut order: Vec<usize> = (0..active.len()).collect();
    if to_add > 0 {
        order.sort_by(|&a, &b| replicas::by_size_newer(active[a], active[b]));
    } else if to_add < 0 {
        order.sort_by(|&a, &b| replicas::by_size_older(active[a], active[b]));
    }
    let mut added = 0;
    let mut sizes: Vec<(usize, i32)> = order
        .iter()
        .map(|&i| {
            let size = replicas::spec_replicas(active[i]);
            if to_add == 0 {
                return (i, size);
            }
            let proportion = replica_set_proportion(active[i], d, to_add, added);
            added += proportion;
            (i, size + proportion)
        })
        .collect();
    if to_add != 0
        && let Some(first) = sizes.first_mut()
    {
        first.1 = (first.1 + to_add - added).max(0);
    }
    sizes
}

#[cfg(test)]
mod tests;
