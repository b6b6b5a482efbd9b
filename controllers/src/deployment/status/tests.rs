use super::*;
use crate::deployment::{conditions, testing::*};

#[test]
fn counts_over_old_and_new() {
    // Scenario 6: replicas 10, surge 3, unavailable 2, new pods never ready: old 8, new 5.
    let d = deployment(10, int(3), int(2));
    let old = rs("old", 0, 8, 8);
    let mut new = rs("new", 5, 5, 0);
    if let Some(s) = new.status.as_mut() {
        s.ready_replicas = Some(0);
    }
    let status = calculate_status(&[&old, &new], Some(&new), &d, true, at(100));
    assert_eq!(status.replicas, Some(13));
    assert_eq!(status.updated_replicas, Some(5));
    assert_eq!(status.ready_replicas, Some(8));
    assert_eq!(status.available_replicas, Some(8));
    assert_eq!(status.unavailable_replicas, Some(5));
    assert_eq!(status.terminating_replicas, Some(0));
    assert_eq!(status.observed_generation, Some(1));
    let available = conditions::get(&status, conditions::AVAILABLE)
        .cloned()
        .unwrap_or_default();
    assert_eq!(available.status, "True");
    assert_eq!(
        available.reason.as_deref(),
        Some(conditions::MINIMUM_REPLICAS_AVAILABLE)
    );
}

#[test]
fn unavailable_before_readiness_and_gate_off() {
    let d = deployment(3, pct("25%"), pct("25%"));
    let new = rs("new", 0, 3, 0);
    let status = calculate_status(&[&new], Some(&new), &d, false, at(0));
    assert_eq!(status.unavailable_replicas, Some(3));
    assert_eq!(status.terminating_replicas, None);
    let available = conditions::get(&status, conditions::AVAILABLE)
        .cloned()
        .unwrap_or_default();
    assert_eq!(available.status, "False");
    assert_eq!(
        available.message.as_deref(),
        Some("Deployment does not have minimum availability.")
    );
}

#[test]
fn comparison_ignores_omitted_zeros() {
    let d = deployment(0, int(1), int(0));
    let status = calculate_status(&[], None, &d, true, at(0));
    let mut as_read = status.clone();
    as_read.replicas = None;
    as_read.updated_replicas = None;
    as_read.unavailable_replicas = None;
    as_read.available_replicas = None;
    as_read.ready_replicas = None;
    assert!(same(Some(&as_read), &status));
    let mut other = as_read.clone();
    other.collision_count = Some(1);
    assert!(!same(Some(&other), &status));
}

#[test]
fn completeness() {
    let d = deployment(3, int(1), int(0));
    let new = rs("new", 0, 3, 3);
    let status = calculate_status(&[&new], Some(&new), &d, true, at(0));
    assert!(deployment_complete(&d, &status));
    let old = rs("old", 0, 1, 1);
    let status = calculate_status(&[&old, &new], Some(&new), &d, true, at(0));
    assert!(!deployment_complete(&d, &status));
}
