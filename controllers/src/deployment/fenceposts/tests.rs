use super::*;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};

fn pct(s: &str) -> IntOrString {
    IntOrString::String(s.into())
}

pub(crate) fn rolling(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
    Deployment {
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(surge),
                    max_unavailable: Some(unavailable),
                }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn percentages_round_surge_up_and_unavailable_down() {
    assert_eq!(scaled_value(&pct("25%"), 10, true), Ok(3));
    assert_eq!(scaled_value(&pct("25%"), 10, false), Ok(2));
    assert_eq!(scaled_value(&pct("25%"), 1, true), Ok(1));
    assert_eq!(scaled_value(&pct("25%"), 1, false), Ok(0));
    assert_eq!(scaled_value(&pct("100%"), 7, false), Ok(7));
    assert_eq!(scaled_value(&IntOrString::Int(4), 100, true), Ok(4));
}

#[test]
fn strings_that_are_not_percentages_are_errors() {
    let err = scaled_value(&pct("3"), 10, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value for IntOrString: invalid type: string is not a percentage"
    );
    assert!(scaled_value(&pct("x%"), 10, true).is_err());
}

#[test]
fn zero_zero_fencepost_becomes_one_unavailable() {
    assert_eq!(
        resolve_fenceposts(Some(&pct("0%")), Some(&pct("10%")), 3),
        Ok((0, 1))
    );
    assert_eq!(resolve_fenceposts(None, None, 5), Ok((0, 1)));
    assert_eq!(
        resolve_fenceposts(Some(&IntOrString::Int(3)), Some(&IntOrString::Int(2)), 10),
        Ok((3, 2))
    );
}

#[test]
fn deployment_fenceposts() {
    let d = rolling(10, pct("25%"), pct("25%"));
    assert_eq!(
        (max_surge(&d), max_unavailable(&d), min_available(&d)),
        (3, 2, 8)
    );
    // maxUnavailable is clamped to replicas.
    let d = rolling(2, IntOrString::Int(0), IntOrString::Int(5));
    assert_eq!(max_unavailable(&d), 2);
    // No replicas: nothing may be unavailable.
    let d = rolling(0, pct("25%"), pct("25%"));
    assert_eq!(max_unavailable(&d), 0);
    // Defaults with one replica: surge 1, unavailable 0.
    let d = rolling(1, pct("25%"), pct("25%"));
    assert_eq!((max_surge(&d), max_unavailable(&d)), (1, 0));
    // Fencepost: replicas 3, 0% / 10%.
    let d = rolling(3, pct("0%"), pct("10%"));
    assert_eq!(
        (max_surge(&d), max_unavailable(&d), min_available(&d)),
        (0, 1, 2)
    );
}

#[test]
fn recreate_has_no_surge_or_unavailable() {
    let mut d = rolling(10, pct("25%"), pct("25%"));
    if let Some(s) = d.spec.as_mut().and_then(|s| s.strategy.as_mut()) {
        s.type_ = Some("Recreate".into());
    }
    assert_eq!(
        (max_surge(&d), max_unavailable(&d), min_available(&d)),
        (0, 0, 10)
    );
}
