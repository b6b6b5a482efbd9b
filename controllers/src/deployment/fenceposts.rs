//! Max surge and max unavailable (upstream util `ResolveFenceposts`, `MaxSurge`,
//! `MaxUnavailable`, `MinAvailable` and intstr's `GetScaledValueFromIntOrPercent`).
//!
//! A percentage is taken of `spec.replicas`: surge rounds up, unavailable rounds down. If both
//! resolve to 0 the rollout could never move, so unavailable becomes 1 (the "0/0 fencepost").
//! Both are 0 for a Recreate Deployment.

use k8s_openapi::{api::apps::v1::Deployment, apimachinery::pkg::util::intstr::IntOrString};

use super::spec;

/// An `IntOrString` that is neither an integer nor a percentage.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for IntOrString: {0}")]
pub struct InvalidIntOrPercent(pub String);

/// `GetScaledValueFromIntOrPercent`: an integer as is, `"N%"` of `total` rounded up or down.
pub fn scaled_value(
    value: &IntOrString,
    total: i32,
    round_up: bool,
) -> Result<i32, InvalidIntOrPercent> {
    match value {
        IntOrString::Int(v) => Ok(*v),
        IntOrString::String(s) => {
            let Some(number) = s.strip_suffix('%') else {
                return Err(InvalidIntOrPercent(
                    "invalid type: string is not a percentage".into(),
                ));
            };
            let percent: i64 = number
                .parse()
                .map_err(|e| InvalidIntOrPercent(format!("invalid value {s:?}: {e}")))?;
            let scaled = percent as f64 * f64::from(total) / 100.0;
            let rounded = if round_up {
                scaled.ceil()
            } else {
                scaled.floor()
            };
            Ok(rounded as i32)
        }
    }
}

/// `ResolveFenceposts`: `(surge, unavailable)` for `desired` replicas; a missing value is 0.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), InvalidIntOrPercent> {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(max_surge.unwrap_or(&zero), desired, true)?;
    let unavailable = scaled_value(max_unavailable.unwrap_or(&zero), desired, false)?;
    if surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

/// The fenceposts of a RollingUpdate Deployment; an invalid value counts as 0 as upstream
/// ignores the error there (validation rejects such values).
fn fenceposts(d: &Deployment) -> (i32, i32) {
    let (surge, unavailable) = spec::rolling_params(d);
    resolve_fenceposts(surge, unavailable, spec::replicas(d)).unwrap_or((0, 0))
}

/// `MaxSurge`: 0 unless RollingUpdate.
pub fn max_surge(d: &Deployment) -> i32 {
    if !spec::is_rolling_update(d) {
        return 0;
    }
    fenceposts(d).0
}

/// `MaxUnavailable`: 0 unless RollingUpdate with replicas, and never more than the replicas.
pub fn max_unavailable(d: &Deployment) -> i32 {
    let replicas = spec::replicas(d);
    if !spec::is_rolling_update(d) || replicas == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas)
}

/// `spec.replicas - MaxUnavailable`: the availability threshold of `calculateStatus` and of a
/// rolling update (for Recreate that is every replica; upstream's `MinAvailable` says 0 there
/// but no caller of it is ported).
pub fn min_available(d: &Deployment) -> i32 {
    spec::replicas(d) - max_unavailable(d)
}

#[cfg(test)]
mod tests;
